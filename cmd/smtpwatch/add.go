package main

// `smtpwatch add [EMAIL]`: from an e-mail address to a watched account.
// It finds the outgoing server (monitor/discover, or --server/--preset),
// checks it live with the password, and only then stores the password in
// the OS keyring and appends the account to the config file — each step
// through monitor/onboard, which the dashboard's settings page uses too.
// This file asks and tells in a terminal. A running daemon picks the
// account up by itself; without one, add offers to install it.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/discover"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/human"
	"smtpwatch/monitor/onboard"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/report"
)

// addFlags are the flags of `smtpwatch add`.
type addFlags struct {
	config, name, username, server, security, preset string
	passwordCmd, caFile, socket                      string
	passwordStdin, yes, json, verbose, dryRun        bool
	timeout, discoverTimeout                         time.Duration
	set                                              map[string]bool
}

// addEnv are add's links to the world. The zero value is the real world;
// tests give their own DNS, web, daemon socket and service installer.
type addEnv struct {
	discover discover.Options
	probe    probe.Deps
	// oauth is the OAuth2 sign-in (oauth_seam.go); nil means oauthSignIn.
	oauth oauthSetup
	// service installs and starts the daemon for the config at path
	// (`smtpwatch service install` then `start`); nil means those commands.
	service func(ctx context.Context, a *app, path string) int
	// daemonWait bounds the wait for a running daemon to pick the account
	// up; 0 means 10 s.
	daemonWait time.Duration
}

// The exit statuses of add.
const (
	addAdded      = exitOK       // added, and sign-in verified
	addUnverified = exitDegraded // added, but sign-in is not set up yet (OAuth2)
	addFailed     = exitFailing  // the live check failed: nothing written
)

// addRecord is what --json prints: what was found, tried and written.
type addRecord struct {
	Address   string           `json:"address"`
	Domain    string           `json:"domain,omitempty"`
	Discovery *discover.Result `json:"discovery,omitempty"`
	Checks    []probe.Result   `json:"checks"`
	Account   string           `json:"account,omitempty"`
	Settings  map[string]any   `json:"settings,omitempty"`
	Password  string           `json:"password,omitempty"` // keyring, password_command, none, oauth2
	SignIn    string           `json:"sign_in,omitempty"`
	Config    string           `json:"config"`
	Written   bool             `json:"written"`
	Daemon    string           `json:"daemon,omitempty"` // watching, running, not running
	Error     string           `json:"error,omitempty"`
	Warnings  []string         `json:"warnings,omitempty"`
}

func (a *app) add(ctx context.Context, args []string) int {
	return a.addWith(ctx, args, addEnv{})
}

// adder is one run of `smtpwatch add`.
type adder struct {
	a           *app
	f           addFlags
	env         addEnv
	p           *prompter
	interactive bool
	out         io.Writer // the report and the result: stdout, or stderr with --json
	info        io.Writer // progress and questions: stderr
	path        string
	cfg         *config.Config // nil when the file does not exist yet
	rec         addRecord
}

// choice is a server to try: a discovered candidate or the flags.
type choice = onboard.Server

func (a *app) addWith(ctx context.Context, args []string, env addEnv) int {
	var f addFlags
	fl := a.flags("add", "add [EMAIL] [--name NAME] [--password-stdin | --password-command CMD] [--server HOST[:PORT] [--security MODE] | --preset NAME] [--yes] [--json]")
	fl.StringVar(&f.config, "config", "", "config `file` to add the account to (default: the user config dir's smtpwatch/config.toml)")
	fl.StringVar(&f.name, "name", "", "the account's `name` in the config (default: the provider, like gmail, or the domain)")
	fl.StringVar(&f.username, "username", "", "sign in as this `user` (default: what the provider says, usually the address)")
	fl.BoolVar(&f.passwordStdin, "password-stdin", false, "read the password from the first line of standard input; it goes to the OS keyring")
	fl.StringVar(&f.passwordCmd, "password-command", "", "a shell `command` that prints the password; the config keeps the command, not the password")
	fl.StringVar(&f.server, "server", "", "skip discovery: use this outgoing server, `host[:port]`")
	fl.StringVar(&f.security, "security", "", "with --server or --preset: the `mode`, starttls, tls or auto")
	fl.StringVar(&f.preset, "preset", "", "skip discovery: use a provider preset `name` (see smtpwatch presets)")
	fl.StringVar(&f.caFile, "ca-file", "", "trust the CA certificates in this PEM `file` for the server (a private server)")
	fl.BoolVar(&f.yes, "yes", false, "ask nothing: take the best server found, and add it if the check passes")
	fl.BoolVar(&f.json, "json", false, "print what was found, checked and written as JSON")
	fl.BoolVar(&f.verbose, "verbose", false, "say what every discovery source answered")
	fl.BoolVar(&f.dryRun, "dry-run", false, "find and check, but write nothing and store no password")
	fl.DurationVar(&f.timeout, "timeout", 20*time.Second, "bound on each live check")
	fl.DurationVar(&f.discoverTimeout, "discover-timeout", discover.DefaultTimeout, "bound on the search for the server")
	fl.StringVar(&f.socket, "socket", "", "`path` of the running daemon's API socket (default: smtpwatch.sock in the per-user runtime directory)")
	pos, code, ok := parseWithArgs(fl, args)
	if !ok {
		return code
	}
	f.set = map[string]bool{}
	fl.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if len(pos) > 1 {
		return a.fail("add: one address at a time; got %q", strings.Join(pos, " "))
	}
	if env.oauth == nil {
		env.oauth = oauthSignIn
	}
	if env.daemonWait <= 0 {
		env.daemonWait = 10 * time.Second
	}
	ad := &adder{a: a, f: f, env: env, out: a.stdout, info: a.stderr}
	if f.json {
		ad.out = a.stderr
	}
	ad.p = newPrompter(a.stdin, a.stderr)
	ad.interactive = ad.p.fd >= 0 && !f.passwordStdin && !f.yes
	code = ad.run(ctx, pos)
	if f.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if ad.rec.Checks == nil {
			ad.rec.Checks = []probe.Result{}
		}
		if err := enc.Encode(ad.rec); err != nil {
			return a.fail("writing JSON: %v", err)
		}
	}
	return code
}

// failf reports why add stops; nothing was written.
func (ad *adder) failf(code int, format string, args ...any) int {
	msg := strings.TrimSpace(fmt.Sprintf(format, args...))
	ad.rec.Error = msg
	fmt.Fprintln(ad.a.stderr, "smtpwatch: "+msg)
	return code
}

// stopped reports Ctrl-C or SIGTERM: nothing was written.
func (ad *adder) stopped(ctx context.Context) int {
	return ad.failf(exitUnknown, "stopped (%v): nothing was written", context.Cause(ctx))
}

func (ad *adder) run(ctx context.Context, pos []string) int {
	f := ad.f
	switch {
	case f.passwordStdin && f.passwordCmd != "":
		return ad.failf(exitUnknown, "give --password-stdin or --password-command, not both")
	case f.server != "" && f.preset != "":
		return ad.failf(exitUnknown, "give --server or --preset, not both")
	case f.security != "" && f.server == "" && f.preset == "":
		return ad.failf(exitUnknown, "--security goes with --server or --preset")
	case f.name != "" && !config.ValidName(f.name):
		return ad.failf(exitUnknown, "--name %q: use letters, digits, '.', '_' and '-' (at most 64)", f.name)
	}

	// The config file, as it is now: its accounts' names and servers, and
	// its "am I online" targets for the check.
	ad.path = f.config
	if ad.path == "" {
		p, err := config.DefaultPath()
		if err != nil {
			return ad.failf(exitUnknown, "%v", err)
		}
		ad.path = p
	}
	ad.rec.Config = ad.path
	cfg, err := loadConfig(ctx, ad.path)
	switch {
	case ctx.Err() != nil:
		return ad.stopped(ctx)
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return ad.failf(exitUnknown, "%v\nFix the file first; nothing was added.", err)
	default:
		ad.cfg = cfg
	}
	if f.name != "" && ad.taken(f.name) {
		return ad.failf(exitUnknown, "%s already has an account named %q: choose another --name", ad.path, f.name)
	}

	// The address.
	address := ""
	if len(pos) == 1 {
		address = pos[0]
	}
	var domain string
	for tries := 0; ; tries++ {
		if address == "" && ad.interactive {
			s, err := ad.p.line(ctx, "Your e-mail address", "")
			if err != nil {
				return ad.promptFailed(ctx, err)
			}
			address = s
		}
		if address == "" {
			return ad.failf(exitUnknown, "give the e-mail address: smtpwatch add you@example.com")
		}
		_, d, err := discover.ParseAddress(address)
		if err == nil {
			domain = d
			break
		}
		if !ad.interactive || tries >= 2 {
			return ad.failf(exitUnknown, "%v", err)
		}
		fmt.Fprintln(ad.info, "  "+err.Error())
		address = ""
	}
	address = strings.TrimSpace(address)
	ad.rec.Address, ad.rec.Domain = address, domain

	// The servers to try, best first.
	choices, code, ok := ad.choices(ctx, address)
	if !ok {
		return code
	}
	return ad.tryChoices(ctx, address, domain, choices)
}

// promptFailed reports a question that got no answer.
func (ad *adder) promptFailed(ctx context.Context, err error) int {
	if ctx.Err() != nil {
		return ad.stopped(ctx)
	}
	return ad.failf(exitUnknown, "%v: nothing was written", err)
}

// taken reports whether the config has an account named name.
func (ad *adder) taken(name string) bool { return onboard.Taken(ad.cfg, name) }

// choices are the servers to try: the flags', or discovery's.
func (ad *adder) choices(ctx context.Context, address string) ([]choice, int, bool) {
	f := ad.f
	if f.server != "" || f.preset != "" {
		var s config.Settings
		label := ""
		if f.preset != "" {
			p, ok := config.LookupPreset(f.preset)
			if !ok {
				return nil, ad.failf(exitUnknown, "--preset %q: unknown preset; see smtpwatch presets", f.preset), false
			}
			s.Preset = &p.Key
			label = p.Name
		} else {
			host, port, err := config.ParseServer(f.server)
			if err != nil {
				return nil, ad.failf(exitUnknown, "--server: %v", err), false
			}
			s.Server = &host
			if port != 0 {
				s.Port = &port
			}
		}
		if f.security != "" {
			sec := f.security
			s.Security = &sec
		}
		c := choice{Settings: s, Preset: f.preset, From: "the command line", Label: label}
		if p, ok := config.LookupPreset(f.preset); ok && p.SignInMethod() == config.SignInOAuth2 {
			c.OAuth2 = true
		}
		return []choice{c}, 0, true
	}

	fmt.Fprintf(ad.info, "Looking up the outgoing mail server for %s…\n", address)
	opts := ad.env.discover
	opts.Timeout = f.discoverTimeout
	res, err := discover.Discover(ctx, address, opts)
	if ctx.Err() != nil {
		return nil, ad.stopped(ctx), false
	}
	if err != nil {
		return nil, ad.failf(exitUnknown, "%v", err), false
	}
	ad.rec.Discovery = &res
	for _, o := range res.Outcomes {
		switch {
		case o.Warning != "":
			w := fmt.Sprintf("%s: %s", o.Source, o.Warning)
			ad.rec.Warnings = append(ad.rec.Warnings, w)
			fmt.Fprintln(ad.info, "  warning: "+w)
		case f.verbose:
			fmt.Fprintf(ad.info, "  %-10s %s: found %d%s (%s)\n", o.Source, o.Query, o.Found, orEmpty("; "+o.Note, o.Note != ""), human.Duration(o.Duration))
		}
	}
	if len(res.Candidates) == 0 {
		if ad.interactive {
			fmt.Fprintf(ad.info, "No outgoing server is published for %s. Your provider's help pages name it (\"SMTP server\").\n", res.Domain)
			s, err := ad.p.line(ctx, "Outgoing server (host or host:port)", "")
			if err != nil {
				return nil, ad.promptFailed(ctx, err), false
			}
			host, port, err := config.ParseServer(s)
			if err != nil {
				return nil, ad.failf(exitUnknown, "%v", err), false
			}
			st := choice{Settings: config.Settings{Server: &host}, From: "you"}
			if port != 0 {
				st.Settings.Port = &port
			}
			return []choice{st}, 0, true
		}
		return nil, ad.failf(exitUnknown, "found no outgoing server for %s (is the address right?). Give it with: smtpwatch add %s --server HOST[:PORT] --security starttls|tls",
			res.Domain, shellWord(address)), false
	}
	return onboard.FromResult(res), 0, true
}

// describe is how a resolved account's server reads: "smtp.example.com,
// port 465 (SSL/TLS)".
func describe(acct config.Account) string { return onboard.Describe(acct) }

// tryChoices picks a server (asking when there is a choice), checks it
// live, and on failure offers the next one; a server that works is
// written.
func (ad *adder) tryChoices(ctx context.Context, address, domain string, choices []choice) int {
	// The choice is among the servers of the best source (a provider's
	// document often names 465 and 587); the others stay as fallbacks.
	best := onboard.Choices(choices)
	start := 0
	if best > 1 && ad.interactive {
		fmt.Fprintf(ad.info, "Found these outgoing servers — from %s:\n", choices[0].From)
		for i, c := range choices[:best] {
			fmt.Fprintf(ad.info, "  %d. %s\n", i+1, c.Label)
		}
		k, err := ad.p.choose(ctx, "Use which", best, 1)
		if err != nil {
			return ad.promptFailed(ctx, err)
		}
		start = k
	} else if len(choices) > 0 && choices[0].Label != "" {
		fmt.Fprintf(ad.info, "Found %s — from %s.\n", choices[0].Label, choices[0].From)
	}
	queue := append([]choice{choices[start]}, slices.Delete(slices.Clone(choices), start, start+1)...)

	var (
		secret   credential.Secret
		haveSec  bool
		name     string
		first    *probe.Result
		attempts int
	)
	for len(queue) > 0 && attempts < 8 {
		c := queue[0]
		queue = queue[1:]
		attempts++

		user := ad.f.username
		if user == "" {
			user = c.Username
		}
		if user == "" {
			user = address
		}
		s := c.Settings
		s.Username = &user
		if ad.f.caFile != "" {
			p, err := filepath.Abs(ad.f.caFile)
			if err != nil {
				return ad.failf(exitUnknown, "--ca-file: %v", err)
			}
			s.CAFile = &p
		}
		if name == "" {
			name = ad.f.name
			if name == "" {
				n, err := ad.chooseName(ctx, c, domain)
				if err != nil {
					return ad.promptFailed(ctx, err)
				}
				name = n
			}
		}
		acct, err := resolveFlags(name, s)
		if err != nil {
			return ad.failf(exitUnknown, "%v", err)
		}
		if other := ad.watching(acct); other != "" {
			return ad.failf(exitUnknown, "%s already watches %s at %s as %q: nothing to add", ad.path, acct.Username, acct.Server, other)
		}
		if c.OAuth2 {
			return ad.addOAuth(ctx, name, address, c, s)
		}

		// The password: asked once, kept for the next servers.
		if !haveSec && ad.f.passwordCmd == "" {
			if _, ok := credential.SessionBus(); !ok {
				return ad.failf(exitUnknown, "the OS keyring is not available here (no D-Bus session bus), so the password has nowhere to go.\n"+
					"Give a command that prints it instead: smtpwatch add %s --password-command 'pass show mail/%s'\n"+
					"(or write the account with password_env in %s).", shellWord(address), name, ad.path)
			}
			p, err := ad.readPassword(ctx, c, acct)
			if err != nil {
				if ctx.Err() != nil {
					return ad.stopped(ctx)
				}
				return ad.failf(exitUnknown, "%v", err)
			}
			secret, haveSec = p, true
		}
		if ad.f.passwordCmd != "" {
			cmd := ad.f.passwordCmd
			s.PasswordCommand = &cmd
		} else {
			yes := true
			s.PasswordKeyring = &yes
		}
		acct, err = resolveFlags(name, s)
		if err != nil {
			return ad.failf(exitUnknown, "%v", err)
		}
		if ad.f.passwordCmd != "" && !haveSec {
			p, err := acct.Password(ctx)
			if ctx.Err() != nil {
				return ad.stopped(ctx)
			}
			if err != nil {
				return ad.failf(exitUnknown, "--password-command: %v", err)
			}
			secret, haveSec = p, true
		}

		res := ad.check(ctx, acct, secret, false)
		if ctx.Err() != nil {
			return ad.stopped(ctx)
		}
		if works(res, true) {
			return ad.write(ctx, name, address, c, s, acct, secret, res)
		}
		if first == nil {
			first = &res
		}
		report.Text(ad.out, []probe.Result{res}, report.TextOptions{})
		fmt.Fprintln(ad.out)
		switch {
		case res.Status == probe.StatusOffline:
			return ad.failf(exitUnknown, "this computer is offline: connect, then run smtpwatch add again. Nothing was written.")
		case res.Cause == probe.CauseBasicAuthDisabled:
			fmt.Fprintf(ad.info, "%s accepts only OAuth2 sign-in, not a password.\n", acct.Server)
			c.OAuth2 = true
			return ad.addOAuth(ctx, name, address, c, s)
		case onboard.PasswordRefused(res):
			// The server is right; the password is not. Another server
			// would get the same password: ask again instead.
			if !ad.interactive || ad.f.passwordCmd != "" || attempts >= 3 {
				return ad.failf(addFailed, "the server refused the password: nothing was written. Run smtpwatch add again with the right password%s.",
					orEmpty(" (an app password: "+appPasswordURL(acct)+")", appPasswordURL(acct) != ""))
			}
			p, err := ad.readPassword(ctx, c, acct)
			if err != nil || p.IsZero() {
				if ctx.Err() != nil {
					return ad.stopped(ctx)
				}
				return ad.failf(addFailed, "no password: nothing was written")
			}
			secret = p
			queue = append([]choice{c}, queue...)
			continue
		}
		// Another port or mode that works on this server comes first.
		if next, ok := onboard.FollowUp(c, acct, res); ok {
			queue = append([]choice{next}, queue...)
		}
		if len(queue) == 0 {
			break
		}
		if ad.interactive {
			ok, err := ad.p.yes(ctx, fmt.Sprintf("Try %s instead (from %s)?", queue[0].Label, queue[0].From), true)
			if err != nil {
				return ad.promptFailed(ctx, err)
			}
			if !ok {
				break
			}
		} else {
			fmt.Fprintf(ad.info, "Trying the next server: %s.\n", queue[0].Label)
		}
	}
	msg := "no server worked: nothing was written."
	if first != nil {
		msg += fmt.Sprintf(" What to change is above; to name the server yourself: smtpwatch add %s --server HOST[:PORT] --security starttls|tls", shellWord(address))
	}
	return ad.failf(addFailed, "%s", msg)
}

// resolveFlags resolves settings the way a config file's would.
func resolveFlags(name string, s config.Settings) (config.Account, error) {
	return onboard.Resolve(name, s)
}

// watching names the config's account that already checks the same
// server, port and user, "" when none does.
func (ad *adder) watching(acct config.Account) string { return onboard.Watching(ad.cfg, acct) }

// chooseName suggests a name — the preset's key, else the domain's first
// label — unique in the file, and asks in a terminal.
func (ad *adder) chooseName(ctx context.Context, c choice, domain string) (string, error) {
	name := onboard.SuggestName(ad.cfg, c.Preset, domain)
	if !ad.interactive {
		return name, nil
	}
	for range 5 {
		s, err := ad.p.line(ctx, "Name for this account", name)
		if err != nil {
			return "", err
		}
		switch {
		case !config.ValidName(s):
			fmt.Fprintln(ad.info, "  Use letters, digits, '.', '_' and '-' (at most 64).")
		case ad.taken(s):
			fmt.Fprintf(ad.info, "  %s already has an account named %q.\n", ad.path, s)
		default:
			return s, nil
		}
	}
	return name, nil
}

// appPasswordURL is where the account's provider issues app passwords.
func appPasswordURL(acct config.Account) string {
	if p, ok := config.LookupPreset(acct.Preset); ok {
		return p.AppPasswordURL
	}
	return ""
}

// readPassword gets the password: from standard input (--password-stdin)
// or, in a terminal, asked without echo after saying what kind of
// password the provider wants.
func (ad *adder) readPassword(ctx context.Context, c choice, acct config.Account) (credential.Secret, error) {
	if ad.f.passwordStdin {
		if ad.p.fd >= 0 {
			return credential.Secret{}, errors.New("--password-stdin: standard input is a terminal; pipe the password in, or leave the flag out to be asked")
		}
		s, err := ad.p.in.ReadString('\n')
		s = strings.TrimRight(s, "\r\n")
		if s == "" {
			if err == nil || errors.Is(err, io.EOF) {
				err = errors.New("--password-stdin: standard input holds no password")
			}
			return credential.Secret{}, err
		}
		return credential.NewSecret(s), nil
	}
	if !ad.interactive {
		return credential.Secret{}, errors.New("the password is needed: pipe it in with --password-stdin, or give --password-command CMD")
	}
	if p, ok := config.LookupPreset(acct.Preset); ok && p.SignInMethod() == config.SignInAppPassword {
		fmt.Fprintf(ad.info, "%s wants an app password for mail programs, not your account's password: create one at %s\n", p.Name, p.AppPasswordURL)
	}
	for range 3 {
		s, err := ad.p.secret(ctx, fmt.Sprintf("Password for %s", acct.Username))
		if err != nil {
			return credential.Secret{}, err
		}
		if s != "" {
			return credential.NewSecret(s), nil
		}
		fmt.Fprintln(ad.info, "  The password is empty; type it, or press Ctrl-C to stop.")
	}
	return credential.Secret{}, errors.New("no password typed: nothing was written")
}

// check runs the live check of acct with the password, as `smtpwatch
// check` would; skipAuth checks the connection and encryption only.
func (ad *adder) check(ctx context.Context, acct config.Account, secret credential.Secret, skipAuth bool) probe.Result {
	deps := ad.env.probe
	if deps.Logger == nil {
		deps.Logger = ad.a.logger
	}
	fmt.Fprintf(ad.info, "Checking %s as %s…\n", describe(acct), orEmpty(acct.Username, acct.Username != "")+orEmpty("(no sign-in)", acct.Username == ""))
	res := onboard.Check(ctx, acct, secret, onboard.CheckOptions{Timeout: ad.f.timeout, SkipAuth: skipAuth, Deps: deps, Config: ad.cfg})
	ad.rec.Checks = append(ad.rec.Checks, res)
	return res
}

// works reports whether a check says sending works; withAuth asks that the
// server accepted the password too.
func works(r probe.Result, withAuth bool) bool { return onboard.Works(r, withAuth) }

// settingsJSON is the account's settings for --json.
func settingsJSON(acct config.Account) map[string]any {
	m := map[string]any{"server": acct.Server, "port": acct.Port, "security": acct.Security}
	if acct.Preset != "" {
		m["preset"] = acct.Preset
	}
	if acct.Username != "" {
		m["username"] = acct.Username
	}
	return m
}

// write stores the password in the keyring and appends the account to the
// config — or, with --dry-run, shows what it would write — then says how
// the account will be watched.
func (ad *adder) write(ctx context.Context, name, address string, c choice, s config.Settings, acct config.Account, secret credential.Secret, res probe.Result) int {
	ad.rec.Account, ad.rec.Settings = name, settingsJSON(acct)
	ad.rec.Password = "keyring"
	if s.PasswordCommand != nil {
		ad.rec.Password = "password_command"
	}
	fmt.Fprintf(ad.out, "✓ Sending works: %s accepted the password for %s.\n", acct.Server, acct.Username)
	for _, w := range res.Warnings {
		fmt.Fprintln(ad.out, "  Also: "+w.Message)
	}
	na := config.NewAccount{Name: name, Settings: s, Comment: addComment(address, c)}
	if ad.f.dryRun {
		fmt.Fprintf(ad.out, "\nWith --dry-run nothing is written; %s would get:\n\n%s", ad.path, config.AccountTOML(na))
		return addAdded
	}
	if _, err := onboard.Save(ctx, ad.path, na, secret); err != nil {
		var ke *credential.Error
		switch {
		case ctx.Err() != nil:
			return ad.stopped(ctx)
		case errors.As(err, &ke):
			return ad.failf(exitUnknown, "%v\nNothing was written. Instead of the keyring, give a command that prints the password: --password-command CMD (or write password_env in %s).", err, ad.path)
		}
		return ad.failf(exitUnknown, "%v\nNothing was written.", err)
	}
	ad.rec.Written = true
	where := "the password is in the OS keyring"
	if s.PasswordCommand != nil {
		where = "the password comes from your command"
	}
	fmt.Fprintf(ad.out, "Added %q to %s: %s, as %s; %s.\n", name, ad.path, describe(acct), acct.Username, where)
	ad.daemon(ctx, name)
	return addAdded
}

// addComment is the comment above the account's table.
func addComment(address string, c choice) string { return onboard.Comment(address, c.From, time.Now()) }

// addOAuth adds an account that signs in with OAuth2: the server is
// checked without signing in, the account written, and the sign-in run
// (oauth_seam.go).
func (ad *adder) addOAuth(ctx context.Context, name, address string, c choice, s config.Settings) int {
	user := ""
	if s.Username != nil {
		user = *s.Username
	}
	ws := s
	ws.PasswordKeyring, ws.PasswordCommand = nil, nil
	canWrite := ad.env.oauth.Settings(&ws, user, c.Preset, "")
	if !canWrite {
		// Without OAuth2 keys the account must not try a password: no user.
		ws.Username = nil
	}
	acct, err := resolveFlags(name, ws)
	if err != nil {
		return ad.failf(exitUnknown, "%v", err)
	}
	fmt.Fprintf(ad.info, "%s signs in with OAuth2 (in a browser), not with a password.\n", orEmpty(c.Label, c.Label != "")+orEmpty(describe(acct), c.Label == ""))
	res := ad.check(ctx, acct, credential.Secret{}, true)
	if ctx.Err() != nil {
		return ad.stopped(ctx)
	}
	if !works(res, false) {
		report.Text(ad.out, []probe.Result{res}, report.TextOptions{})
		return ad.failf(addFailed, "the server does not work from here: nothing was written.")
	}
	ad.rec.Account, ad.rec.Settings, ad.rec.Password = name, settingsJSON(acct), "oauth2"
	if user != "" {
		ad.rec.Settings["username"] = user
	}
	fmt.Fprintf(ad.out, "✓ %s answers, with a valid certificate.\n", describe(acct))
	comment := addComment(address, c)
	if !canWrite {
		comment += "\n" + onboard.OAuth2Comment(user, name)
	}
	na := config.NewAccount{Name: name, Settings: ws, Comment: comment}
	if ad.f.dryRun {
		fmt.Fprintf(ad.out, "\nWith --dry-run nothing is written; %s would get:\n\n%s", ad.path, config.AccountTOML(na))
		return addAdded
	}
	if _, err := config.AddAccounts(ad.path, []config.NewAccount{na}); err != nil {
		return ad.failf(exitUnknown, "%v\nNothing was written.", err)
	}
	ad.rec.Written = true
	fmt.Fprintf(ad.out, "Added %q to %s: %s.\n", name, ad.path, describe(acct))
	if !canWrite {
		ad.rec.SignIn = "not set up: no known provider"
		fmt.Fprintln(ad.out, onboard.OAuth2Unknown(name))
		ad.daemon(ctx, name)
		return addUnverified
	}
	err = ad.env.oauth.SignIn(ctx, ad.a, ad.path, name)
	switch {
	case err != nil:
		ad.rec.SignIn = "failed: " + err.Error()
		fmt.Fprintf(ad.out, "The sign-in did not finish: %v\nsign in with: smtpwatch login %s\n", err, name)
		ad.daemon(ctx, name)
		return addUnverified
	}
	ad.rec.SignIn = "done"
	ad.daemon(ctx, name)
	return addAdded
}

// daemon says whether a running daemon now watches the account, and
// offers to start one when none runs.
func (ad *adder) daemon(ctx context.Context, name string) {
	socket, err := resolveSocket(ad.f.socket)
	if err != nil {
		return
	}
	c := api.NewClient(socket)
	defer c.Close()
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err = c.Status(sctx)
	cancel()
	if err == nil {
		ad.rec.Daemon = "running"
		deadline := time.Now().Add(ad.env.daemonWait)
		for time.Now().Before(deadline) && ctx.Err() == nil {
			sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			st, err := c.Status(sctx)
			cancel()
			if err == nil && slices.ContainsFunc(st.Accounts, func(a health.AccountStatus) bool { return strings.EqualFold(a.Name, name) }) {
				ad.rec.Daemon = "watching"
				fmt.Fprintf(ad.out, "The running smtpwatch now watches %q.\n", name)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond): // polling another process, bounded by deadline
			}
		}
		fmt.Fprintf(ad.out, "A smtpwatch daemon runs but has not picked up %q: it may watch another config file than %s.\n", name, ad.path)
		return
	}
	ad.rec.Daemon = "not running"
	if !errors.Is(err, api.ErrNotRunning) {
		fmt.Fprintf(ad.info, "Could not ask the daemon: %v\n", err)
	}
	if ad.interactive && !ad.f.dryRun {
		ok, err := ad.p.yes(ctx, "smtpwatch is not watching in the background yet. Start it now, and at every login?", true)
		if err == nil && ok {
			run := ad.env.service
			if run == nil {
				run = installAndStart
			}
			if run(ctx, ad.a, ad.path) == exitOK {
				ad.rec.Daemon = "started"
			}
			return
		}
	}
	fmt.Fprintf(ad.out, "To watch it in the background: smtpwatch service install%s && smtpwatch service start%s\n",
		orEmpty(" --config "+shellWord(ad.path), ad.f.config != ""), orEmpty(" --config "+shellWord(ad.path), ad.f.config != ""))
}

// installAndStart is `smtpwatch service install` then `service start` for
// the config at path.
func installAndStart(ctx context.Context, a *app, path string) int {
	if code := a.serviceCmd(ctx, []string{"install", "--config", path}); code != exitOK {
		return code
	}
	return a.serviceCmd(ctx, []string{"start", "--config", path})
}

// orEmpty is s when cond holds, else "".
func orEmpty(s string, cond bool) string {
	if cond {
		return s
	}
	return ""
}
