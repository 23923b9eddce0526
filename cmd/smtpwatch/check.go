package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/report"
)

// checkFlags are the flags of `smtpwatch check`.
type checkFlags struct {
	config, format, accounts                       string
	json                                           bool
	server, preset, security, username, from, rcpt string
	caFile, ehloName, passwordEnv, passwordCmd     string
	password                                       string // refused: see below
	auth, oauthProvider, oauthClientID             string
	oauthClientSecret, oauthTenant, oauthScopes    string
	oauthAuthURL, oauthTokenURL, oauthDeviceURL    string
	oauthTokenCmd                                  string
	timeout                                        time.Duration
	tlsSkipVerify, allowPlaintext                  bool
	onlineTargets, alternatives                    string
	set                                            map[string]bool
}

// checkFlags parses the flags of `smtpwatch check`; false means stop with
// the status returned (help was printed, or the flags are wrong and it
// said why).
func (a *app) checkFlags(args []string) (checkFlags, int, bool) {
	var f checkFlags
	fl := a.flags("check", "check [--config FILE] [--account NAME] [--json | --format text|json|nagios]\n       smtpwatch check --server HOST[:PORT] [--security MODE] [--username U] [--from A --rcpt B]")
	fl.StringVar(&f.config, "config", "", "config `file` (default: the user config dir's smtpwatch/config.toml)")
	fl.StringVar(&f.accounts, "account", "", "check only these accounts (`names`, comma-separated)")
	fl.BoolVar(&f.json, "json", false, "print JSON (same as --format json)")
	fl.StringVar(&f.format, "format", "text", "output: text, json or nagios")
	fl.StringVar(&f.server, "server", "", "check this server instead of the config's accounts: `host[:port]`")
	fl.StringVar(&f.preset, "preset", "", "fill server, port and security from a provider preset (see smtpwatch presets)")
	fl.StringVar(&f.security, "security", "", "starttls, tls, none or auto (default auto)")
	fl.StringVar(&f.username, "username", "", "sign in as this `user`; the password comes from $SMTPWATCH_PASSWORD")
	fl.StringVar(&f.passwordEnv, "password-env", "", "read the password from this environment `variable` instead")
	fl.StringVar(&f.passwordCmd, "password-command", "", "read the password from this shell `command`'s output instead")
	fl.StringVar(&f.password, "password", "", "not accepted: passwords on the command line leak into shell history")
	fl.StringVar(&f.auth, "auth", "", "sign in with: password, oauth2 or none (default: as the preset or the flags say)")
	fl.StringVar(&f.oauthTokenCmd, "oauth-token-command", "", "sign in with OAuth2, the access token printed by this shell `command` (a token helper)")
	fl.StringVar(&f.oauthProvider, "oauth-provider", "", "OAuth2 provider: microsoft, google or custom (the sign-in of smtpwatch login for the account)")
	fl.StringVar(&f.oauthClientID, "oauth-client-id", "", "OAuth2 application (client) `id` registered with the provider")
	fl.StringVar(&f.oauthClientSecret, "oauth-client-secret", "", "OAuth2 client `secret` of a Google desktop app (not secret by Google's design)")
	fl.StringVar(&f.oauthTenant, "oauth-tenant", "", "Microsoft tenant: common, organizations, consumers, or a tenant id or domain")
	fl.StringVar(&f.oauthScopes, "oauth-scopes", "", "OAuth2 `scopes`, separated by spaces or commas (default: the provider's for sending)")
	fl.StringVar(&f.oauthAuthURL, "oauth-auth-url", "", "OAuth2 authorization endpoint `URL` (custom provider)")
	fl.StringVar(&f.oauthTokenURL, "oauth-token-url", "", "OAuth2 token endpoint `URL` (custom provider)")
	fl.StringVar(&f.oauthDeviceURL, "oauth-device-url", "", "OAuth2 device authorization endpoint `URL` (custom provider)")
	fl.StringVar(&f.from, "from", "", "envelope sender to try (MAIL FROM, then RSET; nothing is sent)")
	fl.StringVar(&f.rcpt, "rcpt", "", "envelope recipient to try (RCPT TO)")
	fl.StringVar(&f.caFile, "ca-file", "", "trust the CA certificates in this PEM `file` instead of the system's")
	fl.StringVar(&f.ehloName, "ehlo-name", "", "name to send in EHLO (default localhost)")
	fl.DurationVar(&f.timeout, "timeout", probe.DefaultTimeout, "bound on the whole check of one account")
	fl.BoolVar(&f.tlsSkipVerify, "tls-skip-verify", false, "DANGEROUS: do not check the server's certificate")
	fl.BoolVar(&f.allowPlaintext, "allow-plaintext-auth", false, "DANGEROUS: send the password even without encryption")
	fl.StringVar(&f.onlineTargets, "online-targets", "", "`host:port,...` reached to tell \"offline\" from \"server down\"; none disables")
	fl.StringVar(&f.alternatives, "alternatives", "", "`port/mode,...` tried when the configured one fails (default 587/starttls,465/tls,25/starttls,2525/starttls); none disables")
	if code, ok := parse(fl, args); !ok {
		return f, code, false
	}
	f.set = map[string]bool{}
	fl.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if f.set["password"] {
		return f, a.fail("--password is not accepted: a password on the command line ends up in shell history and process lists. Set SMTPWATCH_PASSWORD, or use --password-env VAR or --password-command CMD"), false
	}
	return f, 0, true
}

func (a *app) check(ctx context.Context, args []string) int {
	f, code, ok := a.checkFlags(args)
	if !ok {
		return code
	}
	if f.json {
		f.format = "json"
	}
	if !slices.Contains([]string{"text", "json", "nagios"}, f.format) {
		return a.fail("--format %q: want text, json or nagios", f.format)
	}

	jobs, deps, rerun, err := a.checkJobs(ctx, f)
	if ctx.Err() != nil {
		return a.stopped(ctx)
	}
	if err != nil {
		return a.fail("%v", err)
	}
	if len(jobs) == 0 {
		return a.fail("no enabled accounts to check in %s", f.config)
	}
	// Read every credential first. One that cannot be read does not stop
	// the others: its account is checked without signing in and reported
	// as the daemon reports it (config.CredentialProblem).
	credErrs := make([]error, len(jobs))
	for i := range jobs {
		if jobs[i].signIn == nil {
			continue
		}
		si, err := jobs[i].signIn(ctx)
		if ctx.Err() != nil {
			return a.stopped(ctx)
		}
		if err != nil {
			credErrs[i] = err
			jobs[i].target.SkipAuth = true
			continue
		}
		si.Apply(&jobs[i].target)
	}

	results := make([]probe.Result, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = probe.Probe(ctx, j.target, deps)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return a.stopped(ctx)
	}
	for i, err := range credErrs {
		if err != nil {
			results[i] = config.CredentialProblem(results[i], err)
		}
	}

	switch f.format {
	case "json":
		err = report.JSON(a.stdout, results)
	case "nagios":
		_, err = fmt.Fprintln(a.stdout, report.NagiosLine(results))
	default:
		err = report.Text(a.stdout, results, report.TextOptions{Rerun: rerun})
	}
	if err != nil {
		return a.fail("writing the report: %v", err)
	}
	return report.Worst(results).ExitCode()
}

// stopped reports a check ended by a signal (SIGINT, SIGTERM) and returns
// the "could not check" status.
func (a *app) stopped(ctx context.Context) int {
	return a.fail("stopped: %v", context.Cause(ctx))
}

// job is one account to check and how to read its credential.
type job struct {
	target probe.Target
	signIn func(context.Context) (config.SignIn, error) // nil: no credentials
}

// readSignIn reads acct's credential as the daemon does (config.ReadSignIn),
// its OAuth2 sign-in from the app's grant store.
func (a *app) readSignIn(acct config.Account) func(context.Context) (config.SignIn, error) {
	return func(ctx context.Context) (config.SignIn, error) {
		var ts *credential.TokenSource
		if acct.Credential.Source == config.CredentialOAuth {
			ts = acct.NewTokenSource(a.grants, nil, a.logger)
		}
		return acct.ReadSignIn(ctx, ts)
	}
}

// checkJobs turns the flags into accounts to check, the probe's
// dependencies and the command that reruns a check as JSON. It returns
// early, with ctx's error, when ctx ends while the config file loads.
func (a *app) checkJobs(ctx context.Context, f checkFlags) ([]job, probe.Deps, func(probe.Result) string, error) {
	deps := probe.Deps{Logger: a.logger}
	var err error
	if deps.Alternatives, err = parseAlternatives(f.alternatives); err != nil {
		return nil, deps, nil, err
	}
	if f.server != "" || f.preset != "" {
		acct, err := adHocAccount(f)
		if err != nil {
			return nil, deps, nil, err
		}
		j, err := a.adHocJob(f, acct)
		if err != nil {
			return nil, deps, nil, err
		}
		deps.OnlineTargets = parseTargets(f.onlineTargets)
		rerun := func(probe.Result) string { return rerunCommand(f, "") }
		return []job{j}, deps, rerun, nil
	}

	path := f.config
	if path == "" {
		if path, err = config.DefaultPath(); err != nil {
			return nil, deps, nil, err
		}
	}
	cfg, err := loadConfig(ctx, path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && f.config == "" {
			return nil, deps, nil, fmt.Errorf("no config file at %s.\nCheck a server directly with: smtpwatch check --server HOST[:PORT] (or --preset NAME),\nor create the file with: smtpwatch init", path)
		}
		return nil, deps, nil, err
	}
	deps.OnlineTargets = cfg.OnlineTargets
	if f.set["online-targets"] {
		deps.OnlineTargets = parseTargets(f.onlineTargets)
	}
	var jobs []job
	want := splitList(f.accounts)
	for _, name := range want {
		if _, ok := cfg.Account(name); !ok {
			var known []string
			for _, acc := range cfg.Accounts {
				known = append(known, acc.Name)
			}
			return nil, deps, nil, fmt.Errorf("%s: no account named %q (accounts: %s)", path, name, strings.Join(known, ", "))
		}
	}
	for _, acc := range cfg.Accounts {
		if len(want) > 0 && !slices.ContainsFunc(want, func(n string) bool { return strings.EqualFold(n, acc.Name) }) {
			continue
		}
		if len(want) == 0 && !acc.Enabled {
			continue
		}
		t := acc.Target()
		if f.set["timeout"] {
			t.Timeout = f.timeout
		}
		j := job{target: t}
		if acc.Credential.Source != config.CredentialNone {
			j.signIn = a.readSignIn(acc)
		}
		jobs = append(jobs, j)
	}
	rerun := func(r probe.Result) string { return rerunCommand(f, r.Name) }
	return jobs, deps, rerun, nil
}

// loadConfig is config.Load that gives up when ctx ends (a signal): the
// load itself takes no context, and a file can be slow to read (a FIFO, a
// network file system).
func loadConfig(ctx context.Context, path string) (*config.Config, error) {
	type loaded struct {
		cfg *config.Config
		err error
	}
	ch := make(chan loaded, 1)
	go func() {
		cfg, err := config.Load(path)
		ch <- loaded{cfg, err}
	}()
	select {
	case l := <-ch:
		return l.cfg, l.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// adHocSettings turns the flags that describe an account into its name and
// settings as written, for config.Resolve: the same settings written in a
// config file resolve to the same account.
func adHocSettings(f checkFlags) (string, config.Settings, error) {
	var s config.Settings
	str := func(flag string, v string) *string {
		if f.set[flag] {
			return &v
		}
		return nil
	}
	boolean := func(flag string, v bool) *bool {
		if f.set[flag] {
			return &v
		}
		return nil
	}
	name := ""
	if f.preset != "" {
		s.Preset = &f.preset
		name = strings.ToLower(strings.TrimSpace(f.preset))
	}
	if f.server != "" {
		host, port, err := config.ParseServer(f.server)
		if err != nil {
			return "", s, fmt.Errorf("--server: %w", err)
		}
		s.Server, name = &host, host
		if port != 0 {
			s.Port = &port
		}
	}
	s.Security = str("security", f.security)
	s.Username = str("username", f.username)
	s.PasswordEnv = str("password-env", f.passwordEnv)
	s.PasswordCommand = str("password-command", f.passwordCmd)
	s.From, s.Rcpt = str("from", f.from), str("rcpt", f.rcpt)
	s.CAFile = str("ca-file", f.caFile)
	s.EHLOName = str("ehlo-name", f.ehloName)
	s.TLSSkipVerify = boolean("tls-skip-verify", f.tlsSkipVerify)
	s.AllowPlaintextAuth = boolean("allow-plaintext-auth", f.allowPlaintext)
	s.Auth = str("auth", f.auth)
	s.Provider = str("oauth-provider", f.oauthProvider)
	s.ClientID, s.ClientSecret = str("oauth-client-id", f.oauthClientID), str("oauth-client-secret", f.oauthClientSecret)
	s.Tenant = str("oauth-tenant", f.oauthTenant)
	if f.set["oauth-scopes"] {
		scopes := strings.FieldsFunc(f.oauthScopes, func(r rune) bool { return r == ',' || r == ' ' })
		s.Scopes = &scopes
	}
	s.AuthURL, s.TokenURL = str("oauth-auth-url", f.oauthAuthURL), str("oauth-token-url", f.oauthTokenURL)
	s.DeviceURL = str("oauth-device-url", f.oauthDeviceURL)
	s.TokenCommand = str("oauth-token-command", f.oauthTokenCmd)
	if f.set["timeout"] {
		s.Timeout = &f.timeout
	}
	return name, s, nil
}

// adHocAccount resolves the account that --server, --preset and friends
// describe, as config.Resolve does for a config file's accounts.
func adHocAccount(f checkFlags) (config.Account, error) {
	name, s, err := adHocSettings(f)
	if err != nil {
		return config.Account{}, err
	}
	if s.Username == nil && (s.PasswordEnv != nil || s.PasswordCommand != nil) {
		return config.Account{}, errors.New("a password source was given without --username")
	}
	acct, probs := config.Resolve(name, s, config.Schedule{}, config.Origin{Flags: true})
	if len(probs) > 0 {
		// As in a file: what is missing or does not fit together only when
		// no setting is wrong in itself.
		if slices.ContainsFunc(probs, func(p config.Problem) bool { return !p.Late }) {
			probs = slices.DeleteFunc(probs, func(p config.Problem) bool { return p.Late })
		}
		var msgs []string
		for _, p := range probs {
			key := p.Key
			if key == "port" {
				key = "server"
			}
			msgs = append(msgs, "--"+strings.ReplaceAll(key, "_", "-")+": "+p.Msg)
		}
		return config.Account{}, errors.New(strings.Join(msgs, "\n"))
	}
	return acct, nil
}

// adHocJob is the check of an ad hoc account. A user name without a
// password source takes the password from $SMTPWATCH_PASSWORD or, in a
// terminal, asks for it (without echo), as swaks does.
func (a *app) adHocJob(f checkFlags, acct config.Account) (job, error) {
	j := job{target: acct.Target()}
	if acct.Credential.Source != config.CredentialNone {
		j.signIn = a.readSignIn(acct)
		return j, nil
	}
	if acct.Username == "" || acct.Auth != config.AuthPassword {
		return j, nil
	}
	const envVar = "SMTPWATCH_PASSWORD"
	if v, ok := os.LookupEnv(envVar); ok && v != "" {
		acct.Credential = config.Credential{Source: config.CredentialEnv, Env: envVar}
		j.target.CredentialHint = acct.Hint()
		j.signIn = a.readSignIn(acct)
		return j, nil
	}
	if !a.stdinIsTerminal() {
		return j, fmt.Errorf("--username %s needs a password: set the environment variable %s (or use --password-env VAR or --password-command CMD)", acct.Username, envVar)
	}
	j.target.CredentialHint = "the password you typed"
	j.signIn = func(context.Context) (config.SignIn, error) {
		pw, err := a.readPassword(fmt.Sprintf("Password for %s at %s: ", acct.Username, acct.Server))
		if err != nil {
			return config.SignIn{}, fmt.Errorf("reading the password: %w", err)
		}
		if pw == "" {
			return config.SignIn{}, errors.New("no password typed")
		}
		return config.SignIn{ID: credential.NewSecret(pw)}, nil
	}
	return j, nil
}

// stdinIsTerminal reports whether the standard input is a terminal.
func (a *app) stdinIsTerminal() bool {
	f, ok := a.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// rerunCommand is the "Report for support" command: the check as it ran,
// with every flag that changes what is checked, in JSON. account names the
// config account ("" for an ad hoc check). It never holds a secret: the
// value of --password-command (a command line may hold a password) is left
// out; the user name and the names of variables are kept.
func rerunCommand(f checkFlags, account string) string {
	args := []string{"smtpwatch", "check"}
	add := func(flag, v string) {
		if f.set[flag] {
			args = append(args, "--"+flag, shellWord(v))
		}
	}
	addBool := func(flag string, v bool) {
		if f.set[flag] && v {
			args = append(args, "--"+flag)
		}
	}
	if account != "" {
		add("config", f.config)
		args = append(args, "--account", shellWord(account))
	} else {
		add("preset", f.preset)
		add("server", f.server)
		add("security", f.security)
		add("username", f.username)
		add("password-env", f.passwordEnv)
		add("auth", f.auth)
		add("oauth-provider", f.oauthProvider)
		add("oauth-client-id", f.oauthClientID)
		add("oauth-tenant", f.oauthTenant)
		add("oauth-scopes", f.oauthScopes)
		add("oauth-auth-url", f.oauthAuthURL)
		add("oauth-token-url", f.oauthTokenURL)
		add("oauth-device-url", f.oauthDeviceURL)
		add("ca-file", f.caFile)
		add("ehlo-name", f.ehloName)
		add("from", f.from)
		add("rcpt", f.rcpt)
		addBool("tls-skip-verify", f.tlsSkipVerify)
		addBool("allow-plaintext-auth", f.allowPlaintext)
	}
	if f.set["timeout"] {
		args = append(args, "--timeout", f.timeout.String())
	}
	add("online-targets", f.onlineTargets)
	add("alternatives", f.alternatives)
	return strings.Join(append(args, "--json"), " ")
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-[]", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func hostPort(h string, p int) string {
	if strings.Contains(h, ":") {
		return fmt.Sprintf("[%s]:%d", h, p)
	}
	return h + ":" + strconv.Itoa(p)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseTargets reads --online-targets: nil (defaults) when empty, an empty
// list for "none".
func parseTargets(s string) []string {
	if strings.EqualFold(strings.TrimSpace(s), "none") {
		return []string{}
	}
	return splitList(s)
}

// parseAlternatives reads --alternatives "587/starttls,465/tls".
func parseAlternatives(s string) ([]probe.Alternative, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if strings.EqualFold(strings.TrimSpace(s), "none") {
		return []probe.Alternative{}, nil
	}
	var out []probe.Alternative
	for _, item := range splitList(s) {
		ps, ms, ok := strings.Cut(item, "/")
		port, err := strconv.Atoi(ps)
		if !ok || err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("--alternatives: %q: want PORT/MODE, e.g. 465/tls", item)
		}
		sec, err := probe.ParseSecurity(ms)
		if err != nil || sec == probe.SecurityAuto || sec == probe.SecurityNone {
			return nil, fmt.Errorf("--alternatives: %q: mode must be starttls or tls", item)
		}
		out = append(out, probe.Alternative{Port: port, Security: sec})
	}
	return out, nil
}

// init writes the commented config template, unless a file is there.
func (a *app) init(args []string) int {
	var path string
	fl := a.flags("init", "init [--config FILE]")
	fl.StringVar(&path, "config", "", "where to write (default: the user config dir's smtpwatch/config.toml)")
	if code, ok := parse(fl, args); !ok {
		return code
	}
	if path == "" {
		var err error
		if path, err = config.DefaultPath(); err != nil {
			return a.fail("%v", err)
		}
	}
	created, err := config.WriteTemplate(path)
	if err != nil {
		return a.fail("%v", err)
	}
	if !created {
		fmt.Fprintf(a.stdout, "%s already exists; left as it is.\n", path)
		return exitOK
	}
	fmt.Fprintf(a.stdout, "Wrote %s. Open it, fill in your account, then run: smtpwatch check\n", path)
	return exitOK
}
