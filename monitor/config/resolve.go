package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"smtpwatch/monitor/probe"
)

// Settings is one account's settings as a person writes them — the keys
// of an [[account]] table, or the flags of `smtpwatch check` — before
// Resolve checks them and applies the preset and the defaults. A nil field
// was not given; a given field is checked even when empty.
type Settings struct {
	Preset          *string // a preset key, any case
	Server          *string // host name or IP address, without a port
	Port            *int
	Security        *string // as probe.ParseSecurity reads it
	Username        *string
	PasswordEnv     *string
	PasswordCommand *string
	PasswordKeyring *bool
	From, Rcpt      *string
	CAFile          *string // relative to Origin.Dir
	EHLOName        *string

	TLSSkipVerify      *bool
	AllowPlaintextAuth *bool
	Enabled            *bool

	OAuthSettings
	Schedule
}

// Schedule is the part of an account's settings that [defaults] may set
// for every account.
type Schedule struct {
	Interval, AuthInterval, Timeout, SlowThreshold   *time.Duration
	CertWarnDays, FailureThreshold, SuccessThreshold *int
}

// Origin says where settings were written, for relative paths and for
// Resolve's messages.
type Origin struct {
	// File is the config file; "" for command-line flags.
	File string
	// Dir is the base of relative paths; "" is the working directory.
	Dir string
	// Flags makes messages name settings as flags ("--ca-file") instead of
	// keys ("ca_file").
	Flags bool
	// NoServer says that the server comes later (a [[module]]: the
	// request names it), so none is missing.
	NoServer bool
	// Line returns the line of a key in the file, and of the account's
	// table for ""; nil when there are no lines. Keys that were not given
	// fall back to the table's line.
	Line func(key string) int
}

func (o Origin) name(key string) string {
	if o.Flags {
		return flagName(key)
	}
	return key
}

func (o Origin) line(key string) int {
	if o.Line == nil {
		return 0
	}
	return o.Line(key)
}

// flagName is the `smtpwatch check` flag of a setting: "--ca-file" for
// ca_file.
func flagName(key string) string { return "--" + strings.ReplaceAll(key, "_", "-") }

// Problem is one thing wrong with an account's settings.
type Problem struct {
	// Key is the setting as a config file names it ("ca_file"); the caller
	// shows it as Origin says.
	Key string
	// Msg says what is wrong, for people; it names other settings as
	// Origin says and never quotes a password.
	Msg string
	// Late marks a missing setting or settings that do not fit together:
	// worth reporting only when no setting has a bad value, since a
	// misspelt or invalid key often causes them ("sever" leaves server
	// missing).
	Late bool
}

// Resolve is the one place where an account's settings as written become
// the account smtpwatch checks: the config decoder and `smtpwatch check
// --server/--preset...` both use it, so that the same settings give the
// same Account however they were written.
//
// It checks every setting given in s, then fills in what s leaves out:
// server, security and port from the preset (a security that is the
// preset's other mode takes the preset's other port: gmail with tls is
// 465), else auto security and the mode's usual port; the schedule from
// defaults, then the built-in defaults; Provider from the preset's name
// when the account is named after its preset. It reads the CA file.
//
// name is the account's name, checked by the caller. The problems come in
// no particular order; the Account is meaningful only when there are
// none. Credential.File and Line, and the Account's File and Line, come
// from o. Resolve neither reads nor runs the credential source.
func Resolve(name string, s Settings, defaults Schedule, o Origin) (Account, []Problem) {
	var probs []Problem
	bad := func(key, format string, args ...any) {
		probs = append(probs, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	late := func(key, format string, args ...any) {
		probs = append(probs, Problem{Key: key, Msg: fmt.Sprintf(format, args...), Late: true})
	}
	a := Account{Name: name, File: o.File, Line: o.line(""), Enabled: true}

	var preset Preset
	hasPreset := false
	if s.Preset != nil {
		p := *s.Preset
		if preset, hasPreset = LookupPreset(p); !hasPreset {
			if c := suggest(p, presetKeys()); c != "" {
				bad("preset", "unknown preset %q; did you mean %q?", p, c)
			} else {
				bad("preset", "unknown preset %q: want one of %s", p, strings.Join(presetKeys(), ", "))
			}
		} else {
			a.Preset = preset.Key
		}
	}
	if s.Server != nil {
		x := *s.Server
		host, port, err := ParseServer(x)
		switch {
		case err != nil:
			bad("server", "%v", err)
		case port != 0:
			bad("server", "%q includes a port: write %s and %s", x, o.setting("server", host), o.setting("port", port))
		default:
			a.Server = host
		}
	}
	hasPort := false
	if s.Port != nil {
		if msg := intRange(*s.Port, 1, 65535); msg != "" {
			bad("port", "%s", msg)
		} else {
			a.Port, hasPort = *s.Port, true
		}
	}
	var security probe.Security
	hasSec := false
	if s.Security != nil {
		sec, err := probe.ParseSecurity(*s.Security)
		if err != nil {
			bad("security", "%v", err)
		} else {
			security, hasSec = sec, true
		}
	}
	if s.Username != nil {
		if strings.IndexFunc(*s.Username, unicode.IsControl) >= 0 {
			bad("username", "contains a control character (a line break?)")
		} else {
			a.Username = *s.Username
		}
	}
	var credKeys []string
	if s.PasswordEnv != nil {
		x := *s.PasswordEnv
		if x == "" || strings.ContainsAny(x, "=\x00") || strings.IndexFunc(x, unicode.IsSpace) >= 0 {
			bad("password_env", `want the name of the environment variable that holds the password, like "CHARTER_PASSWORD"`)
		} else {
			a.Credential.Env = x
			credKeys = append(credKeys, "password_env")
		}
	}
	if s.PasswordCommand != nil {
		if strings.TrimSpace(*s.PasswordCommand) == "" {
			bad("password_command", "empty command")
		} else {
			a.Credential.Command = *s.PasswordCommand
			credKeys = append(credKeys, "password_command")
		}
	}
	if s.PasswordKeyring != nil && *s.PasswordKeyring {
		credKeys = append(credKeys, "password_keyring")
	}
	for _, f := range []struct {
		key string
		v   *string
		to  *string
	}{{"from", s.From, &a.From}, {"rcpt", s.Rcpt, &a.Rcpt}} {
		if f.v == nil {
			continue
		}
		if err := checkAddress(*f.v, o); err != nil {
			bad(f.key, "%v", err)
		} else {
			*f.to = *f.v
		}
	}
	if s.EHLOName != nil {
		x := *s.EHLOName
		if x == "" || strings.IndexFunc(x, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
			bad("ehlo_name", "invalid name %q: want a host name without spaces, like \"laptop.example.org\"", x)
		} else {
			a.EHLOName = x
		}
	}
	for _, f := range []struct {
		v  *bool
		to *bool
	}{{s.TLSSkipVerify, &a.TLSSkipVerify}, {s.AllowPlaintextAuth, &a.AllowPlaintextAuth}, {s.Enabled, &a.Enabled}} {
		if f.v != nil {
			*f.to = *f.v
		}
	}
	probs = append(probs, s.Schedule.Check()...)
	sc := s.Schedule.over(defaults)
	a.Interval, a.AuthInterval, a.Timeout = *sc.Interval, *sc.AuthInterval, *sc.Timeout
	a.SlowThreshold, a.CertWarnDays = *sc.SlowThreshold, *sc.CertWarnDays
	a.FailureThreshold, a.SuccessThreshold = *sc.FailureThreshold, *sc.SuccessThreshold

	// Server, security and port: the account's own, else the preset's.
	switch {
	case a.Server != "":
	case hasPreset:
		a.Server = preset.Server
	case s.Server == nil && s.Preset == nil && !o.NoServer:
		late("server", `missing: set %s, or a preset (%s)`, o.setting("server", "smtp.example.com"), strings.Join(presetKeys(), ", "))
	}
	switch {
	case hasSec:
		a.Security = security
	case hasPreset:
		a.Security = preset.Security
	default:
		a.Security = probe.SecurityAuto
	}
	switch {
	case hasPort:
	case hasPreset && (a.Security == preset.Security || a.Security == probe.SecurityAuto):
		a.Port = preset.Port
	case hasPreset && a.Security == preset.Alternative.Security && preset.Alternative.Port != 0:
		a.Port = preset.Alternative.Port
	default:
		a.Port = probe.DefaultPort(a.Security)
	}
	a.Provider = a.Name
	if hasPreset && strings.EqualFold(a.Name, preset.Key) {
		a.Provider = preset.Name
	}

	// Credentials: one source at most, and only with a user name.
	slices.SortStableFunc(credKeys, func(x, y string) int { return o.line(x) - o.line(y) })
	switch {
	case len(credKeys) > 1:
		where := ""
		if ln := o.line(credKeys[0]); ln > 0 {
			where = fmt.Sprintf(" (line %d)", ln)
		}
		late(credKeys[1], "only one password source may be set, but %s is also set%s", o.name(credKeys[0]), where)
	case len(credKeys) == 1:
		key := credKeys[0]
		a.Credential.File, a.Credential.Line = o.File, o.line(key)
		switch key {
		case "password_env":
			a.Credential.Source = CredentialEnv
		case "password_command":
			a.Credential.Source = CredentialCommand
		case "password_keyring":
			a.Credential.Source = CredentialKeyring
		}
		if a.Username == "" {
			late(key, "set %s too: the password is only used to log in with a user name", o.name("username"))
		}
	}
	if a.Credential.Source != CredentialEnv {
		a.Credential.Env = ""
	}
	if a.Credential.Source != CredentialCommand {
		a.Credential.Command = ""
	}
	probs = append(probs, resolveSignIn(&a, s, preset, hasPreset, credKeys, o)...)

	// The envelope check needs both addresses.
	switch {
	case s.From != nil && s.Rcpt == nil:
		late("from", "set %s too: the envelope check needs both %s and %s", o.name("rcpt"), o.name("from"), o.name("rcpt"))
	case s.Rcpt != nil && s.From == nil:
		late("rcpt", "set %s too: the envelope check needs both %s and %s", o.name("from"), o.name("from"), o.name("rcpt"))
	}

	if s.CAFile != nil {
		if *s.CAFile == "" {
			what := "key"
			if o.Flags {
				what = "flag"
			}
			bad("ca_file", "empty; leave the %s out to use the system's certificate authorities", what)
		} else {
			p := *s.CAFile
			if o.Dir != "" && !filepath.IsAbs(p) {
				p = filepath.Join(o.Dir, p)
			}
			pool, digest, err := ReadCAFile(p)
			if err != nil {
				bad("ca_file", "%v", err)
			} else {
				a.CAFile, a.RootCAs, a.CADigest = p, pool, digest
			}
		}
	}
	return a, probs
}

// setting shows a setting with a value as a person would write it: server
// = "x" in a file, --server x on a command line.
func (o Origin) setting(key string, v any) string {
	if o.Flags {
		return fmt.Sprintf("%s %v", flagName(key), v)
	}
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%s = %q", key, s)
	}
	return fmt.Sprintf("%s = %v", key, v)
}

// Check checks the schedule settings that are given: each problem names
// its key ("interval").
func (sc Schedule) Check() []Problem {
	var probs []Problem
	dur := func(key string, d *time.Duration, lo time.Duration) {
		if d != nil && (*d < lo || *d <= 0) {
			probs = append(probs, Problem{Key: key, Msg: fmt.Sprintf("%s is too short: want at least %s", shortDuration(*d), shortDuration(lo))})
		}
	}
	num := func(key string, n *int, lo, hi int) {
		if n != nil {
			if msg := intRange(*n, lo, hi); msg != "" {
				probs = append(probs, Problem{Key: key, Msg: msg})
			}
		}
	}
	dur("interval", sc.Interval, MinInterval)
	dur("auth_interval", sc.AuthInterval, MinAuthInterval)
	dur("timeout", sc.Timeout, time.Second)
	dur("slow_threshold", sc.SlowThreshold, time.Millisecond)
	num("cert_warn_days", sc.CertWarnDays, 1, 3650)
	num("failure_threshold", sc.FailureThreshold, 0, 100)
	num("success_threshold", sc.SuccessThreshold, 1, 100)
	return probs
}

// over is sc with the fields it leaves out taken from d, then from the
// built-in defaults; every field of the result is set.
func (sc Schedule) over(d Schedule) Schedule {
	pick := func(vs ...*time.Duration) *time.Duration {
		for _, v := range vs {
			if v != nil {
				return v
			}
		}
		return nil
	}
	pickN := func(vs ...*int) *int {
		for _, v := range vs {
			if v != nil {
				return v
			}
		}
		return nil
	}
	b := builtinSchedule()
	return Schedule{
		Interval:         pick(sc.Interval, d.Interval, b.Interval),
		AuthInterval:     pick(sc.AuthInterval, d.AuthInterval, b.AuthInterval),
		Timeout:          pick(sc.Timeout, d.Timeout, b.Timeout),
		SlowThreshold:    pick(sc.SlowThreshold, d.SlowThreshold, b.SlowThreshold),
		CertWarnDays:     pickN(sc.CertWarnDays, d.CertWarnDays, b.CertWarnDays),
		FailureThreshold: pickN(sc.FailureThreshold, d.FailureThreshold, b.FailureThreshold),
		SuccessThreshold: pickN(sc.SuccessThreshold, d.SuccessThreshold, b.SuccessThreshold),
	}
}

func builtinSchedule() Schedule {
	return Schedule{
		Interval: ptr(DefaultInterval), AuthInterval: ptr(DefaultAuthInterval), Timeout: ptr(DefaultTimeout),
		SlowThreshold: ptr(DefaultSlowThreshold), CertWarnDays: ptr(DefaultCertWarnDays),
		FailureThreshold: ptr(DefaultFailureThreshold), SuccessThreshold: ptr(DefaultSuccessThreshold),
	}
}

func ptr[T any](v T) *T { return &v }

// intRange says what is wrong with n outside lo..hi, "" when it is inside.
func intRange(n, lo, hi int) string {
	switch {
	case n >= lo && n <= hi:
		return ""
	case n < 0:
		return fmt.Sprintf("%d is negative: want %d to %d", n, lo, hi)
	}
	return fmt.Sprintf("%d is out of range: want %d to %d", n, lo, hi)
}
