package config

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/probe"
)

// CredentialSource says where an account's credential comes from: a
// password, or for auth = "oauth2" an access token.
type CredentialSource string

// The credential sources; CredentialNone means the account has no
// credential (the probe then checks everything but the login).
const (
	CredentialNone    CredentialSource = ""
	CredentialEnv     CredentialSource = "env"     // password_env
	CredentialCommand CredentialSource = "command" // password_command
	CredentialKeyring CredentialSource = "keyring" // password_keyring
	// CredentialOAuth: an OAuth2 sign-in made with `smtpwatch login`, kept
	// in the OS keyring; access tokens are refreshed from it (OAuth says
	// where).
	CredentialOAuth CredentialSource = "oauth2"
	// CredentialTokenCommand: oauth_token_command prints an access token.
	CredentialTokenCommand CredentialSource = "token_command"
)

// IsOAuth reports whether the source gives OAuth2 access tokens rather
// than a password.
func (s CredentialSource) IsOAuth() bool { return s == CredentialOAuth || s == CredentialTokenCommand }

// Credential is an account's credential source: a description, no secret.
// Reading it is the credential package's work (Account.ReadSignIn).
type Credential struct {
	Source  CredentialSource
	Env     string // the variable, for CredentialEnv
	Command string // the shell command, for CredentialCommand and CredentialTokenCommand
	// OAuth is the provider and app of CredentialOAuth (Provider alone
	// for CredentialTokenCommand, when the account names one).
	OAuth OAuth
	// File and Line locate the key that set the source, for messages. File
	// is "" for a source given by command-line flags (Resolve with
	// Origin.Flags).
	File string
	Line int
	// Untrusted says why the file that names this source may not name it,
	// "" when it may: a config file owned by another user (not root, not
	// the user smtpwatch runs as) could make smtpwatch run a command as
	// this user, or send this user's password to a server of the owner's
	// choosing. Password refuses an untrusted source with this reason.
	Untrusted string
}

// CredentialKey is what a credential source is — its kind, what it names
// and whether it may be read — without where the file says it, for
// comparing two loads.
type CredentialKey struct {
	Source    CredentialSource
	Env       string
	Command   string
	Untrusted bool
	OAuth     OAuth
}

// Key is the credential's CredentialKey.
func (c Credential) Key() CredentialKey {
	return CredentialKey{Source: c.Source, Env: c.Env, Command: c.Command, Untrusted: c.Untrusted != "", OAuth: c.OAuth}
}

// KeyringService is the service name smtpwatch's passwords are stored under
// in the OS keyring (credential.KeyringService); the user name is the
// account's name.
const KeyringService = credential.KeyringService

// CommandTimeout bounds a password_command run (credential.CommandTimeout).
const CommandTimeout = credential.CommandTimeout

// Password fetches the account's password from its source: the environment
// variable, the command's standard output (trailing line breaks removed) or
// the OS keyring, through the credential package. With no source it
// returns the zero Secret and nil.
//
// It blocks until the source answers or ctx ends; a command is also killed
// after CommandTimeout. Errors are *Error values that name the file, line
// and key of the source (no file or line for sources given by flags) and
// wrap the credential package's *credential.Error; they never contain the
// password or the command's output (a failed command's error quotes its
// exit status and a few words of its standard error that do not look
// secret). A missing keyring entry wraps credential.ErrNotFound and says
// to run "smtpwatch password set NAME"; no session bus wraps
// credential.ErrNoSessionBus, and no bus daemon is started.
//
// A source named by a file owned by another user (Credential.Untrusted) is
// not read: no command runs, no variable or keyring entry is looked at.
func (a Account) Password(ctx context.Context) (credential.Secret, error) {
	return a.Credential.fetch(ctx, a.Name, passwordKeys(a.Name), func(key, msg string, err error) error {
		return a.credError(key, msg, err)
	})
}

func passwordKeys(name string) secretKeys {
	return secretKeys{env: "password_env", command: "password_command", keyring: "password_keyring", setHint: "smtpwatch password set " + name}
}

// fetch reads a credential source — the environment variable, the
// command's standard output (trailing line breaks removed) or the OS
// keyring entry of keyringUser — through the credential package, as
// Account.Password documents. keys name the source's keys in messages;
// errf makes the *Error. With no source it returns the zero Secret and
// nil. One home for every secret a config names: passwords, alert URLs,
// webhook keys.
func (c Credential) fetch(ctx context.Context, keyringUser string, keys secretKeys, errf func(key, msg string, err error) error) (credential.Secret, error) {
	key := ""
	switch c.Source {
	case CredentialNone:
		return credential.Secret{}, nil
	case CredentialEnv:
		key = keys.env
	case CredentialCommand:
		key = keys.command
	case CredentialKeyring:
		key = keys.keyring
	case CredentialOAuth, CredentialTokenCommand:
		return credential.Secret{}, errf("auth", "this account signs in with OAuth2, not a password", nil)
	}
	if key == "" {
		return credential.Secret{}, errf("", fmt.Sprintf("unknown credential source %q", c.Source), nil)
	}
	if c.Untrusted != "" {
		return credential.Secret{}, errf(key, c.Untrusted, ErrUntrusted)
	}
	var (
		s   credential.Secret
		err error
	)
	switch c.Source {
	case CredentialEnv:
		s, err = credential.FromEnv(c.Env)
	case CredentialCommand:
		s, err = credential.FromCommand(ctx, c.Command)
	case CredentialKeyring:
		s, err = credential.FromKeyring(ctx, keyringUser)
	}
	if err == nil {
		return s, nil
	}
	msg := err.Error()
	switch {
	case errors.Is(err, credential.ErrNotFound), c.Source == CredentialKeyring && errors.Is(err, credential.ErrEmpty):
		msg += "; run: " + keys.setHint
	case errors.Is(err, credential.ErrNoSessionBus):
		msg += "; use " + keys.command + " or " + keys.env + " instead"
	}
	return credential.Secret{}, errf(key, msg, err)
}

// ErrUntrusted is wrapped by Account.Password's error for a source named
// by a config file owned by another user (Credential.Untrusted).
var ErrUntrusted = errors.New("config file not trusted")

func (a Account) credError(key, msg string, err error) *Error {
	c := a.Credential
	if c.File == "" { // from flags: name the flag
		if key != "" {
			key = flagName(key)
		}
		return &Error{Key: key, Msg: msg, Err: err}
	}
	return &Error{File: c.File, Line: c.Line, Account: a.Name, Key: key, Msg: msg, Err: err}
}

// Hint tells a person where to change the password, for advice like
// "re-enter the password (smtpwatch password set charter)".
func (a Account) Hint() string {
	switch a.Credential.Source {
	case CredentialEnv:
		return "the environment variable " + a.Credential.Env
	case CredentialCommand:
		if a.Credential.File == "" {
			return "the output of --password-command"
		}
		return "what password_command prints"
	case CredentialKeyring:
		return "smtpwatch password set " + a.Name
	case CredentialOAuth:
		return "smtpwatch login " + a.Name
	case CredentialTokenCommand:
		if a.Credential.File == "" {
			return "the output of --oauth-token-command"
		}
		return "what oauth_token_command prints"
	}
	return ""
}

// CredentialProblem is the result of a check whose password could not be
// read (err, from Account.Password): the connection and TLS were checked,
// the login was not. A result that was ok or degraded becomes degraded
// with cause no_credentials and err's text; a worse one keeps its verdict
// and gets a no_credentials warning. Both the daemon and `smtpwatch check`
// report an unreadable password this way, and check the account anyway.
func CredentialProblem(res probe.Result, err error) probe.Result {
	what := "The password"
	var ce *Error
	if errors.As(err, &ce) && (strings.Contains(ce.Key, "oauth") || strings.TrimLeft(ce.Key, "-") == "auth") {
		what = "The OAuth2 sign-in"
	}
	msg := what + " could not be read, so sign-in was not checked: " + err.Error()
	if res.Status == probe.StatusOK || res.Status == probe.StatusDegraded {
		res.Status, res.Cause, res.Message = probe.StatusDegraded, probe.CauseNoCredentials, msg
		res.Advice = []string{"Fix the password source named above; smtpwatch reads it again at the next check."}
		return res
	}
	res.Warnings = append(res.Warnings, probe.Finding{Cause: probe.CauseNoCredentials, Message: msg})
	return res
}
