package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/term"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
)

const passwordUsage = `Usage:
  smtpwatch password set [--config FILE] NAME
        store the password of account NAME in the OS keyring; it asks for
        it without echo in a terminal, or reads one line from a pipe
  smtpwatch password delete NAME
        remove the password of NAME from the OS keyring

NAME is an account (or a /probe [[module]]) of the config file (--config,
or the user config dir's smtpwatch/config.toml) whose password_keyring = true.

Examples:
  smtpwatch password set charter
  printf '%s\n' "$PW" | smtpwatch password set --config ./work.toml work
`

// password stores or removes an account's password in the OS keyring.
func (a *app) password(_ context.Context, args []string) int {
	if len(args) == 0 {
		io.WriteString(a.stderr, passwordUsage)
		return exitUnknown
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		io.WriteString(a.stdout, passwordUsage)
		return exitOK
	case "set":
		return a.passwordSet(args[1:])
	case "delete":
		return a.passwordDelete(args[1:])
	}
	fmt.Fprintf(a.stderr, "smtpwatch password: unknown subcommand %q\n\n%s", args[0], passwordUsage)
	return exitUnknown
}

func (a *app) passwordSet(args []string) int {
	var path string
	fl := a.flags("password set", "password set [--config FILE] NAME")
	fl.StringVar(&path, "config", "", "config `file` that names the account (default: the user config dir's smtpwatch/config.toml)")
	name, code, ok := a.oneName(fl, args)
	if !ok {
		return code
	}
	if path == "" {
		var err error
		if path, err = config.DefaultPath(); err != nil {
			return a.fail("%v", err)
		}
	}
	cfg, err := config.Load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return a.fail("no config file at %s: passwords are stored for the accounts it names. Create it with: smtpwatch init (or name another with --config FILE)", path)
	case err != nil:
		return a.fail("%v", err)
	}
	acct, found := cfg.Account(name)
	if m, ok := cfg.Module(name); !found && ok {
		acct, found = m.Account, true // a [[module]] logs in too
	}
	if !found {
		var known []string
		for _, ac := range cfg.Accounts {
			known = append(known, ac.Name)
		}
		list := "it has none"
		if len(known) > 0 {
			list = "its accounts: " + strings.Join(known, ", ")
		}
		return a.fail("%s has no account named %q (%s); nothing stored", path, name, list)
	}
	if acct.Credential.Source != config.CredentialKeyring {
		fmt.Fprintf(a.stderr, "smtpwatch: warning: account %q does not read its password from the keyring (%s); set password_keyring = true in %s for this password to be used.\n",
			acct.Name, sourceWords(acct.Credential), path)
	}
	if _, ok := credential.SessionBus(); !ok {
		return a.fail("the OS keyring is not available here: there is no D-Bus session bus. Use password_command or password_env for %q in %s instead", acct.Name, path)
	}
	pw, err := a.readPassword(fmt.Sprintf("Password for %s: ", acct.Name))
	if err != nil {
		return a.fail("reading the password: %v", err)
	}
	if pw == "" {
		return a.fail("empty password: nothing stored")
	}
	if err := credential.StoreInKeyring(acct.Name, credential.NewSecret(pw)); err != nil {
		return a.fail("%v", err)
	}
	fmt.Fprintf(a.stdout, "Stored the password of %q in the OS keyring.\n", acct.Name)
	return exitOK
}

func (a *app) passwordDelete(args []string) int {
	fl := a.flags("password delete", "password delete NAME")
	name, code, ok := a.oneName(fl, args)
	if !ok {
		return code
	}
	if err := credential.DeleteFromKeyring(name); err != nil {
		return a.fail("%v", err)
	}
	fmt.Fprintf(a.stdout, "Removed the password of %q from the OS keyring.\n", name)
	return exitOK
}

// oneName parses a subcommand's flags, before or after its one NAME
// argument. false means stop with the status returned: help was asked for
// (printed), or the arguments were wrong (said why).
func (a *app) oneName(fl *flag.FlagSet, args []string) (string, int, bool) {
	pos, code, ok := parseWithArgs(fl, args)
	switch {
	case !ok:
		return "", code, false
	case len(pos) == 0:
		fmt.Fprintf(a.stderr, "smtpwatch %s: the account NAME is missing\nRun \"smtpwatch %s --help\" for its usage.\n", fl.Name(), fl.Name())
		return "", exitUnknown, false
	case len(pos) > 1:
		fmt.Fprintf(a.stderr, "smtpwatch %s: unexpected argument %q: one NAME only\n", fl.Name(), pos[1])
		return "", exitUnknown, false
	}
	return pos[0], 0, true
}

// sourceWords names where an account's password comes from, for people.
func sourceWords(c config.Credential) string {
	switch c.Source {
	case config.CredentialEnv:
		return "it uses password_env = " + fmt.Sprintf("%q", c.Env)
	case config.CredentialCommand:
		return "it uses password_command"
	}
	return "it has no password source"
}

// readPassword reads a line without echo from a terminal, or plainly from a
// pipe (for scripts: printf '%s' "$PW" | smtpwatch password set NAME).
func (a *app) readPassword(prompt string) (string, error) {
	if f, ok := a.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(a.stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(a.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
