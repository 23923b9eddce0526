package credential

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
	"unicode"
)

// CommandTimeout bounds a password command's run.
const CommandTimeout = 10 * time.Second

// maxCommandOutput bounds what a password command may print.
const maxCommandOutput = 64 << 10

// maxStderrWords is how many words of a failed command's standard error an
// error message quotes at most.
const maxStderrWords = 6

// FromCommand runs a shell command (sh -c; cmd /C on Windows) that prints
// a credential on its standard output, as password_command and
// --password-command do, and returns what it printed without trailing line
// breaks. It blocks until the command ends, ctx ends or CommandTimeout
// passes; then the command and everything it started are killed.
//
// Errors are *Error values. For a command that fails they give its exit
// status and at most the first six words of the first line of its standard
// error, stopping before any word that could be a secret (one mixing
// digits or symbols with letters, or a long token): people print passwords
// in error messages and under set -x. The standard output is never quoted.
func FromCommand(ctx context.Context, command string) (Secret, error) {
	v, msg, err := runCommand(ctx, command, "the password")
	if msg != "" {
		return Secret{}, &Error{Msg: msg, Err: err}
	}
	return NewSecret(v), nil
}

// FromTokenCommand runs an OAuth2 token helper (oauth_token_command: oama,
// mutt_oauth2.py, a company script) that prints a fresh access token on
// its standard output, with FromCommand's bounds and its rules for
// errors.
func FromTokenCommand(ctx context.Context, command string) (Secret, error) {
	v, msg, err := runCommand(ctx, command, "the access token")
	if msg != "" {
		return Secret{}, &Error{Msg: msg, Err: err}
	}
	return NewSecret(v), nil
}

// runCommand runs a password or token command; what names what it should
// print ("the password"). On failure it returns a message for a person
// and the underlying error.
func runCommand(parent context.Context, command, what string) (string, string, error) {
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
		if words := stderrWords(stderr.String(), out); words != "" {
			msg += ": " + words
		}
		return "", msg, err
	}
	switch {
	case stdout.overflow:
		return "", fmt.Sprintf("the command printed more than %d bytes; it should print only %s", maxCommandOutput, what), nil
	case out == "":
		return "", "the command printed nothing; it should print " + what, nil
	case strings.ContainsAny(out, "\r\n"):
		// Multi-line output (pass entries with extra fields) would go to the
		// server as a wrong password and could get the account locked.
		msg := "the command printed more than one line; it should print only " + what
		if what == "the password" {
			msg += " (for pass: pass show NAME | head -n 1)"
		}
		return "", msg, nil
	}
	return out, "", nil
}

// exitText describes how a command ended, without its output.
func exitText(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		s := ee.ProcessState.String() // "exit status 1", "signal: killed"
		switch ee.ExitCode() {
		case 126:
			s += " (not executable)"
		case 127:
			s += " (command not found)"
		}
		return s
	}
	var pe *exec.Error
	if errors.As(err, &pe) {
		return "cannot start " + pe.Name + ": " + pe.Err.Error()
	}
	return "cannot run it"
}

// stderrWords returns the first words of the first non-blank line of a
// command's standard error, up to maxStderrWords, stopping before the first
// word that could be a secret or that holds what the command printed on
// its standard output; "..." marks a cut.
func stderrWords(stderr, stdout string) string {
	line, _, _ := strings.Cut(strings.TrimLeft(stderr, " \t\r\n"), "\n")
	fields := strings.Fields(line)
	var kept []string
	for _, w := range fields {
		if len(kept) == maxStderrWords || secretLike(w) || (stdout != "" && (strings.Contains(w, stdout) || strings.Contains(stdout, w) && len(w) > 3)) {
			break
		}
		kept = append(kept, w)
	}
	if len(kept) == 0 {
		return ""
	}
	s := strings.Join(kept, " ")
	if len(kept) < len(fields) {
		s += " ..."
	}
	return s
}

// secretLike reports whether a word of an error message could be a
// password or a token rather than prose: longer than 20 bytes, a number of
// more than three digits, letters mixed with digits or with symbols other
// than the punctuation of sentences (a trailing ':', ',', '.', ';', a
// quote or a bracket around it, a hyphen or apostrophe inside it), or
// letters in mixed case beyond the first.
func secretLike(w string) bool {
	if len(w) > 20 {
		return true
	}
	core := strings.TrimRight(strings.TrimLeft(w, `"'([`), `"'):;,.]`)
	if core == "" {
		return true // only symbols: "+", "=>", "***"
	}
	var letters, digits, upperAfterFirst int
	for i, r := range core {
		switch {
		case unicode.IsLetter(r):
			letters++
			if i > 0 && unicode.IsUpper(r) {
				upperAfterFirst++
			}
		case unicode.IsDigit(r):
			digits++
		case (r == '-' || r == '\'') && i > 0 && i < len(core)-1:
		default:
			return true
		}
	}
	switch {
	case digits > 0 && letters > 0:
		return true
	case digits > 3:
		return true
	case upperAfterFirst > 0 && upperAfterFirst < letters-1:
		return true // "hUnTeR"; "GPG" and "Error" are fine
	}
	return false
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
