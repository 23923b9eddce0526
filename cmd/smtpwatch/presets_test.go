package main

import (
	"encoding/json"
	"strings"
	"testing"

	"smtpwatch/monitor/config"
)

// TestPresetsTextShowsNotes: the text list says what --json says about
// each provider: its notes and where to get an app password.
func TestPresetsTextShowsNotes(t *testing.T) {
	c := &cli{}
	if code := c.run(t, "presets"); code != 0 {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	out := c.stdout.String()
	for _, p := range config.Presets() {
		for _, want := range []string{p.Server, p.Notes, p.AppPasswordURL} {
			if !strings.Contains(out, want) {
				t.Errorf("presets text lacks %q for %s", want, p.Key)
			}
		}
	}
	if !strings.Contains(out, "Gmail: Gmail refuses your Google password from mail programs: turn on 2-Step Verification and use an app password, or sign in with OAuth2 (auth = \"oauth2\", then smtpwatch login NAME).\n    App passwords: https://myaccount.google.com/apppasswords") {
		t.Errorf("Gmail's note is not shown with its app password page:\n%s", out)
	}
}

// TestPresetsJSONSnakeCase: presets --json uses snake_case keys like every
// other JSON smtpwatch prints, and carries every field.
func TestPresetsJSONSnakeCase(t *testing.T) {
	c := &cli{}
	if code := c.run(t, "presets", "--json"); code != 0 {
		t.Fatalf("exit %d: %s", code, c.stderr.String())
	}
	var raw []map[string]any
	if err := json.Unmarshal(c.stdout.Bytes(), &raw); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, c.stdout.String())
	}
	ps := config.Presets()
	if len(raw) != len(ps) {
		t.Fatalf("%d presets, want %d", len(raw), len(ps))
	}
	allowed := map[string]bool{"key": true, "name": true, "server": true, "port": true, "security": true, "alternative": true, "app_password_url": true, "notes": true,
		"auth": true, "oauth_provider": true}
	for i, m := range raw {
		for k := range m {
			if !allowed[k] {
				t.Errorf("preset %d: key %q is not one of the snake_case keys", i, k)
			}
		}
		p := ps[i]
		if m["key"] != p.Key || m["server"] != p.Server || m["port"] != float64(p.Port) || m["security"] != string(p.Security) || m["notes"] != p.Notes {
			t.Errorf("preset %d = %v, want %+v", i, m, p)
		}
		wantAuth := string(p.DefaultAuth)
		if wantAuth == "" {
			wantAuth = "password"
		}
		if m["auth"] != wantAuth || p.OAuthProvider != "" && m["oauth_provider"] != p.OAuthProvider {
			t.Errorf("%s: auth %v, oauth_provider %v", p.Key, m["auth"], m["oauth_provider"])
		}
		if p.AppPasswordURL != "" && m["app_password_url"] != p.AppPasswordURL {
			t.Errorf("%s: app_password_url = %v", p.Key, m["app_password_url"])
		}
		alt, _ := m["alternative"].(map[string]any)
		if p.Alternative.Port != 0 && (alt == nil || alt["port"] != float64(p.Alternative.Port) || alt["security"] != string(p.Alternative.Security)) {
			t.Errorf("%s: alternative = %v", p.Key, m["alternative"])
		}
		if p.Alternative.Port == 0 && alt != nil {
			t.Errorf("%s: alternative %v, want none", p.Key, alt)
		}
	}
}
