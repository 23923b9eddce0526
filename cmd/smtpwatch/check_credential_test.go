package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckReportsUnreadableCredential: an account whose password cannot
// be read is reported (degraded, no_credentials, with the reason) and
// checked without signing in, while the other accounts are checked as
// usual; the exit status is the worst. Before, one unreadable password
// stopped the whole check with exit status 3.
func TestCheckReportsUnreadableCredential(t *testing.T) {
	tb := newTestbed(t)
	t.Setenv("SMTPWATCH_TEST_PW", testPass)
	host, port, _ := net.SplitHostPort(tb.srv.Addr)
	cfg := filepath.Join(tb.dir, "config.toml")
	account := func(name, source string) string {
		return fmt.Sprintf("[[account]]\nname = %q\nserver = %q\nport = %s\nsecurity = \"starttls\"\nusername = %q\n%s\nca_file = %q\n\n",
			name, host, port, testUser, source, tb.caFile)
	}
	body := fmt.Sprintf("[online]\ntargets = [%q]\n\n", tb.online) +
		account("good", `password_env = "SMTPWATCH_TEST_PW"`) +
		account("unset", `password_env = "SMTPWATCH_TEST_UNSET_VARIABLE"`) +
		account("failing", `password_command = "echo 'vault: locked' >&2; exit 4"`)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cli{}
	code := c.run(t, "check", "--config", cfg, "--json", "--alternatives", "none")
	var d doc
	if err := json.Unmarshal(c.stdout.Bytes(), &d); err != nil {
		t.Fatalf("exit %d, not JSON: %v\n%s%s", code, err, c.stdout.String(), c.stderr.String())
	}
	if code != 1 || d.Status != "degraded" || len(d.Accounts) != 3 {
		t.Fatalf("exit %d, status %q, %d accounts; want 1, degraded, 3\n%s", code, d.Status, len(d.Accounts), c.stdout.String())
	}
	if a := d.Accounts[0]; a.Status != "ok" || a.Cause != "ok" {
		t.Errorf("good: %s %s", a.Status, a.Cause)
	}
	for i, want := range []string{
		cfg + `:19: account "unset": password_env: environment variable SMTPWATCH_TEST_UNSET_VARIABLE is not set`,
		cfg + `:28: account "failing": password_command: the command failed: exit status 4: vault: locked`,
	} {
		a := d.Accounts[i+1]
		if a.Status != "degraded" || a.Cause != "no_credentials" || !strings.Contains(a.Message, want) {
			t.Errorf("%s: %s %s %q, want degraded no_credentials with %q", a.Name, a.Status, a.Cause, a.Message, want)
		}
		for _, p := range a.Phases {
			if p.Name == "auth" {
				t.Errorf("%s: signed in without a password", a.Name)
			}
		}
	}

	// In text, each says so.
	code = c.run(t, "check", "--config", cfg, "--alternatives", "none")
	if code != 1 || !strings.Contains(c.stdout.String(), "SMTPWATCH_TEST_UNSET_VARIABLE is not set") {
		t.Errorf("text: exit %d\n%s%s", code, c.stdout.String(), c.stderr.String())
	}
}

// TestCheckSupportCommandKeepsFlags: "Report for support" repeats every
// flag that changes what was checked, and no secret.
func TestCheckSupportCommandKeepsFlags(t *testing.T) {
	tb := newTestbed(t)
	const secret = "Sup3r-S3cret"
	c := &cli{}
	c.run(t, tb.adHoc("--username", testUser, "--password-command", "printf "+secret,
		"--ehlo-name", "laptop.example", "--from", "me@example.test", "--rcpt", "you@example.test")...)
	out := c.stdout.String()
	i := strings.Index(out, "Report for support: ")
	if i < 0 {
		t.Fatalf("no support command:\n%s", out)
	}
	line, _, _ := strings.Cut(out[i+len("Report for support: "):], "\n")
	for _, want := range []string{"smtpwatch check", "--server " + tb.srv.Addr, "--security starttls", "--ca-file " + tb.caFile,
		"--username " + testUser, "--ehlo-name laptop.example", "--from me@example.test", "--rcpt you@example.test",
		"--timeout 5s", "--online-targets " + tb.online, "--alternatives none", "--json"} {
		if !strings.Contains(line, want) {
			t.Errorf("support command %q lacks %q", line, want)
		}
	}
	if strings.Contains(out+c.stderr.String(), secret) || strings.Contains(line, "password-command") {
		t.Errorf("support command shows the password command: %q", line)
	}

	// From a config: the file, the account, and the flags that changed it.
	cfg := filepath.Join(tb.dir, "c.toml")
	host, port, _ := net.SplitHostPort(tb.srv.Addr)
	body := fmt.Sprintf("[[account]]\nname = \"lab\"\nserver = %q\nport = %s\nsecurity = \"tls\"\n", host, port)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c.run(t, "check", "--config", cfg, "--timeout", "3s", "--online-targets", tb.online, "--alternatives", "none")
	want := "Report for support: smtpwatch check --config " + cfg + " --account lab --timeout 3s --online-targets " + tb.online + " --alternatives none --json"
	if !strings.Contains(c.stdout.String(), want) {
		t.Errorf("config support command: want %q in\n%s", want, c.stdout.String())
	}
}
