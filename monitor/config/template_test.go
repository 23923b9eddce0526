package config

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/probe"
)

// uncomment turns every "#key = value", "#[table]" and "#[[account]]"
// line of the template into a setting, as a person following its
// instructions would.
func uncomment(s string) string {
	re := regexp.MustCompile(`(?m)^#([a-z_\[])`)
	return re.ReplaceAllString(s, "$1")
}

func TestTemplate(t *testing.T) {
	c, err := Parse("config.toml", []byte(Template))
	if err != nil {
		t.Fatalf("the template does not parse: %v", err)
	}
	if len(c.Accounts) != 0 {
		t.Errorf("the template has %d accounts, want 0", len(c.Accounts))
	}

	filled := uncomment(Template)
	if filled == Template {
		t.Fatal("nothing to uncomment")
	}
	c, err = Parse("config.toml", []byte(filled))
	if err != nil {
		t.Fatalf("the uncommented template does not parse: %v\n%s", err, filled)
	}
	if len(c.Accounts) != 1 {
		t.Fatalf("the uncommented template has %d accounts, want 1", len(c.Accounts))
	}
	a := c.Accounts[0]
	want := Account{
		Name: "charter", Preset: "charter", Provider: "Charter",
		Server: "smtp.charter.net", Port: 587, Security: probe.SecurityStartTLS,
		Username: "me@charter.net", Auth: AuthPassword, From: "me@charter.net", Rcpt: "me@charter.net", Enabled: true,
		Interval: time.Minute, AuthInterval: 15 * time.Minute, Timeout: 30 * time.Second,
		CertWarnDays: 14, SlowThreshold: 5 * time.Second, FailureThreshold: 2, SuccessThreshold: 2,
		File: "config.toml",
	}
	a.Line, a.Credential = 0, Credential{}
	if a != want {
		t.Errorf("account\n got %+v\nwant %+v", a, want)
	}
	if c.Accounts[0].Credential.Source != CredentialKeyring {
		t.Errorf("credential = %+v, want the keyring", c.Accounts[0].Credential)
	}
	if len(c.OnlineTargets) != 2 || c.MetricsListen != "127.0.0.1:9925" {
		t.Errorf("globals: %+v", c)
	}
}

// TestTemplateExplainsEveryKey: each key the file accepts appears in the
// template, so a beginner can find every setting there.
func TestTemplateExplainsEveryKey(t *testing.T) {
	all := append(append(append(append(append(topKeys(), onlineKeys()...), scheduleKeys()...), accountKeys()...), keysOf(&notifyTable{})...), keysOf(&moduleTable{})...)
	for _, k := range all {
		if !strings.Contains(Template, k+" = ") && !strings.Contains(Template, "["+k+"]") && !strings.Contains(Template, "[["+k+"]]") {
			t.Errorf("the template does not show %s", k)
		}
	}
	for _, p := range Presets() {
		if !strings.Contains(Template, p.Key) {
			t.Errorf("the template does not list preset %s", p.Key)
		}
	}
}
