package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/smtptest"
)

// TestCheckFlagsResolveAsTheFile: the same settings written as check
// flags and as an [[account]] table give the same Account and the same
// probe Target, because both go through config.Resolve. Before, check
// --preset gmail --security tls probed 587 while the file gave 465.
func TestCheckFlagsResolveAsTheFile(t *testing.T) {
	dir := t.TempDir()
	ca := smtptest.NewCA(t, "resolve test CA", "tests")
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		flags []string
		file  string // the [[account]] table's keys after name
	}{
		{"preset with its other mode", []string{"--preset", "gmail", "--security", "tls"}, `preset = "gmail"
security = "tls"`},
		{"preset alone", []string{"--preset", "Charter"}, `preset = "Charter"`},
		{"preset with auto", []string{"--preset", "yahoo", "--security", "auto"}, `preset = "yahoo"
security = "auto"`},
		{"preset with a server", []string{"--preset", "gmail", "--server", "smtp-relay.gmail.com:25"}, `preset = "gmail"
server = "smtp-relay.gmail.com"
port = 25`},
		{"server with mode, no port", []string{"--server", "mail.example.org", "--security", "tls"}, `server = "mail.example.org"
security = "tls"`},
		{"server alone", []string{"--server", "mail.example.org"}, `server = "mail.example.org"`},
		{"everything", []string{"--server", "mail.example.org:2525", "--security", "starttls", "--username", "me@example.org",
			"--password-env", "WORK_PW", "--from", "me@example.org", "--rcpt", "postmaster@example.org", "--ehlo-name", "laptop",
			"--ca-file", caFile, "--timeout", "20s", "--tls-skip-verify", "--allow-plaintext-auth"}, `server = "mail.example.org"
port = 2525
security = "starttls"
username = "me@example.org"
password_env = "WORK_PW"
from = "me@example.org"
rcpt = "postmaster@example.org"
ehlo_name = "laptop"
ca_file = "` + caFile + `"
timeout = "20s"
tls_skip_verify = true
allow_plaintext_auth = true`},
		{"password command", []string{"--preset", "fastmail", "--username", "me", "--password-command", "pass show mail"}, `preset = "fastmail"
username = "me"
password_command = "pass show mail"`},
		{"office365 signs in with OAuth2", []string{"--preset", "office365", "--username", "me@example.com"}, `preset = "office365"
username = "me@example.com"`},
		{"OAuth2 with every key", []string{"--server", "mail.example.org", "--username", "me", "--auth", "oauth2",
			"--oauth-provider", "microsoft", "--oauth-tenant", "organizations", "--oauth-client-id", "abc",
			"--oauth-scopes", "https://outlook.office.com/SMTP.Send,offline_access", "--oauth-token-url", "https://login.example/t"}, `server = "mail.example.org"
username = "me"
auth = "oauth2"
oauth_provider = "microsoft"
oauth_tenant = "organizations"
oauth_client_id = "abc"
oauth_scopes = ["https://outlook.office.com/SMTP.Send", "offline_access"]
oauth_token_url = "https://login.example/t"`},
		{"a token helper", []string{"--preset", "gmail", "--username", "me@gmail.com", "--oauth-token-command", "oama access me@gmail.com"}, `preset = "gmail"
username = "me@gmail.com"
oauth_token_command = "oama access me@gmail.com"`},
		{"unicode server", []string{"--server", "xn--mil-qla.xn--exmple-cua.de:465"}, `server = "xn--mil-qla.xn--exmple-cua.de"
port = 465`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &app{stdin: strings.NewReader(""), stdout: os.Stdout, stderr: os.Stderr}
			f, _, ok := a.checkFlags(tc.flags)
			if !ok {
				t.Fatalf("flags %q refused", tc.flags)
			}
			fromFlags, err := adHocAccount(f)
			if err != nil {
				t.Fatalf("flags: %v", err)
			}
			src := "[[account]]\nname = \"" + fromFlags.Name + "\"\n" + tc.file + "\n"
			cfg, err := config.Parse(filepath.Join(dir, "c.toml"), []byte(src))
			if err != nil {
				t.Fatalf("file: %v\n%s", err, src)
			}
			fromFile := cfg.Accounts[0]

			// Where each was written differs, and so may how a person is
			// told to change a password command; nothing else does.
			if (fromFlags.RootCAs == nil) != (fromFile.RootCAs == nil) {
				t.Errorf("RootCAs: flags %v, file %v", fromFlags.RootCAs, fromFile.RootCAs)
			}
			tf, tfile := fromFlags.Target(), fromFile.Target()
			for _, x := range []*config.Account{&fromFlags, &fromFile} {
				x.File, x.Line, x.Credential.File, x.Credential.Line, x.RootCAs = "", 0, "", 0, nil
			}
			if fromFlags != fromFile {
				t.Errorf("Account\nflags %+v\n file %+v", fromFlags, fromFile)
			}
			if fromFlags.Key() != fromFile.Key() {
				t.Errorf("Key differs")
			}
			tf.RootCAs, tfile.RootCAs = nil, nil
			if fromFile.Credential.Source == config.CredentialCommand {
				if tf.CredentialHint != "the output of --password-command" || tfile.CredentialHint != "what password_command prints" {
					t.Errorf("hints %q / %q", tf.CredentialHint, tfile.CredentialHint)
				}
				tf.CredentialHint = tfile.CredentialHint
			}
			if fromFile.Credential.Source == config.CredentialTokenCommand {
				if tf.CredentialHint != "the output of --oauth-token-command" || tfile.CredentialHint != "what oauth_token_command prints" {
					t.Errorf("hints %q / %q", tf.CredentialHint, tfile.CredentialHint)
				}
				tf.CredentialHint = tfile.CredentialHint
			}
			if !reflect.DeepEqual(tf, tfile) {
				t.Errorf("Target\nflags %+v\n file %+v", tf, tfile)
			}
		})
	}
	// The port a preset's other mode takes, spelt out.
	a := &app{stdin: strings.NewReader(""), stdout: os.Stdout, stderr: os.Stderr}
	f, _, _ := a.checkFlags([]string{"--preset", "gmail", "--security", "tls"})
	if acct, err := adHocAccount(f); err != nil || acct.Port != 465 || acct.Provider != "Gmail" {
		t.Errorf("--preset gmail --security tls: port %d provider %q, %v; want 465 Gmail", acct.Port, acct.Provider, err)
	}
}

// TestCheckFlagsProblemsAsTheFile: a wrong setting is refused with the
// same words both ways, naming the flag or the key.
func TestCheckFlagsProblemsAsTheFile(t *testing.T) {
	for _, tc := range []struct {
		flags      []string
		file       string
		flagMsg    string
		fileSuffix string
	}{
		{[]string{"--preset", "gmial"}, `preset = "gmial"`, `--preset: unknown preset "gmial"; did you mean "gmail"?`, `preset: unknown preset "gmial"; did you mean "gmail"?`},
		{[]string{"--server", "x.example", "--security", "ssl3"}, "server = \"x.example\"\nsecurity = \"ssl3\"", `--security: unknown security "ssl3": want starttls, tls, none or auto`, `security: unknown security "ssl3": want starttls, tls, none or auto`},
		{[]string{"--server", "x.example", "--from", "a b@x"}, "server = \"x.example\"\nfrom = \"a b@x\"\nrcpt = \"c@x\"", `--from: invalid address "a b@x": it contains a space or a line break`, `from: invalid address "a b@x": it contains a space or a line break`},
		{[]string{"--server", "x.example", "--timeout", "500ms"}, "server = \"x.example\"\ntimeout = \"500ms\"", `--timeout: 500ms is too short: want at least 1s`, `timeout: 500ms is too short: want at least 1s`},
		{[]string{"--server", "x.example", "--rcpt", "a@x"}, "server = \"x.example\"\nrcpt = \"a@x\"", `--rcpt: set --from too: the envelope check needs both --from and --rcpt`, `rcpt: set from too: the envelope check needs both from and rcpt`},
	} {
		a := &app{stdin: strings.NewReader(""), stdout: os.Stdout, stderr: os.Stderr}
		f, _, ok := a.checkFlags(tc.flags)
		if !ok {
			t.Fatalf("flags %q refused", tc.flags)
		}
		_, err := adHocAccount(f)
		if err == nil || err.Error() != tc.flagMsg {
			t.Errorf("flags %q: %v, want %s", tc.flags, err, tc.flagMsg)
		}
		_, err = config.Parse("c.toml", []byte("[[account]]\nname = \"a\"\n"+tc.file+"\n"))
		if err == nil || !strings.HasSuffix(err.Error(), tc.fileSuffix) {
			t.Errorf("file %q: %v, want ...%s", tc.file, err, tc.fileSuffix)
		}
	}
}
