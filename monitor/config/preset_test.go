package config

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"smtpwatch/monitor/probe"
)

// TestPresets pins each provider's published settings: a wrong port or
// mode here would send every user of that provider chasing a false alarm.
func TestPresets(t *testing.T) {
	type alt = probe.Alternative
	want := []struct {
		key, name, server string
		port              int
		security          probe.Security
		alt               alt
		appPasswords      string
	}{
		{"aol", "AOL", "smtp.aol.com", 465, probe.SecurityTLS, alt{Port: 587, Security: probe.SecurityStartTLS}, "https://login.aol.com/account/security"},
		{"att", "AT&T", "outbound.att.net", 465, probe.SecurityTLS, alt{Port: 587, Security: probe.SecurityStartTLS}, ""},
		{"charter", "Charter", "smtp.charter.net", 587, probe.SecurityStartTLS, alt{Port: 465, Security: probe.SecurityTLS}, ""},
		{"comcast", "Comcast", "smtp.comcast.net", 587, probe.SecurityStartTLS, alt{Port: 465, Security: probe.SecurityTLS}, ""},
		{"fastmail", "Fastmail", "smtp.fastmail.com", 465, probe.SecurityTLS, alt{Port: 587, Security: probe.SecurityStartTLS}, ""},
		{"gmail", "Gmail", "smtp.gmail.com", 587, probe.SecurityStartTLS, alt{Port: 465, Security: probe.SecurityTLS}, "https://myaccount.google.com/apppasswords"},
		{"gmx", "GMX", "mail.gmx.com", 587, probe.SecurityStartTLS, alt{Port: 465, Security: probe.SecurityTLS}, ""},
		{"icloud", "iCloud Mail", "smtp.mail.me.com", 587, probe.SecurityStartTLS, alt{}, "https://account.apple.com"},
		{"office365", "Microsoft 365", "smtp.office365.com", 587, probe.SecurityStartTLS, alt{}, ""},
		{"outlook", "Outlook.com", "smtp-mail.outlook.com", 587, probe.SecurityStartTLS, alt{}, ""},
		{"spectrum", "Spectrum", "mobile.charter.net", 587, probe.SecurityStartTLS, alt{Port: 465, Security: probe.SecurityTLS}, ""},
		{"yahoo", "Yahoo Mail", "smtp.mail.yahoo.com", 465, probe.SecurityTLS, alt{Port: 587, Security: probe.SecurityStartTLS}, "https://login.yahoo.com/account/security"},
		{"zoho", "Zoho Mail", "smtp.zoho.com", 465, probe.SecurityTLS, alt{Port: 587, Security: probe.SecurityStartTLS}, ""},
	}
	got := Presets()
	if len(got) != len(want) {
		t.Fatalf("%d presets, want %d", len(got), len(want))
	}
	if !slices.IsSortedFunc(got, func(a, b Preset) int { return strings.Compare(a.Key, b.Key) }) {
		t.Error("Presets() is not sorted by key")
	}
	for i, w := range want {
		p := got[i]
		t.Run(w.key, func(t *testing.T) {
			if p.Key != w.key || p.Name != w.name || p.Server != w.server || p.Port != w.port ||
				p.Security != w.security || p.Alternative != w.alt || p.AppPasswordURL != w.appPasswords {
				t.Errorf("preset = %+v, want %+v", p, w)
			}
			if p.Notes == "" || strings.Contains(p.Notes, "\n") {
				t.Errorf("Notes must be one line: %q", p.Notes)
			}
			if p.AppPasswordURL != "" {
				if u, err := url.Parse(p.AppPasswordURL); err != nil || u.Scheme != "https" {
					t.Errorf("AppPasswordURL %q is not an https URL", p.AppPasswordURL)
				}
			}
			if p.Alternative.Port != 0 && p.Alternative == (probe.Alternative{Port: p.Port, Security: p.Security}) {
				t.Error("Alternative repeats the main setting")
			}
			// A preset alone makes a valid account with its settings.
			c, err := Parse("c.toml", []byte("[[account]]\nname = \""+p.Key+"\"\npreset = \""+p.Key+"\"\n"))
			if err != nil {
				t.Fatalf("account with preset %s: %v", p.Key, err)
			}
			a := c.Accounts[0]
			if a.Server != p.Server || a.Port != p.Port || a.Security != p.Security || a.Provider != p.Name {
				t.Errorf("account = %+v", a)
			}
		})
	}
}

func TestLookupPreset(t *testing.T) {
	tests := []struct {
		key  string
		want string
		ok   bool
	}{
		{"charter", "smtp.charter.net", true},
		{"Gmail", "smtp.gmail.com", true},
		{" yahoo ", "smtp.mail.yahoo.com", true},
		{"hotmail", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			p, ok := LookupPreset(tt.key)
			if ok != tt.ok || p.Server != tt.want {
				t.Errorf("LookupPreset(%q) = %q, %v", tt.key, p.Server, ok)
			}
		})
	}
	// Callers cannot change the built-in list through a returned slice.
	ps := Presets()
	ps[0].Server = "evil.example"
	if p, _ := LookupPreset(ps[0].Key); p.Server == "evil.example" {
		t.Error("changing Presets()' result changed the presets")
	}
}
