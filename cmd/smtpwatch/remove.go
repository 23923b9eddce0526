package main

// `smtpwatch remove NAME`: the account leaves the config file (the rest of
// the file stays as it was, and the old file is kept as FILE.bak), and its
// password leaves the OS keyring. A running daemon stops watching it when
// it reloads the file.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
)

func (a *app) remove(_ context.Context, args []string) int {
	var path string
	var keep bool
	fl := a.flags("remove", "remove NAME [--config FILE] [--keep-password]")
	fl.StringVar(&path, "config", "", "config `file` to remove the account from (default: the user config dir's smtpwatch/config.toml)")
	fl.BoolVar(&keep, "keep-password", false, "leave the account's password in the OS keyring")
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
	acct, _, err := config.RemoveAccount(path, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return a.fail("no config file at %s: nothing to remove (name another with --config FILE)", path)
	case err != nil:
		return a.fail("%v\nNothing was removed.", err)
	}
	fmt.Fprintf(a.stdout, "Removed %q (%s) from %s; the file as it was is kept in %s.\n", acct.Name, describe(acct), path, config.BackupPath(path))
	if keep {
		return exitOK
	}
	if acct.Credential.Source == config.CredentialKeyring {
		if err := credential.DeleteFromKeyring(acct.Name); err != nil {
			fmt.Fprintf(a.stderr, "smtpwatch: warning: %v\n  Its password stays in the OS keyring; remove it later with: smtpwatch password delete %s\n", err, acct.Name)
			return exitDegraded
		}
		fmt.Fprintf(a.stdout, "Removed its password from the OS keyring.\n")
		return exitOK
	}
	// A password stored earlier for this name is removed too, quietly.
	if _, ok := credential.SessionBus(); ok {
		_ = credential.DeleteFromKeyring(acct.Name)
	}
	return exitOK
}
