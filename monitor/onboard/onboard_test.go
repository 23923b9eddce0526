package onboard

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/discover"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

// A preset's server becomes the preset's key (with port and security only
// when they are its other mode); another server its name, port and mode.
func TestFromCandidate(t *testing.T) {
	gmail := FromCandidate(discover.Candidate{Server: "smtp.gmail.com", Port: 465, Security: probe.SecurityTLS,
		Preset: "gmail", Provider: "Gmail", Source: discover.SourceProviders, Via: "x"})
	if gmail.Settings.Preset == nil || *gmail.Settings.Preset != "gmail" || gmail.Settings.Server != nil ||
		gmail.Label != "Gmail: smtp.gmail.com, port 465 (SSL/TLS)" || gmail.From != "smtpwatch's provider list" {
		t.Errorf("gmail: %+v (%s, %s)", gmail.Settings, gmail.Label, gmail.From)
	}
	other := FromCandidate(discover.Candidate{Server: "mail.example.com", Port: 587, Security: probe.SecurityStartTLS,
		Source: discover.SourceAutoconfig, Via: "https://autoconfig.example.com/x", Auth: []discover.Auth{discover.AuthOAuth2}})
	if *other.Settings.Server != "mail.example.com" || *other.Settings.Port != 587 || *other.Settings.Security != "starttls" ||
		!other.OAuth2 || !strings.HasSuffix(other.From, "(https://autoconfig.example.com/x)") {
		t.Errorf("other: %+v %+v", other, other.Settings)
	}
	if n := Choices([]Server{{Source: "a"}, {Source: "a"}, {Source: "b"}, {Source: "a"}}); n != 2 {
		t.Errorf("Choices: %d, want the 2 of the best source", n)
	}
	if Choices(nil) != 0 {
		t.Error("Choices of none")
	}
	acct := config.Account{Server: "mail.example.com"}
	next, ok := FollowUp(other, acct, probe.Result{Suggestion: &probe.Suggestion{Port: 465, Security: probe.SecurityTLS}})
	if !ok || *next.Settings.Port != 465 || *next.Settings.Security != "tls" || *other.Settings.Port != 587 ||
		next.Label != "mail.example.com, port 465 (SSL/TLS)" {
		t.Errorf("FollowUp: %+v, %v (the original must stay: port %d)", next, ok, *other.Settings.Port)
	}
	if _, ok := FollowUp(other, acct, probe.Result{}); ok {
		t.Error("a follow-up without a suggestion")
	}
}

func TestSuggestName(t *testing.T) {
	cfg, err := config.Parse("c.toml", []byte("[[account]]\nname = \"example\"\nserver = \"a.example\"\n[[account]]\nname = \"Gmail\"\nserver = \"b.example\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ preset, domain, want string }{
		{"", "example.com", "example-2"},
		{"gmail", "gmail.com", "gmail-2"},
		{"", "mail.work.example", "mail"},
		{"", "...", "mail"},
	} {
		if got := SuggestName(cfg, c.preset, c.domain); got != c.want {
			t.Errorf("SuggestName(%q, %q) = %q, want %q", c.preset, c.domain, got, c.want)
		}
	}
	if SuggestName(nil, "", "example.com") != "example" {
		t.Error("without a config")
	}
}

// Check signs in as a live check does, and Works tells a server that took
// the password from one that only answered.
func TestCheckAndWorks(t *testing.T) {
	ca := smtptest.NewCA(t, "Onboard CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{"me@example.test": "right"}})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	port, user, sec := srv.Port, "me@example.test", "starttls"
	server := "127.0.0.1"
	acct, err := Resolve("t", config.Settings{Server: &server, Port: &port, Security: &sec, Username: &user, CAFile: &caFile})
	if err != nil {
		t.Fatal(err)
	}
	deps := probe.Deps{OnlineTargets: []string{}}
	ctx := context.Background()
	good := Check(ctx, acct, credential.NewSecret("right"), CheckOptions{Timeout: 10 * time.Second, Deps: deps})
	if !Works(good, true) {
		t.Fatalf("the right password: %+v", good)
	}
	bad := Check(ctx, acct, credential.NewSecret("wrong"), CheckOptions{Timeout: 10 * time.Second, Deps: deps})
	if Works(bad, true) || !PasswordRefused(bad) || !strings.Contains(bad.Message+strings.Join(bad.Advice, " "), "the password you gave") {
		t.Errorf("the wrong password: %+v", bad)
	}
	skip := Check(ctx, acct, credential.Secret{}, CheckOptions{Timeout: 10 * time.Second, SkipAuth: true, Deps: deps})
	if !Works(skip, false) || Works(skip, true) {
		t.Errorf("without signing in: %+v", skip)
	}
	if _, err := Resolve("t", config.Settings{Security: &sec}); err == nil || !strings.Contains(err.Error(), "--server: missing") {
		t.Errorf("Resolve names flags: %v", err)
	}
}

// Save writes the account; an account the file cannot take writes
// nothing, and a keyring that cannot be reached stops it before the file
// is touched.
func TestSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	server, cmd, user := "smtp.example.com", "pass show mail", "me@example.com"
	na := config.NewAccount{Name: "work", Settings: config.Settings{Server: &server, Username: &user, PasswordCommand: &cmd},
		Comment: Comment("me@example.com", "a guess", time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC))}
	cfg, err := Save(context.Background(), path, na, credential.Secret{})
	if err != nil || len(cfg.Accounts) != 1 {
		t.Fatalf("%+v, %v", cfg, err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "# Added by smtpwatch add on 2026-12-02 for me@example.com; server from a guess.\n[[account]]\nname = \"work\"") {
		t.Errorf("the file:\n%s", data)
	}
	if _, err := Save(context.Background(), path, na, credential.Secret{}); !errors.Is(err, config.ErrAccountExists) {
		t.Errorf("a second account of the same name: %v", err)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	yes := true
	na.Name, na.Settings.PasswordCommand, na.Settings.PasswordKeyring = "other", nil, &yes
	_, err = Save(context.Background(), path, na, credential.NewSecret("pw"))
	var ke *credential.Error
	if !errors.As(err, &ke) || !errors.Is(err, credential.ErrNoSessionBus) {
		t.Errorf("no keyring: %v", err)
	}
	if after, _ := os.ReadFile(path); string(after) != string(data) {
		t.Error("the file was written although the password could not be stored")
	}
}
