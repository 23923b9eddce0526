package config

import (
	"testing"
)

// TestPresetForDomain: every domain the provider table promises finds its
// preset, in any case, with a trailing dot, in Unicode; others find none.
func TestPresetForDomain(t *testing.T) {
	for domain, want := range map[string]string{
		"charter.net": "charter", "spectrum.net": "spectrum", "nc.rr.com": "spectrum", "rr.com": "spectrum",
		"gmail.com": "gmail", "GoogleMail.com.": "gmail",
		"outlook.com": "outlook", "hotmail.com": "outlook", "live.com": "outlook", "msn.com": "outlook",
		"yahoo.com": "yahoo", "icloud.com": "icloud", "me.com": "icloud", "mac.com": "icloud",
		"aol.com": "aol", "verizon.net": "aol", "comcast.net": "comcast",
		"att.net": "att", "sbcglobal.net": "att", "fastmail.com": "fastmail", "zoho.com": "zoho",
		"gmx.com": "gmx", "gmx.net": "gmx",
	} {
		p, ok := PresetForDomain(domain)
		if !ok || p.Key != want {
			t.Errorf("PresetForDomain(%q) = %q, %v; want %q", domain, p.Key, ok, want)
		}
	}
	for _, domain := range []string{"", "example.com", "gmail.com.evil.example", "notgmail.com", "xrr.com", "mäil.example", "localhost", "bad domain.com"} {
		if p, ok := PresetForDomain(domain); ok {
			t.Errorf("PresetForDomain(%q) = %q, want none", domain, p.Key)
		}
	}
	// Every preset but Microsoft 365 (own domains only) serves some domain.
	for _, p := range Presets() {
		if len(p.Domains) == 0 && p.Key != "office365" {
			t.Errorf("preset %q has no domains", p.Key)
		}
	}
}

// TestPresetForMX: a domain hosted by Microsoft 365 or Google Workspace is
// known by its mail exchanger.
func TestPresetForMX(t *testing.T) {
	for mx, want := range map[string]string{
		"example-com.mail.protection.outlook.com.": "office365",
		"aspmx.l.google.com":                       "gmail",
		"ALT1.ASPMX.L.GOOGLE.COM":                  "gmail",
		"smtp.google.com":                          "gmail",
		"in1-smtp.messagingengine.com":             "fastmail",
		"hotmail-com.olc.protection.outlook.com":   "outlook",
	} {
		p, ok := PresetForMX(mx)
		if !ok || p.Key != want {
			t.Errorf("PresetForMX(%q) = %q, %v; want %q", mx, p.Key, ok, want)
		}
	}
	for _, mx := range []string{"mx.example.com", "google.com.evil.example", "notaspmx.l.google.com.example", "protection.outlook.com"} {
		if p, ok := PresetForMX(mx); ok {
			t.Errorf("PresetForMX(%q) = %q, want none", mx, p.Key)
		}
	}
}

// TestPresetSignIn: the providers that refuse passwords want OAuth2; the
// ones that issue app passwords say so.
func TestPresetSignIn(t *testing.T) {
	for key, want := range map[string]SignInMethod{
		"office365": SignInOAuth2, "outlook": SignInOAuth2,
		"gmail": SignInAppPassword, "yahoo": SignInAppPassword, "aol": SignInAppPassword, "icloud": SignInAppPassword,
		"charter": SignInPassword,
	} {
		p, _ := LookupPreset(key)
		if got := p.SignInMethod(); got != want {
			t.Errorf("%s: SignInMethod() = %q, want %q", key, got, want)
		}
	}
}
