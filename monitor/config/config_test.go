package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/probe"
)

// TestLoadErrors is the catalogue of config mistakes: each file in testdata
// holds one, and the message is checked byte for byte, because it is what a
// person reads to fix the file.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		input string
		want  string
	}{
		{"syntax-unquoted.toml", `testdata/syntax-unquoted.toml:2: account.name: invalid TOML: expected value but found "charter" instead (text values need quotes: name = "charter")`},
		{"syntax-unclosed-table.toml", `testdata/syntax-unclosed-table.toml:3: invalid TOML: expected '.' or ']' to end table name, but got '\n' instead`},
		{"unknown-key-typo.toml", `testdata/unknown-key-typo.toml:4: account "charter": sever: unknown key; did you mean "server"?`},
		{"unknown-key-alias.toml", `testdata/unknown-key-alias.toml:3: account "work": host: unknown key; did you mean "server"?`},
		{"unknown-key-top.toml", `testdata/unknown-key-top.toml:1: retension: unknown key; did you mean "retention"?`},
		{"unknown-key-nohint.toml", `testdata/unknown-key-nohint.toml:2: defaults.colour: unknown key`},
		{"unknown-table.toml", `testdata/unknown-table.toml:1: acount: unknown key; did you mean "account"?`},
		{"password-literal.toml", `testdata/password-literal.toml:5: account "charter": password: passwords are not stored in the config; use password_env, password_command or password_keyring`},
		{"bad-security.toml", `testdata/bad-security.toml:4: account "charter": security: unknown security "ssl3": want starttls, tls, none or auto`},
		{"bad-port-range.toml", `testdata/bad-port-range.toml:4: account "charter": port: 70000 is out of range: want 1 to 65535`},
		{"bad-port-type.toml", `testdata/bad-port-type.toml:4: account "charter": port: want a whole number, got string "587"`},
		{"bad-duration.toml", `testdata/bad-duration.toml:2: defaults.interval: invalid duration "5x": want a number and a unit, like "90s", "15m", "4h" or "30d"`},
		{"bad-duration-type.toml", `testdata/bad-duration-type.toml:1: reminder: want a duration in quotes, like "90s", "15m" or "30d", got integer 4`},
		{"negative-duration.toml", `testdata/negative-duration.toml:4: account "charter": timeout: duration "-30s" is negative`},
		{"short-interval.toml", `testdata/short-interval.toml:4: account "charter": interval: 1s is too short: want at least 2s`},
		{"negative-number.toml", `testdata/negative-number.toml:2: defaults.cert_warn_days: -3 is negative: want 1 to 3650`},
		{"threshold-zero.toml", `testdata/threshold-zero.toml:4: account "charter": success_threshold: 0 is out of range: want 1 to 100`},
		{"max-concurrency-zero.toml", `testdata/max-concurrency-zero.toml:1: max_concurrency: 0 is out of range: want 1 to 1000`},
		{"bad-online-target.toml", `testdata/bad-online-target.toml:4: online.targets: invalid address "8.8.8.8": want host:port, like "1.1.1.1:443" or "[2606:4700::1111]:443"`},
		{"bad-online-type.toml", `testdata/bad-online-type.toml:2: online.targets: want a list of host:port addresses, like ["1.1.1.1:443"], got string "1.1.1.1:443"`},
		{"bad-metrics-listen.toml", `testdata/bad-metrics-listen.toml:1: metrics_listen: invalid address "localhost:http": the port must be a number from 1 to 65535`},
		{"ui-listen-not-loopback.toml", `testdata/ui-listen-not-loopback.toml:3: ui_listen: "0.0.0.0:9926" is not a loopback address: the dashboard is served to this computer only; use 127.0.0.1:PORT or [::1]:PORT`},
		{"bad-from.toml", `testdata/bad-from.toml:4: account "charter": from: invalid address "me @charter.net": it contains a space or a line break`},
		{"bad-rcpt-newline.toml", `testdata/bad-rcpt-newline.toml:5: account "charter": rcpt: invalid address "me@charter.net\r\nDATA": it contains a space or a line break`},
		{"from-without-rcpt.toml", `testdata/from-without-rcpt.toml:4: account "charter": from: set rcpt too: the envelope check needs both from and rcpt`},
		{"missing-name.toml", `testdata/missing-name.toml:5: account #2: name: missing: every [[account]] needs a name, like name = "charter"`},
		{"missing-server.toml", `testdata/missing-server.toml:1: account "work": server: missing: set server = "smtp.example.com", or a preset (aol, att, charter, comcast, fastmail, gmail, gmx, icloud, office365, outlook, spectrum, yahoo, zoho)`},
		{"bad-name.toml", `testdata/bad-name.toml:2: account #1: name: invalid name "my charter": use letters, digits, '.', '_' and '-' (at most 64)`},
		{"duplicate-name.toml", `testdata/duplicate-name.toml:6: account "Charter": name: duplicate account name "Charter" (also on line 2; names ignore case)`},
		{"two-credentials.toml", `testdata/two-credentials.toml:6: account "charter": password_keyring: only one password source may be set, but password_env is also set (line 5)`},
		{"keyring-no-username.toml", `testdata/keyring-no-username.toml:4: account "charter": password_keyring: set username too: the password is only used to log in with a user name`},
		{"ca-file-missing.toml", `testdata/ca-file-missing.toml:4: account "lab": ca_file: cannot read testdata/no-such-ca.pem: no such file or directory`},
		{"ca-file-not-pem.toml", `testdata/ca-file-not-pem.toml:4: account "lab": ca_file: no PEM certificate in testdata/not-a-cert.pem: want a file with -----BEGIN CERTIFICATE----- blocks`},
		{"server-with-port.toml", `testdata/server-with-port.toml:3: account "charter": server: "smtp.charter.net:587" includes a port: write server = "smtp.charter.net" and port = 587`},
		{"unknown-preset.toml", `testdata/unknown-preset.toml:3: account "charter": preset: unknown preset "chartr"; did you mean "charter"?`},
		{"single-bracket-account.toml", `testdata/single-bracket-account.toml:1: account: want [[account]] with double brackets, one per account; got [account]`},
		{"wrong-type-bool.toml", `testdata/wrong-type-bool.toml:4: account "charter": enabled: want true or false, got string "yes"`},
		{"inline-account-error.toml", `testdata/inline-account-error.toml:3: account "b": port: 0 is out of range: want 1 to 65535`},
		{"int-too-large.toml", `testdata/int-too-large.toml:4: account.port: the number 99999999999999999999 is far too large`},
		{"second-account-error.toml", `testdata/second-account-error.toml:14: account "three": security: unknown security "sometimes": want starttls, tls, none or auto`},
	}
	if runtime.GOOS == "windows" {
		t.Skip("messages use / paths")
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.input] = true
		t.Run(tt.input, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", tt.input))
			if err == nil {
				t.Fatalf("Load: no error, want %s", tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Load error\n got: %s\nwant: %s", got, tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error is %T, want *config.Error", err)
			}
			if ce.Line < 1 {
				t.Errorf("Line = %d, want >= 1", ce.Line)
			}
		})
	}
	// Every testdata file is in the table, so none is silently untested.
	files, _ := filepath.Glob("testdata/*.toml")
	for _, f := range files {
		if b := filepath.Base(f); !seen[b] && !strings.HasPrefix(b, "valid-") {
			t.Errorf("%s has no expected error in the table", f)
		}
	}
}

// TestErrorFields checks that callers can read where a problem is without
// parsing the message.
func TestErrorFields(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want Error
	}{
		{
			name: "account key",
			src:  "[[account]]\nname = \"charter\"\nserver = \"smtp.charter.net\"\nsecurity = \"ssl3\"\n",
			want: Error{File: "c.toml", Line: 4, Account: "charter", Index: 1, Key: "security"},
		},
		{
			name: "unnamed account",
			src:  "[[account]]\nserver = \"x.example\"\n",
			want: Error{File: "c.toml", Line: 1, Index: 1, Key: "name"},
		},
		{
			name: "defaults key",
			src:  "\n[defaults]\ntimeout = \"0s\"\n",
			want: Error{File: "c.toml", Line: 3, Key: "defaults.timeout"},
		},
		{
			name: "syntax",
			src:  "a = \n",
			want: Error{File: "c.toml", Line: 1, Key: "a"},
		},
		{
			name: "odd key is quoted",
			src:  "\"bad\\nkey\" = 1\n",
			want: Error{File: "c.toml", Line: 1, Key: `"bad\nkey"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.toml", []byte(tt.src))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse error = %v (%T), want *config.Error", err, err)
			}
			got := *ce
			got.Msg, got.Err = "", nil
			if got != tt.want {
				t.Errorf("Parse error fields = %+v, want %+v (%v)", got, tt.want, err)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, c *Config)
	}{
		{
			name: "empty file",
			src:  "",
			check: func(t *testing.T, c *Config) {
				if len(c.Accounts) != 0 || c.OnlineTargets != nil || c.StateDir != "" || c.MetricsListen != "" {
					t.Errorf("got %+v, want an empty config", c)
				}
				if c.Retention != 30*24*time.Hour || c.Reminder != 4*time.Hour || c.MaxConcurrency != 4 {
					t.Errorf("defaults: retention %v reminder %v max_concurrency %d", c.Retention, c.Reminder, c.MaxConcurrency)
				}
			},
		},
		{
			name: "comments only",
			src:  "# nothing here yet\n\n   # indented comment [[account]]\n",
			check: func(t *testing.T, c *Config) {
				if len(c.Accounts) != 0 {
					t.Errorf("accounts = %d, want 0", len(c.Accounts))
				}
			},
		},
		{
			name: "globals",
			src: `state_dir = "/var/lib/smtpwatch"
retention = "7d"
metrics_listen = "127.0.0.1:9925"
reminder = "0"
max_concurrency = 2
[online]
targets = ["192.0.2.1:443", "[2001:db8::1]:443"]
`,
			check: func(t *testing.T, c *Config) {
				if c.StateDir != "/var/lib/smtpwatch" || c.Retention != 7*24*time.Hour || c.MetricsListen != "127.0.0.1:9925" ||
					c.Reminder != 0 || c.MaxConcurrency != 2 {
					t.Errorf("got %+v", c)
				}
				if len(c.OnlineTargets) != 2 || c.OnlineTargets[1] != "[2001:db8::1]:443" {
					t.Errorf("online targets = %q", c.OnlineTargets)
				}
			},
		},
		{
			name: "empty online targets turn the check off",
			src:  "[online]\ntargets = []\n",
			check: func(t *testing.T, c *Config) {
				if c.OnlineTargets == nil || len(c.OnlineTargets) != 0 {
					t.Errorf("online targets = %#v, want empty and non-nil", c.OnlineTargets)
				}
			},
		},
		{
			name: "explicit account",
			src: `[[account]]
name = "work"
server = "mail.example.org"
port = 2525
security = "starttls"
username = "me@example.org"
password_env = "WORK_PASSWORD"
from = "me@example.org"
rcpt = "postmaster@example.org"
ehlo_name = "laptop"
tls_skip_verify = true
allow_plaintext_auth = true
enabled = false
interval = "2m"
auth_interval = "1h"
timeout = "20s"
cert_warn_days = 30
slow_threshold = "2s"
failure_threshold = 3
success_threshold = 1
`,
			check: func(t *testing.T, c *Config) {
				want := Account{
					Name: "work", Provider: "work", Server: "mail.example.org", Port: 2525,
					Security: probe.SecurityStartTLS, Username: "me@example.org", Auth: AuthPassword,
					Credential: Credential{Source: CredentialEnv, Env: "WORK_PASSWORD", File: "c.toml", Line: 7},
					From:       "me@example.org", Rcpt: "postmaster@example.org", EHLOName: "laptop",
					TLSSkipVerify: true, AllowPlaintextAuth: true, Enabled: false,
					Interval: 2 * time.Minute, AuthInterval: time.Hour, Timeout: 20 * time.Second,
					CertWarnDays: 30, SlowThreshold: 2 * time.Second, FailureThreshold: 3, SuccessThreshold: 1,
					File: "c.toml", Line: 1,
				}
				if len(c.Accounts) != 1 {
					t.Fatalf("accounts = %d", len(c.Accounts))
				}
				if got := c.Accounts[0]; got != want {
					t.Errorf("account\n got %+v\nwant %+v", got, want)
				}
			},
		},
		{
			name: "preset fills server, port and security; named after it",
			src:  "[[account]]\nname = \"charter\"\npreset = \"Charter\"\nusername = \"me@charter.net\"\npassword_keyring = true\n",
			check: func(t *testing.T, c *Config) {
				a := c.Accounts[0]
				if a.Server != "smtp.charter.net" || a.Port != 587 || a.Security != probe.SecurityStartTLS ||
					a.Preset != "charter" || a.Provider != "Charter" || a.Credential.Source != CredentialKeyring {
					t.Errorf("got %+v", a)
				}
			},
		},
		{
			name: "preset with its other mode takes the other port",
			src:  "[[account]]\nname = \"home\"\npreset = \"charter\"\nsecurity = \"ssl\"\n",
			check: func(t *testing.T, c *Config) {
				a := c.Accounts[0]
				if a.Port != 465 || a.Security != probe.SecurityTLS || a.Provider != "home" {
					t.Errorf("got port %d security %s provider %q", a.Port, a.Security, a.Provider)
				}
			},
		},
		{
			name: "preset with auto keeps the preset's port",
			src:  "[[account]]\nname = \"y\"\npreset = \"yahoo\"\nsecurity = \"auto\"\n",
			check: func(t *testing.T, c *Config) {
				if a := c.Accounts[0]; a.Port != 465 || a.Security != probe.SecurityAuto {
					t.Errorf("got port %d security %s", a.Port, a.Security)
				}
			},
		},
		{
			name: "preset server can be overridden",
			src:  "[[account]]\nname = \"g\"\npreset = \"gmail\"\nserver = \"smtp-relay.gmail.com\"\nport = 25\n",
			check: func(t *testing.T, c *Config) {
				if a := c.Accounts[0]; a.Server != "smtp-relay.gmail.com" || a.Port != 25 || a.Security != probe.SecurityStartTLS {
					t.Errorf("got %+v", a)
				}
			},
		},
		{
			name: "port from security without preset",
			src:  "[[account]]\nname = \"a\"\nserver = \"a.example\"\nsecurity = \"tls\"\n[[account]]\nname = \"b\"\nserver = \"b.example\"\n",
			check: func(t *testing.T, c *Config) {
				if a := c.Accounts[0]; a.Port != 465 {
					t.Errorf("tls port = %d, want 465", a.Port)
				}
				if b := c.Accounts[1]; b.Port != 587 || b.Security != probe.SecurityAuto {
					t.Errorf("default: port %d security %s, want 587 auto", b.Port, b.Security)
				}
			},
		},
		{
			name: "defaults apply and accounts override them",
			src: `[[account]]
name = "a"
preset = "gmail"
interval = "5m"

[defaults]
interval = "90s"
auth_interval = "30m"
timeout = "45s"
cert_warn_days = 7
slow_threshold = "3s"
failure_threshold = 4
success_threshold = 3

[[account]]
name = "b"
preset = "aol"
`,
			check: func(t *testing.T, c *Config) {
				a, b := c.Accounts[0], c.Accounts[1]
				if a.Interval != 5*time.Minute || b.Interval != 90*time.Second {
					t.Errorf("intervals %v %v", a.Interval, b.Interval)
				}
				for _, x := range []Account{a, b} {
					if x.AuthInterval != 30*time.Minute || x.Timeout != 45*time.Second || x.CertWarnDays != 7 ||
						x.SlowThreshold != 3*time.Second || x.FailureThreshold != 4 || x.SuccessThreshold != 3 {
						t.Errorf("%s: %+v", x.Name, x)
					}
				}
			},
		},
		{
			name: "built-in schedule defaults",
			src:  "[[account]]\nname = \"a\"\nserver = \"a.example\"\n",
			check: func(t *testing.T, c *Config) {
				a := c.Accounts[0]
				if a.Interval != 60*time.Second || a.AuthInterval != 15*time.Minute || a.Timeout != 30*time.Second ||
					a.CertWarnDays != 14 || a.SlowThreshold != 5*time.Second || a.FailureThreshold != 2 ||
					a.SuccessThreshold != 2 || !a.Enabled || a.Credential.Source != CredentialNone {
					t.Errorf("got %+v", a)
				}
			},
		},
		{
			name: "inline array of accounts",
			src:  "account = [\n  {name = \"a\", preset = \"gmail\"},\n  {name = \"b\", preset = \"icloud\"},\n]\n",
			check: func(t *testing.T, c *Config) {
				if len(c.Accounts) != 2 || c.Accounts[1].Server != "smtp.mail.me.com" || c.Accounts[1].Line != 3 {
					t.Errorf("got %+v", c.Accounts)
				}
			},
		},
		{
			name: "IPv6 server in brackets",
			src:  "[[account]]\nname = \"v6\"\nserver = \"[2001:db8::25]\"\n",
			check: func(t *testing.T, c *Config) {
				a := c.Accounts[0]
				if a.Server != "2001:db8::25" || a.Target().Addr() != "[2001:db8::25]:587" {
					t.Errorf("server %q addr %q", a.Server, a.Target().Addr())
				}
			},
		},
		{
			name: "password_keyring = false is no source",
			src:  "[[account]]\nname = \"a\"\npreset = \"gmail\"\npassword_keyring = false\n",
			check: func(t *testing.T, c *Config) {
				if s := c.Accounts[0].Credential.Source; s != CredentialNone {
					t.Errorf("source = %q", s)
				}
			},
		},
		{
			name: "relative state_dir follows the file",
			src:  "state_dir = \"state\"\n",
			check: func(t *testing.T, c *Config) {
				if want := filepath.Join("conf", "state"); c.StateDir != want {
					t.Errorf("state_dir = %q, want %q", c.StateDir, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := "c.toml"
			if strings.HasPrefix(tt.name, "relative") {
				file = filepath.Join("conf", "c.toml")
			}
			c, err := Parse(file, []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if c.File != file {
				t.Errorf("File = %q", c.File)
			}
			tt.check(t, c)
		})
	}
}

func TestConfigAccountLookup(t *testing.T) {
	c, err := Parse("c.toml", []byte("[[account]]\nname = \"Charter\"\npreset = \"charter\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := c.Account("CHARTER"); !ok || a.Name != "Charter" {
		t.Errorf("Account(CHARTER) = %v, %v", a.Name, ok)
	}
	if _, ok := c.Account("gmail"); ok {
		t.Error("Account(gmail) found")
	}
}

func TestTarget(t *testing.T) {
	pool := x509.NewCertPool()
	a := Account{
		Name: "work", Provider: "Work", Server: "mail.example.org", Port: 465, Security: probe.SecurityTLS,
		Username: "me", Credential: Credential{Source: CredentialEnv, Env: "X"},
		From: "a@example.org", Rcpt: "b@example.org", RootCAs: pool, EHLOName: "laptop",
		TLSSkipVerify: true, AllowPlaintextAuth: true, Timeout: time.Second, CertWarnDays: 3,
		SlowThreshold: 2 * time.Second, Interval: time.Minute,
	}
	want := probe.Target{
		Name: "work", Provider: "Work", Server: "mail.example.org", Port: 465, Security: probe.SecurityTLS,
		Username: "me", From: "a@example.org", Rcpt: "b@example.org", EHLOName: "laptop", RootCAs: pool,
		TLSSkipVerify: true, AllowPlaintextAuth: true, Timeout: time.Second, CertWarnDays: 3,
		SlowThreshold: 2 * time.Second, CredentialHint: "the environment variable X",
	}
	got := a.Target()
	if got.Password != (credential.Secret{}) {
		t.Error("Target carries a password")
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Target()\n got %+v\nwant %+v", got, want)
	}
}

// A target names a provider only when the account is named after its
// preset: "the Charter website", never "the 127.0.0.1 website" or "the work
// website".
func TestTargetProvider(t *testing.T) {
	cfg, err := Parse("p.toml", []byte(`
[[account]]
name = "charter"
preset = "charter"
[[account]]
name = "work"
preset = "gmail"
[[account]]
name = "own"
server = "mail.example.org"
`))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"charter": "Charter", "work": "", "own": ""} {
		a, _ := cfg.Account(name)
		if got := a.Target().Provider; got != want {
			t.Errorf("%s: Target().Provider = %q, want %q", name, got, want)
		}
		if got := a.Target().DisplayName(); got != a.Provider {
			t.Errorf("%s: DisplayName %q, want the account's display name %q", name, got, a.Provider)
		}
	}
}

// The advice hints follow the credential source and the preset.
func TestTargetHints(t *testing.T) {
	for _, c := range []struct {
		a         Account
		hint, url string
	}{
		{Account{Name: "charter", Credential: Credential{Source: CredentialKeyring}}, "smtpwatch password set charter", ""},
		{Account{Name: "w", Credential: Credential{Source: CredentialCommand, Command: "pass x", File: "c.toml", Line: 3}}, "what password_command prints", ""},
		{Account{Name: "flags", Credential: Credential{Source: CredentialCommand, Command: "pass x"}}, "the output of --password-command", ""},
		{Account{Name: "g", Preset: "gmail"}, "", "https://myaccount.google.com/apppasswords"},
	} {
		tg := c.a.Target()
		if tg.CredentialHint != c.hint || tg.AppPasswordURL != c.url {
			t.Errorf("%s: hint %q url %q, want %q %q", c.a.Name, tg.CredentialHint, tg.AppPasswordURL, c.hint, c.url)
		}
	}
}

func TestWriteTemplate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "config.toml")
	created, err := WriteTemplate(p)
	if err != nil || !created {
		t.Fatalf("WriteTemplate = %v, %v", created, err)
	}
	if fi, err := os.Stat(p); err != nil || (runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600) {
		t.Fatalf("stat %v %v", fi, err)
	}
	if _, err := Load(p); err != nil {
		t.Fatalf("the written template does not load: %v", err)
	}
	if err := os.WriteFile(p, []byte("# mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if created, err := WriteTemplate(p); err != nil || created {
		t.Fatalf("second WriteTemplate = %v, %v; want it to leave the file alone", created, err)
	}
	if b, _ := os.ReadFile(p); string(b) != "# mine\n" {
		t.Errorf("an existing file was overwritten: %q", b)
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "none.toml")
	_, err := Load(missing)
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 0 || ce.File != missing {
		t.Fatalf("Load(missing) = %v, want a file-level *Error", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
	if want := missing + ": cannot open the file: no such file or directory"; runtime.GOOS != "windows" && err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}

	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, []byte(strings.Repeat("# padding\n", MaxFileSize/10+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load(big) = %v", err)
	}
}

// TestLoadCommandPermissions: a password command in a file that others can
// change is refused, since they could make it print the password anywhere.
func TestLoadCommandPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	src := "[[account]]\nname = \"charter\"\npreset = \"charter\"\nusername = \"me\"\npassword_command = \"pass show mail/charter\"\n"
	tests := []struct {
		name string
		mode os.FileMode
		ok   bool
	}{
		{"owner only", 0o600, true},
		{"readable by all", 0o644, true},
		{"group writable", 0o660, false},
		{"world writable", 0o602, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.toml")
			if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			c, err := Load(path)
			if tt.ok {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if cr := c.Accounts[0].Credential; cr.Source != CredentialCommand || cr.Command != "pass show mail/charter" || cr.Line != 5 {
					t.Errorf("credential = %+v", cr)
				}
				return
			}
			want := fmt.Sprintf(`%s:5: account "charter": password_command: %s is writable by group or others (mode %04o), so someone else could change the command; run: chmod go-w %s`,
				path, path, tt.mode, path)
			if err == nil || err.Error() != want {
				t.Errorf("Load error\n got: %v\nwant: %s", err, want)
			}
		})
	}
	// The same file without a command is fine even when group-writable.
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte("[[account]]\nname = \"a\"\npreset = \"gmail\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("Load(group-writable, no command): %v", err)
	}
}

// TestCAFile: a valid PEM file becomes a pool that verifies its CA, and a
// relative path is taken from the config file's directory.
func TestCAFile(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Mail CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte("[[account]]\nname = \"lab\"\nserver = \"mail.lab.example\"\nca_file = \"ca.pem\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(cfgPath)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	a := c.Accounts[0]
	if a.CAFile != filepath.Join(dir, "ca.pem") || a.RootCAs == nil {
		t.Fatalf("CAFile %q RootCAs %v", a.CAFile, a.RootCAs)
	}
	cert, _ := x509.ParseCertificate(der)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: a.RootCAs}); err != nil {
		t.Errorf("the loaded pool does not verify the CA: %v", err)
	}
	if a.Target().RootCAs != a.RootCAs {
		t.Error("Target does not carry the pool")
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90s", 90 * time.Second, true},
		{"1h30m", 90 * time.Minute, true},
		{"30d", 30 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"1.5d", 36 * time.Hour, true},
		{"0", 0, true},
		{"0d", 0, true},
		{"", 0, false},
		{"5", 0, false},
		{"d", 0, false},
		{"-1d", 0, false},
		{"1d-2h", 0, false},
		{"1d+2h", 0, false},
		{".5d", 0, false},
		{"5.d", 0, false},
		{"1e3d", 0, false},
		{"1dd", 0, false},
		{"2d3d", 0, false},
		{"1000000d", 0, false},
		{"106751d23h", 2562047 * time.Hour, true},
		{"106751d24h", 0, false},
		{"-5s", 0, false},
		{"NaNd", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct{ key, want string }{
		{"sever", "server"},
		{"Server", "server"},
		{"usernme", "username"},
		{"host", "server"},
		{"user", "username"},
		{"ssl", "security"},
		{"passwordeval", "password_command"},
		{"intervall", "interval"},
		{"colour", ""},
		{"xyz", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := suggest(tt.key, accountKeys()); got != tt.want {
				t.Errorf("suggest(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

// TestConfigErrorsHideSecrets: people put passwords where they do not
// belong; the errors about those keys do not repeat them, however printed.
func TestConfigErrorsHideSecrets(t *testing.T) {
	const head = "[[account]]\nname = \"a\"\npreset = \"gmail\"\nusername = \"me\"\n"
	tests := []struct{ name, src string }{
		{"password key", head + "password = \"" + testSecret + "\"\n"},
		{"password in password_keyring", head + "password_keyring = \"" + testSecret + "\"\n"},
		{"password in password_env", head + "password_env = \"my " + testSecret + "\"\n"},
		{"password in password_command type", head + "password_command = [\"" + testSecret + "\"]\n"},
		{"password key with a syntax error", head + "password = \"" + testSecret + "\"\nport = \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.toml", []byte(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(text, testSecret) {
					t.Errorf("error reveals the secret: %s", text)
				}
			}
		})
	}
}
