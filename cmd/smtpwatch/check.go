package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

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
	timeout                                        time.Duration
	tlsSkipVerify, allowPlaintext                  bool
	onlineTargets, alternatives                    string
	set                                            map[string]bool
}

func (a *app) check(ctx context.Context, args []string) int {
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
		return code
	}
	f.set = map[string]bool{}
	fl.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if f.set["password"] {
		return a.fail("--password is not accepted: a password on the command line ends up in shell history and process lists. Set SMTPWATCH_PASSWORD, or use --password-env VAR or --password-command CMD")
	}
	if f.json {
		f.format = "json"
	}
	if !slices.Contains([]string{"text", "json", "nagios"}, f.format) {
		return a.fail("--format %q: want text, json or nagios", f.format)
	}

	jobs, deps, rerun, err := a.checkJobs(f)
	if err != nil {
		return a.fail("%v", err)
	}
	if len(jobs) == 0 {
		return a.fail("no enabled accounts to check in %s", f.config)
	}
	// Resolve every password first: a missing one is a setup error to fix
	// before any check makes sense.
	var errs []string
	for i := range jobs {
		if jobs[i].password == nil {
			continue
		}
		s, err := jobs[i].password(ctx)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		jobs[i].target.Password = s
	}
	if len(errs) > 0 {
		return a.fail("%s", strings.Join(errs, "\n"))
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

// job is one account to check and how to get its password.
type job struct {
	target   probe.Target
	password func(context.Context) (credential.Secret, error) // nil: no credentials
}

// checkJobs turns the flags into accounts to check, the probe's
// dependencies and the command that reruns a check as JSON.
func (a *app) checkJobs(f checkFlags) ([]job, probe.Deps, func(probe.Result) string, error) {
	deps := probe.Deps{Logger: a.logger}
	var err error
	if deps.Alternatives, err = parseAlternatives(f.alternatives); err != nil {
		return nil, deps, nil, err
	}
	if f.server != "" || f.preset != "" {
		j, err := a.adHoc(f)
		if err != nil {
			return nil, deps, nil, err
		}
		deps.OnlineTargets = parseTargets(f.onlineTargets)
		rerun := func(r probe.Result) string {
			return fmt.Sprintf("smtpwatch check --server %s --security %s --json", hostPort(r.Server, r.Port), r.Security)
		}
		return []job{j}, deps, rerun, nil
	}

	path := f.config
	if path == "" {
		if path, err = config.DefaultPath(); err != nil {
			return nil, deps, nil, err
		}
	}
	cfg, err := config.Load(path)
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
			j.password = acc.Password
		}
		jobs = append(jobs, j)
	}
	configArg := ""
	if f.config != "" {
		configArg = " --config " + f.config
	}
	rerun := func(r probe.Result) string {
		return fmt.Sprintf("smtpwatch check%s --account %s --json", configArg, r.Name)
	}
	return jobs, deps, rerun, nil
}

// adHoc builds the one account that --server and friends describe.
func (a *app) adHoc(f checkFlags) (job, error) {
	t := probe.Target{
		Security: probe.SecurityAuto, Username: f.username, From: f.from, Rcpt: f.rcpt,
		EHLOName: f.ehloName, Timeout: f.timeout, TLSSkipVerify: f.tlsSkipVerify,
		AllowPlaintextAuth: f.allowPlaintext,
	}
	if f.preset != "" {
		p, ok := config.LookupPreset(f.preset)
		if !ok {
			return job{}, fmt.Errorf("--preset %q: unknown preset (see smtpwatch presets)", f.preset)
		}
		t.Server, t.Port, t.Security, t.Provider, t.AppPasswordURL = p.Server, p.Port, p.Security, p.Name, p.AppPasswordURL
		t.Name = p.Key
	}
	if f.server != "" {
		host, port, err := config.ParseServer(f.server)
		if err != nil {
			return job{}, fmt.Errorf("--server: %w", err)
		}
		t.Server, t.Name = host, host
		if port != 0 {
			t.Port = port
		} else if f.preset == "" {
			t.Port = 0
		}
	}
	if f.security != "" {
		sec, err := probe.ParseSecurity(f.security)
		if err != nil {
			return job{}, fmt.Errorf("--security: %w", err)
		}
		t.Security = sec
	}
	if t.Port == 0 {
		t.Port = probe.DefaultPort(t.Security)
		if t.Security == probe.SecurityAuto {
			t.Port = 587
		}
	}
	if (f.from == "") != (f.rcpt == "") {
		return job{}, errors.New("--from and --rcpt go together: the envelope check needs both")
	}
	if f.caFile != "" {
		pool, err := config.LoadCAFile(f.caFile)
		if err != nil {
			return job{}, fmt.Errorf("--ca-file: %w", err)
		}
		t.RootCAs = pool
	}
	j := job{target: t}
	if f.username == "" {
		if f.set["password-env"] || f.set["password-command"] {
			return job{}, errors.New("a password source was given without --username")
		}
		return j, nil
	}
	switch {
	case f.passwordCmd != "":
		cmd := f.passwordCmd
		j.target.CredentialHint = "the output of --password-command"
		j.password = func(ctx context.Context) (credential.Secret, error) {
			return config.RunPasswordCommand(ctx, cmd)
		}
	default:
		v := "SMTPWATCH_PASSWORD"
		if f.passwordEnv != "" {
			v = f.passwordEnv
		}
		j.target.CredentialHint = "the environment variable " + v
		j.password = func(context.Context) (credential.Secret, error) {
			s := a.getenv(v)
			if s == "" {
				return credential.Secret{}, fmt.Errorf("--username %s needs a password: set the environment variable %s (or use --password-env VAR or --password-command CMD)", f.username, v)
			}
			return credential.NewSecret(s), nil
		}
	}
	return j, nil
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
