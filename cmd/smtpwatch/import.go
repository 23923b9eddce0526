package main

// `smtpwatch import thunderbird [PROFILE_DIR]` and `smtpwatch import msmtp
// [FILE]`: the outgoing servers another mail program uses become accounts
// (monitor/importer). Passwords are never copied from those files; what
// the config already watches is not added again.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/importer"
)

// importSynopsis is each import source's usage line.
var importSynopsis = map[string]string{
	"thunderbird": "import thunderbird [PROFILE_DIR] [--config FILE] [--dry-run]",
	"msmtp":       "import msmtp [FILE] [--config FILE] [--dry-run]",
}

func (a *app) importCmd(ctx context.Context, args []string) int {
	if len(args) == 0 {
		return a.fail("usage: smtpwatch %s\nRun \"smtpwatch import --help\" for what each does.", verbCommands["import"])
	}
	from := args[0]
	synopsis, ok := importSynopsis[from]
	if !ok {
		return a.fail("import: unknown program %q: want thunderbird or msmtp", from)
	}
	var path string
	var dryRun bool
	fl := a.flags("import "+from, synopsis)
	fl.StringVar(&path, "config", "", "config `file` to add the accounts to (default: the user config dir's smtpwatch/config.toml)")
	fl.BoolVar(&dryRun, "dry-run", false, "show what would be added, and write nothing")
	pos, code, ok := parseWithArgs(fl, args[1:])
	if !ok {
		return code
	}
	if len(pos) > 1 {
		return a.fail("import %s: one %s at a time; got %q", from, map[string]string{"thunderbird": "profile", "msmtp": "file"}[from], strings.Join(pos, " "))
	}
	if path == "" {
		var err error
		if path, err = config.DefaultPath(); err != nil {
			return a.fail("%v", err)
		}
	}

	// What the other program has.
	var (
		found  []importer.Account
		notes  []string
		source string
		err    error
	)
	home, _ := os.UserHomeDir()
	switch from {
	case "thunderbird":
		dir := ""
		if len(pos) == 1 {
			dir = pos[0]
		} else if dir, err = importer.DefaultProfile(importer.ThunderbirdRoots(runtime.GOOS, home, a.getenv("APPDATA"))); err != nil {
			return a.fail("%v\nName the profile folder: smtpwatch import thunderbird PROFILE_DIR", err)
		}
		source = "Thunderbird profile " + dir
		found, notes, err = importer.Thunderbird(dir)
	case "msmtp":
		file := ""
		if len(pos) == 1 {
			file = pos[0]
		} else {
			candidates := importer.MsmtpPaths(home, a.getenv("XDG_CONFIG_HOME"))
			for _, c := range candidates {
				if _, err := os.Stat(c); err == nil {
					file = c
					break
				}
			}
			if file == "" {
				return a.fail("no msmtp configuration found (looked for %s): name it: smtpwatch import msmtp FILE", strings.Join(candidates, " and "))
			}
		}
		source = "msmtp configuration " + file
		found, notes, err = importer.Msmtp(file)
	}
	if err != nil {
		return a.fail("%v", err)
	}
	cfg, err := loadConfig(ctx, path)
	switch {
	case ctx.Err() != nil:
		return a.stopped(ctx)
	case errors.Is(err, fs.ErrNotExist):
		cfg = nil
	case err != nil:
		return a.fail("%v\nFix the file first; nothing was imported.", err)
	}

	fmt.Fprintf(a.stdout, "From the %s:\n", source)
	var (
		add       []config.NewAccount
		passwords []string
		signIns   []string
		date      = time.Now().Format("2006-01-02")
	)
	plan := importer.Plan(cfg, found)
	for _, p := range plan {
		switch {
		case p.Skip != "":
			fmt.Fprintf(a.stdout, "  - %s (%s): left out: %s\n", p.Name, p.Origin, p.Skip)
			continue
		case p.Exists != "":
			fmt.Fprintf(a.stdout, "  = %s: already watched as %q\n", p.Server(), p.Exists)
			continue
		}
		s := p.Settings
		if p.OAuth2 {
			user := ""
			if s.Username != nil {
				user = *s.Username
			}
			preset := ""
			if s.Preset != nil {
				preset = *s.Preset
			}
			if !oauthSignIn.Settings(&s, user, preset, p.TokenCommand) {
				fmt.Fprintf(a.stdout, "  - %s (%s, %s): left out: it signs in with OAuth2, which this build cannot set up yet\n", p.Name, p.Server(), p.Origin)
				continue
			}
		}
		acct, err := resolveFlags(p.Name, s)
		if err != nil {
			fmt.Fprintf(a.stdout, "  - %s (%s): left out: %v\n", p.Name, p.Origin, err)
			continue
		}
		fmt.Fprintf(a.stdout, "  + %s: %s as %s; password: %s\n", p.Name, describe(acct),
			orEmpty(acct.Username, acct.Username != "")+orEmpty("(no sign-in)", acct.Username == ""), passwordWords(acct))
		for _, n := range p.Notes {
			fmt.Fprintf(a.stdout, "      note: %s\n", n)
		}
		comment := fmt.Sprintf("Imported by smtpwatch on %s from the %s (%s).", date, source, p.Origin)
		if len(p.Addresses) > 0 {
			comment += "\nSends mail from " + strings.Join(p.Addresses, ", ") + "."
		}
		add = append(add, config.NewAccount{Name: p.Name, Settings: s, Comment: comment})
		switch acct.Credential.Source {
		case config.CredentialKeyring:
			passwords = append(passwords, p.Name)
		case config.CredentialOAuth:
			signIns = append(signIns, p.Name)
		}
	}
	for _, n := range notes {
		fmt.Fprintf(a.stdout, "  (%s)\n", n)
	}
	switch {
	case len(add) == 0:
		fmt.Fprintf(a.stdout, "Nothing new to add to %s.\n", path)
		return exitOK
	case dryRun:
		fmt.Fprintf(a.stdout, "With --dry-run nothing is written; %s would get %d account(s).\n", path, len(add))
		return exitOK
	}
	if _, err := config.AddAccounts(path, add); err != nil {
		return a.fail("%v\nNothing was imported.", err)
	}
	fmt.Fprintf(a.stdout, "Added %d account(s) to %s. Passwords are never copied from other programs' files.\n", len(add), path)
	if len(passwords) > 0 {
		fmt.Fprintln(a.stdout, "Store each password in the OS keyring, then check them:")
		for _, n := range passwords {
			fmt.Fprintf(a.stdout, "  smtpwatch password set %s%s\n", n, orEmpty(" --config "+shellWord(path), path != defaultConfigPath()))
		}
		fmt.Fprintf(a.stdout, "  smtpwatch check%s\n", orEmpty(" --config "+shellWord(path), path != defaultConfigPath()))
	}
	if len(signIns) > 0 {
		fmt.Fprintln(a.stdout, "Sign these in with OAuth2, in a browser:")
		for _, n := range signIns {
			fmt.Fprintf(a.stdout, "  smtpwatch login %s%s\n", n, orEmpty(" --config "+shellWord(path), path != defaultConfigPath()))
		}
	}
	return exitOK
}

// defaultConfigPath is the default config file, "" when unknown.
func defaultConfigPath() string {
	p, _ := config.DefaultPath()
	return p
}
