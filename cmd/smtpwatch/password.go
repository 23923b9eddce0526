package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
)

// password stores or removes an account's password in the OS keyring.
func (a *app) password(_ context.Context, args []string) int {
	if len(args) != 2 || (args[0] != "set" && args[0] != "delete") {
		return a.fail("usage: smtpwatch password set NAME | smtpwatch password delete NAME")
	}
	verb, name := args[0], args[1]
	if verb == "delete" {
		if err := config.DeleteKeyringPassword(name); err != nil {
			return a.fail("%v", err)
		}
		fmt.Fprintf(a.stdout, "Removed the password of %q from the keyring.\n", name)
		return exitOK
	}
	pw, err := a.readPassword(fmt.Sprintf("Password for %s: ", name))
	if err != nil {
		return a.fail("reading the password: %v", err)
	}
	if pw == "" {
		return a.fail("empty password: nothing stored")
	}
	if err := config.SetKeyringPassword(name, credential.NewSecret(pw)); err != nil {
		return a.fail("%v", err)
	}
	fmt.Fprintf(a.stdout, "Stored. Accounts with name = %q and password_keyring = true use it from now on.\n", name)
	return exitOK
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
