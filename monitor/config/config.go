package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"smtpwatch/monitor/probe"
)

// Defaults of the global settings.
const (
	DefaultRetention      = 30 * 24 * time.Hour
	DefaultReminder       = 4 * time.Hour
	DefaultMaxConcurrency = 4
)

// Defaults of the per-account schedule, used when neither the account nor
// [defaults] sets a key.
const (
	DefaultInterval         = 60 * time.Second
	DefaultAuthInterval     = 15 * time.Minute
	DefaultFailureThreshold = 2
	DefaultSuccessThreshold = 2
	// The probe's own defaults: timeout 30 s, cert_warn_days 14,
	// slow_threshold 5 s.
	DefaultTimeout       = probe.DefaultTimeout
	DefaultCertWarnDays  = probe.DefaultCertWarnDays
	DefaultSlowThreshold = probe.DefaultSlowThreshold
)

// Limits the file is checked against. Intervals below these would hammer
// the provider's server and could get the account locked.
const (
	MinInterval     = 2 * time.Second
	MinAuthInterval = time.Minute
	// MaxFileSize is the largest config file Load reads.
	MaxFileSize = 1 << 20
)

// Config is a checked configuration. Every field holds its resolved value:
// defaults are filled in, relative paths are made relative to the file's
// directory.
type Config struct {
	File string // the name given to Load or Parse

	// StateDir is where the daemon keeps its history; "" means its default.
	StateDir string
	// Retention is how long history is kept.
	Retention time.Duration
	// MetricsListen is the host:port of the Prometheus listener; "" means
	// none.
	MetricsListen string
	// Reminder is how often a still-failing account is notified again;
	// 0 means never.
	Reminder time.Duration
	// MaxConcurrency bounds the probes running at once (>= 1).
	MaxConcurrency int
	// UI says whether the daemon serves the dashboard (true unless the
	// file says ui = false); UIListen is its loopback address, port 0 for
	// a free port chosen at each start (DefaultUIListen). Both take effect
	// when the daemon starts.
	UI       bool
	UIListen string
	// OnlineTargets are the host:port addresses of the "am I online" check
	// (probe.Deps.OnlineTargets): nil when the file sets none, meaning the
	// probe's defaults; empty and non-nil when it sets targets = [],
	// meaning no check.
	OnlineTargets []string

	// Accounts in file order, disabled ones included.
	Accounts []Account
	// Notify are the alert channels, [[notify]] tables, in file order.
	Notify []Notify
	// Modules are the [[module]] tables of /probe?target=...&module=NAME,
	// in file order.
	Modules []Module
}

// Account returns the account with the given name, ignoring case.
func (c *Config) Account(name string) (Account, bool) {
	for _, a := range c.Accounts {
		if strings.EqualFold(a.Name, name) {
			return a, true
		}
	}
	return Account{}, false
}

// Account is one [[account]] table, resolved: preset and [defaults]
// applied, the CA file loaded. It does not hold the password; Password
// fetches it from the configured source.
type Account struct {
	Name string // unique in the file, ignoring case; [A-Za-z0-9._-]+
	// Preset is the preset key the account names, "" if none.
	Preset string
	// Provider is the display name for messages: the preset's Name
	// ("Charter") when the account is named after its preset (name =
	// "charter", preset = "charter"), else the account's Name, so that two
	// accounts of one provider stay apart.
	Provider string

	Server   string
	Port     int
	Security probe.Security

	Username string
	// Auth is how the account signs in; Credential where its password or
	// access token comes from.
	Auth       AuthMethod
	Credential Credential

	From string // envelope check sender; From and Rcpt are both set or both ""
	Rcpt string

	CAFile  string         // absolute or relative to the working directory, as resolved
	RootCAs *x509.CertPool // only CAFile's certificates; nil means the system roots
	// CADigest is the SHA-256 of CAFile's contents as read, so that a
	// reload notices a CA file whose contents changed; zero without CAFile.
	CADigest [32]byte
	EHLOName string

	TLSSkipVerify      bool
	AllowPlaintextAuth bool
	Enabled            bool

	Interval         time.Duration // between connectivity probes
	AuthInterval     time.Duration // between probes that log in
	Timeout          time.Duration // one whole check
	CertWarnDays     int
	SlowThreshold    time.Duration
	FailureThreshold int // failed re-checks (5 s, 15 s...) after a failure before an account is failing
	SuccessThreshold int // good checks in a row before it is ok again

	// File and Line locate the [[account]] header, for messages.
	File string
	Line int
}

// SettingsKey is everything that decides how an account is checked and
// announced, as a comparable value without file positions: two loads of a
// file where only comments or line numbers changed give equal keys, a
// ca_file whose contents changed gives a different one. A reload restarts
// an account's checks only when its key changed.
type SettingsKey struct {
	Name, Preset, Provider, Server string
	Port                           int
	Security                       probe.Security
	Username                       string
	Auth                           AuthMethod
	Credential                     CredentialKey
	From, Rcpt, EHLOName, CAFile   string
	CADigest                       [32]byte
	TLSSkipVerify                  bool
	AllowPlaintextAuth             bool
	Enabled                        bool
	Interval, AuthInterval         time.Duration
	Timeout, SlowThreshold         time.Duration
	CertWarnDays                   int
	FailureThreshold               int
	SuccessThreshold               int
}

// Key is the account's SettingsKey.
func (a Account) Key() SettingsKey {
	return SettingsKey{
		Name: a.Name, Preset: a.Preset, Provider: a.Provider, Server: a.Server, Port: a.Port,
		Security: a.Security, Username: a.Username, Auth: a.Auth, Credential: a.Credential.Key(),
		From: a.From, Rcpt: a.Rcpt, EHLOName: a.EHLOName, CAFile: a.CAFile, CADigest: a.CADigest,
		TLSSkipVerify: a.TLSSkipVerify, AllowPlaintextAuth: a.AllowPlaintextAuth, Enabled: a.Enabled,
		Interval: a.Interval, AuthInterval: a.AuthInterval, Timeout: a.Timeout, SlowThreshold: a.SlowThreshold,
		CertWarnDays: a.CertWarnDays, FailureThreshold: a.FailureThreshold, SuccessThreshold: a.SuccessThreshold,
	}
}

// Target is the account as the probe sees it: everything but the password,
// which the caller sets from Password when the probe will log in. The
// target names a provider only when the account is named after its preset
// ("Charter"): messages then speak of "the Charter website", and of "your
// provider's website" for an account named "work" or a bare host name.
func (a Account) Target() probe.Target {
	provider := a.Provider
	if provider == a.Name {
		provider = "" // Target.DisplayName falls back to the name
	}
	return probe.Target{
		Name:               a.Name,
		Provider:           provider,
		Server:             a.Server,
		Port:               a.Port,
		Security:           a.Security,
		Username:           a.Username,
		From:               a.From,
		Rcpt:               a.Rcpt,
		EHLOName:           a.EHLOName,
		RootCAs:            a.RootCAs,
		TLSSkipVerify:      a.TLSSkipVerify,
		AllowPlaintextAuth: a.AllowPlaintextAuth,
		Timeout:            a.Timeout,
		CertWarnDays:       a.CertWarnDays,
		SlowThreshold:      a.SlowThreshold,
		CredentialHint:     a.Hint(),
		AppPasswordURL:     a.appPasswordURL(),
		OAuthProvider:      a.Credential.OAuth.Provider,
	}
}

func (a Account) appPasswordURL() string {
	if p, ok := LookupPreset(a.Preset); ok {
		return p.AppPasswordURL
	}
	return ""
}

// Load reads and checks the config file at path. A file that is missing
// or unreadable gives an *Error with Line 0 that wraps the file system
// error (errors.Is(err, fs.ErrNotExist) works); every other problem is an
// *Error with the line of the key. An empty file is a valid config with no
// accounts.
//
// Load also refuses password_command when the file is writable by group or
// others (on Unix), since whoever can change the file can change the command
// that prints the password.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError(path, "cannot open the file", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fileError(path, "cannot read the file", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fileError(path, "cannot read the file", err)
	}
	if len(data) > MaxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("the file is larger than %d bytes; is it the right file?", MaxFileSize)}
	}
	return parse(path, data, fi)
}

// Parse checks the config in data; file names it in errors and is the base
// of relative paths in it ("" reads as "config" and the working directory).
// Parse does not check the file's permissions; Load does.
func Parse(file string, data []byte) (*Config, error) {
	return parse(file, data, nil)
}

func fileError(file, msg string, err error) *Error {
	detail := err
	var pe *fs.PathError
	if errors.As(err, &pe) {
		detail = pe.Err
	}
	return &Error{File: file, Msg: msg + ": " + detail.Error(), Err: err}
}
