package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/config"
)

// cmdRun runs smtpwatch in process with env for getenv.
func cmdRun(t *testing.T, env map[string]string, args ...string) addRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
		getenv: func(k string) string { return env[k] }, logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := a.main(ctx, args)
	return addRun{code, stdout.String(), stderr.String()}
}

// TestImportMsmtp: dry run writes nothing; the import adds what it can,
// never a password, passwordeval as password_command (or, for auth
// oauthbearer/xoauth2, as oauth_token_command); a second import adds
// nothing twice.
func TestImportMsmtp(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	rc, _ := filepath.Abs("../../monitor/importer/testdata/msmtprc")
	cfg := filepath.Join(t.TempDir(), "config.toml")

	r := cmdRun(t, nil, "import", "msmtp", rc, "--config", cfg, "--dry-run")
	if r.code != exitOK || !strings.Contains(r.stdout, "With --dry-run nothing is written") {
		t.Fatalf("%s", r)
	}
	if _, err := os.Stat(cfg); err == nil {
		t.Fatal("--dry-run wrote the config")
	}

	r = cmdRun(t, nil, "import", "msmtp", rc, "--config", cfg)
	if r.code != exitOK {
		t.Fatalf("%s", r)
	}
	for _, want := range []string{
		"+ gmail: smtp.gmail.com, port 587 (STARTTLS) as jo.example; password: password_command",
		"+ work: mail.work.example, port 465 (SSL/TLS) as jo@work.example; password: OS keyring",
		"note: its password is written in the msmtp file: not copied",
		"+ o365: smtp.office365.com, port 587 (STARTTLS) as jo@corp.example; password: OAuth2 token from oauth_token_command",
		"left out: protocol lmtp, not SMTP",
		"account default is gmail",
		"Added 4 account(s) to " + cfg,
		"smtpwatch password set work --config " + cfg,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q\n%s", want, r)
		}
	}
	data, _ := os.ReadFile(cfg)
	if strings.Contains(string(data), "hunter2") || !strings.Contains(string(data), "oauth_token_command = \"oauth2ms --token\"") {
		t.Errorf("a secret was written, or the token command was not:\n%s", data)
	}
	if !strings.Contains(string(data), "# Sends mail from jo.example@gmail.com.") {
		t.Errorf("no comment:\n%s", data)
	}
	c, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Accounts) != 4 {
		t.Errorf("%d accounts", len(c.Accounts))
	}
	if o, _ := c.Account("o365"); o.Credential.Source != config.CredentialTokenCommand {
		t.Errorf("o365 signs in with %q, want the token command", o.Credential.Source)
	}

	r = cmdRun(t, nil, "import", "msmtp", rc, "--config", cfg)
	if r.code != exitOK || !strings.Contains(r.stdout, "Nothing new to add") || !strings.Contains(r.stdout, `= smtp.gmail.com:587: already watched as "gmail"`) {
		t.Errorf("second import:\n%s", r)
	}
	if again, _ := os.ReadFile(cfg); !bytes.Equal(again, data) {
		t.Error("the second import changed the file")
	}
}

// TestImportDefaultFiles: without an argument, msmtp's file is found in
// the home folder and Thunderbird's default profile through profiles.ini.
func TestImportDefaultFiles(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	cfg := filepath.Join(t.TempDir(), "config.toml")
	r := cmdRun(t, nil, "import", "msmtp", "--config", cfg, "--dry-run")
	if r.code != exitUnknown || !strings.Contains(r.stderr, "no msmtp configuration found (looked for "+filepath.Join(home, ".msmtprc")) {
		t.Errorf("%s", r)
	}
	os.MkdirAll(filepath.Join(home, "xdg", "msmtp"), 0o700)
	os.WriteFile(filepath.Join(home, "xdg", "msmtp", "config"), []byte("account a\nhost smtp.a.example\ntls on\nuser a\n"), 0o600)
	r = cmdRun(t, map[string]string{"XDG_CONFIG_HOME": filepath.Join(home, "xdg")}, "import", "msmtp", "--config", cfg, "--dry-run")
	if r.code != exitOK || !strings.Contains(r.stdout, "+ a: smtp.a.example, port 25 (STARTTLS) as a") {
		t.Errorf("%s", r)
	}

	src, _ := filepath.Abs("../../monitor/importer/testdata/thunderbird")
	if err := os.CopyFS(filepath.Join(home, ".thunderbird"), os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	r = cmdRun(t, nil, "import", "thunderbird", "--config", cfg)
	if r.code != exitOK || !strings.Contains(r.stdout, "x1y2z3.default-release") ||
		!strings.Contains(r.stdout, "+ example-org-ete: smtp.example.org, port 465 (SSL/TLS) as jo@example.org; password: OS keyring") ||
		!strings.Contains(r.stdout, "+ gmail: smtp.gmail.com, port 465 (SSL/TLS) as jo.example@gmail.com; password: OAuth2 sign-in (smtpwatch login gmail)") ||
		!strings.Contains(r.stdout, "smtpwatch login gmail --config "+cfg) {
		t.Errorf("%s", r)
	}
	data, _ := os.ReadFile(cfg)
	if strings.Contains(string(data), "never-read-this") || !strings.Contains(string(data), "# Sends mail from jo@example.org, jo+lists@example.org.") {
		t.Errorf("file:\n%s", data)
	}
}

// TestRemoveAndAccounts: accounts lists what the file has; remove takes an
// account out and keeps the rest of the file; a missing name or file is a
// clear error.
func TestRemoveAndAccounts(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	sock := filepath.Join(dir, "none.sock")
	const body = "# keep me\n[[account]]\nname = \"home\"\npreset = \"charter\"\nusername = \"me@charter.net\"\npassword_keyring = true\n\n" +
		"[[account]]\nname = \"work\"\nserver = \"smtp.work.example\"\nsecurity = \"tls\"\nenabled = false\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	r := cmdRun(t, nil, "accounts", "--config", cfg, "--socket", sock)
	for _, want := range []string{"· home\n    smtp.charter.net, port 587 (STARTTLS) as me@charter.net; password: OS keyring",
		"- work — disabled", "No smtpwatch daemon is running"} {
		if r.code != exitOK || !strings.Contains(r.stdout, want) {
			t.Errorf("accounts lacks %q\n%s", want, r)
		}
	}
	r = cmdRun(t, nil, "accounts", "--config", cfg, "--socket", sock, "--json")
	var list []accountJSON
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 2 || list[0].Password != "keyring" || list[1].Enabled || list[0].State != nil {
		t.Errorf("%v %+v\n%s", err, list, r)
	}

	r = cmdRun(t, nil, "remove", "--config", cfg, "nosuch")
	if r.code != exitUnknown || !strings.Contains(r.stderr, `no account named "nosuch" (its accounts: home, work)`) {
		t.Errorf("%s", r)
	}
	// The keyring cannot be reached here: the account goes, the warning
	// says how to remove the password later.
	r = cmdRun(t, nil, "remove", "--config", cfg, "HOME")
	if r.code != exitDegraded || !strings.Contains(r.stdout, `Removed "home"`) || !strings.Contains(r.stderr, "smtpwatch password delete home") {
		t.Errorf("%s", r)
	}
	data, _ := os.ReadFile(cfg)
	if want := "# keep me\n[[account]]\nname = \"work\"\nserver = \"smtp.work.example\"\nsecurity = \"tls\"\nenabled = false\n"; string(data) != want {
		t.Errorf("file:\n%s", data)
	}
	r = cmdRun(t, nil, "remove", "--config", filepath.Join(dir, "missing.toml"), "work")
	if r.code != exitUnknown || !strings.Contains(r.stderr, "no config file at") {
		t.Errorf("%s", r)
	}
	r = cmdRun(t, nil, "accounts", "--config", filepath.Join(dir, "missing.toml"), "--socket", sock)
	if r.code != exitOK || !strings.Contains(r.stdout, "No accounts in") || !strings.Contains(r.stdout, "smtpwatch add you@example.com") {
		t.Errorf("%s", r)
	}
}
