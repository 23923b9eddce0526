package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"smtpwatch/monitor/credential"

	"github.com/zalando/go-keyring"
)

// CredentialSource says where an account's password comes from.
type CredentialSource string

// The credential sources; CredentialNone means the account has no password
// (the probe then checks everything but the login).
const (
	CredentialNone    CredentialSource = ""
	CredentialEnv     CredentialSource = "env"     // password_env
	CredentialCommand CredentialSource = "command" // password_command
	CredentialKeyring CredentialSource = "keyring" // password_keyring
)

// Credential is an account's password source. It holds no secret.
type Credential struct {
	Source  CredentialSource
	Env     string // the variable, for CredentialEnv
	Command string // the shell command, for CredentialCommand
	// File and Line locate the key that set the source, for messages.
	File string
	Line int
}

// CredentialKey is what a credential source is — its kind and what it
// names — without where the file says it, for comparing two loads.
type CredentialKey struct {
	Source  CredentialSource
	Env     string
	Command string
}

// Key is the credential's CredentialKey.
func (c Credential) Key() CredentialKey {
	return CredentialKey{Source: c.Source, Env: c.Env, Command: c.Command}
}

// KeyringService is the service name smtpwatch's passwords are stored under
// in the OS keyring; the user name is the account's name.
const KeyringService = "smtpwatch"

// CommandTimeout bounds a password_command run.
const CommandTimeout = 10 * time.Second

// maxCommandOutput bounds what a password command may print.
const maxCommandOutput = 64 << 10

// Password fetches the account's password from its source: the environment
// variable, the command's standard output (trailing line breaks removed) or
// the OS keyring. With no source it returns the zero Secret and nil.
//
// It blocks until the source answers or ctx ends; a command is also killed
// after CommandTimeout. Errors are *Error values that name the file, line
// and key of the source and never contain the password or the command's
// output; a command's error may quote the first line of its standard error.
// A missing keyring entry wraps keyring.ErrNotFound and says to run
// "smtpwatch password set NAME".
//
// On Linux the keyring is the Secret Service on the D-Bus session bus; with
// no session bus address set, godbus may try to start one.
func (a Account) Password(ctx context.Context) (credential.Secret, error) {
	c := a.Credential
	fail := func(key, msg string, err error) (credential.Secret, error) {
		return credential.Secret{}, &Error{File: c.File, Line: c.Line, Account: a.Name, Key: key, Msg: msg, Err: err}
	}
	switch c.Source {
	case CredentialNone:
		return credential.Secret{}, nil
	case CredentialEnv:
		v, ok := os.LookupEnv(c.Env)
		switch {
		case !ok:
			return fail("password_env", fmt.Sprintf("environment variable %s is not set", c.Env), nil)
		case v == "":
			return fail("password_env", fmt.Sprintf("environment variable %s is empty", c.Env), nil)
		}
		return credential.NewSecret(v), nil
	case CredentialCommand:
		v, msg, err := runCommand(ctx, c.Command)
		if msg != "" {
			return fail("password_command", msg, err)
		}
		return credential.NewSecret(v), nil
	case CredentialKeyring:
		v, err := keyringGet(ctx, a.Name)
		switch {
		case errors.Is(err, keyring.ErrNotFound):
			return fail("password_keyring", fmt.Sprintf("no password stored in the OS keyring for %q; run: smtpwatch password set %s", a.Name, a.Name), err)
		case err != nil && ctx.Err() != nil:
			return fail("password_keyring", "the OS keyring did not answer: "+ctx.Err().Error(), ctx.Err())
		case err != nil:
			return fail("password_keyring", "cannot read the OS keyring: "+err.Error(), err)
		case v == "":
			return fail("password_keyring", fmt.Sprintf("the OS keyring holds an empty password for %q; run: smtpwatch password set %s", a.Name, a.Name), nil)
		}
		return credential.NewSecret(v), nil
	}
	return fail("", fmt.Sprintf("unknown credential source %q", c.Source), nil)
}

// keyringGet reads the keyring without outliving ctx: go-keyring takes no
// context, so a hung keyring leaves one goroutine behind until it answers.
func keyringGet(ctx context.Context, name string) (string, error) {
	type answer struct {
		v   string
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		v, err := keyring.Get(KeyringService, name)
		ch <- answer{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// SetKeyringPassword stores an account's password in the OS keyring,
// replacing any stored before. name is the account's name as the config
// file spells it. It blocks until the keyring answers.
func SetKeyringPassword(name string, s credential.Secret) error {
	if name == "" {
		return errors.New("set keyring password: empty account name")
	}
	if s.IsZero() {
		return errors.New("set keyring password: empty password")
	}
	if err := keyring.Set(KeyringService, name, s.Reveal()); err != nil {
		return fmt.Errorf("set keyring password for %q: %w", name, err)
	}
	return nil
}

// DeleteKeyringPassword removes an account's password from the OS keyring.
// A missing entry is not an error.
func DeleteKeyringPassword(name string) error {
	err := keyring.Delete(KeyringService, name)
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("delete keyring password for %q: %w", name, err)
	}
	return nil
}

// RunPasswordCommand runs a shell command that prints a password, as
// password_command does, for --password-command. Errors never contain the
// command's output.
func RunPasswordCommand(ctx context.Context, command string) (credential.Secret, error) {
	v, msg, err := runCommand(ctx, command)
	switch {
	case msg != "" && err != nil:
		return credential.Secret{}, fmt.Errorf("password command: %s: %w", msg, err)
	case msg != "":
		return credential.Secret{}, errors.New("password command: " + msg)
	}
	return credential.NewSecret(v), nil
}

// Hint tells a person where to change the password, for advice like
// "re-enter the password (smtpwatch password set charter)".
func (a Account) Hint() string {
	switch a.Credential.Source {
	case CredentialEnv:
		return "the environment variable " + a.Credential.Env
	case CredentialCommand:
		return "what password_command prints"
	case CredentialKeyring:
		return "smtpwatch password set " + a.Name
	}
	return ""
}

// runCommand runs a password command. On failure it returns a message for
// a person (never containing stdout) and the underlying error.
func runCommand(parent context.Context, command string) (string, string, error) {
	ctx, cancel := context.WithTimeout(parent, CommandTimeout)
	defer cancel()
	cmd := shellCommand(ctx, command)
	var stdout, stderr limitedBuffer
	stdout.max, stderr.max = maxCommandOutput, 4<<10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = nil
	// If the shell's children keep the pipes open after it is killed, stop
	// waiting for them.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	out := strings.TrimRight(stdout.String(), "\r\n")
	switch {
	case parent.Err() != nil:
		return "", "the command was stopped: " + parent.Err().Error(), parent.Err()
	case ctx.Err() != nil:
		return "", "the command did not finish within " + CommandTimeout.String(), ctx.Err()
	}
	if err != nil {
		msg := "the command failed: " + exitText(err)
		if line := firstLine(stderr.String(), out); line != "" {
			msg += ": " + line
		}
		return "", msg, err
	}
	switch {
	case stdout.overflow:
		return "", fmt.Sprintf("the command printed more than %d bytes; it should print only the password", maxCommandOutput), nil
	case out == "":
		return "", "the command printed nothing; it should print the password", nil
	case strings.ContainsAny(out, "\r\n"):
		// Multi-line output (pass entries with extra fields) would go to the
		// server as a wrong password and could get the account locked.
		return "", "the command printed more than one line; it should print only the password (for pass: pass show NAME | head -n 1)", nil
	}
	return out, "", nil
}

// exitText describes how a command ended, without its output.
func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ProcessState.String() // "exit status 1", "signal: killed"
	}
	return err.Error()
}

// firstLine returns the first non-blank line of a command's stderr, cut to
// 200 bytes, or "" when it would reveal the password the command printed.
func firstLine(stderr, stdout string) string {
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if stdout != "" && strings.Contains(l, stdout) {
			return ""
		}
		if len(l) > 200 {
			l = l[:200] + "..."
		}
		return strings.ToValidUTF8(l, "?")
	}
	return ""
}

// limitedBuffer keeps the first max bytes written and notes the rest. It
// must not embed bytes.Buffer: io.Copy would use the embedded ReadFrom and
// bypass the limit.
type limitedBuffer struct {
	buf      bytes.Buffer
	max      int
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room < len(p) {
		b.overflow = true
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *limitedBuffer) String() string { return b.buf.String() }
