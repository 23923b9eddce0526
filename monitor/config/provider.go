package config

import (
	"strings"

	"golang.org/x/net/idna"
)

// The provider table: which mail domains each preset serves, and which
// mail exchangers (MX hosts) show a domain of one's own hosted by it. This
// is the one home of that knowledge: `smtpwatch add` finds a preset from
// an address with PresetForDomain and from a domain's MX records with
// PresetForMX, and Preset.Domains and Preset.MX show the same lists.

// presetDomains are the domains of each preset, by key. "*.rr.com" matches
// every name under rr.com, not rr.com itself.
var presetDomains = map[string][]string{
	"aol": {"aol.com", "aim.com", "love.com", "verizon.net"}, // Verizon's addresses moved to AOL's servers
	"att": {"att.net", "sbcglobal.net", "bellsouth.net", "pacbell.net", "swbell.net", "flash.net",
		"prodigy.net", "ameritech.net", "nvbell.net", "snet.net", "wans.net"},
	"charter":  {"charter.net"},
	"comcast":  {"comcast.net"},
	"fastmail": {"fastmail.com", "fastmail.fm"},
	"gmail":    {"gmail.com", "googlemail.com"},
	"gmx":      {"gmx.com", "gmx.net", "gmx.us", "gmx.co.uk"},
	"icloud":   {"icloud.com", "me.com", "mac.com"},
	"outlook": {"outlook.com", "hotmail.com", "live.com", "msn.com", "passport.com",
		"hotmail.co.uk", "live.co.uk", "outlook.co.uk", "hotmail.fr", "live.fr", "outlook.fr",
		"hotmail.de", "outlook.de", "hotmail.it", "hotmail.es", "outlook.es"},
	"spectrum": {"spectrum.net", "twc.com", "rr.com", "*.rr.com", "roadrunner.com", "brighthouse.com", "bresnan.net"},
	"yahoo":    {"yahoo.com", "ymail.com", "rocketmail.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.ca"},
	"zoho":     {"zoho.com", "zohomail.com"},
}

// presetMX are the MX hosts that show a domain hosted by a preset's
// provider: a host equal to one of these or ending in "." and one of them.
var presetMX = map[string][]string{
	"office365": {"mail.protection.outlook.com"},                             // Microsoft 365 (Exchange Online)
	"outlook":   {"olc.protection.outlook.com"},                              // Outlook.com
	"gmail":     {"aspmx.l.google.com", "googlemail.com", "smtp.google.com"}, // Google Workspace
	"icloud":    {"mail.icloud.com"},                                         // iCloud+ custom domains
	"fastmail":  {"messagingengine.com"},
	"zoho":      {"zoho.com"},
}

// withDomains fills in the provider table's lists.
func withDomains(ps []Preset) {
	for i := range ps {
		ps[i].Domains = presetDomains[ps[i].Key]
		ps[i].MX = presetMX[ps[i].Key]
	}
}

// SignInMethod is how a provider wants mail programs to sign in.
type SignInMethod string

// The sign-in methods.
const (
	// SignInPassword: the account's own password.
	SignInPassword SignInMethod = "password"
	// SignInAppPassword: a password made for mail programs on the
	// provider's website (Preset.AppPasswordURL), not the account's own.
	SignInAppPassword SignInMethod = "app_password"
	// SignInOAuth2: the provider refuses passwords; mail programs sign in
	// with OAuth2 in a browser (Preset.DefaultAuth).
	SignInOAuth2 SignInMethod = "oauth2"
)

// SignInMethod says how the provider wants mail programs to sign in.
func (p Preset) SignInMethod() SignInMethod {
	switch {
	case p.DefaultAuth == AuthOAuth2:
		return SignInOAuth2
	case p.AppPasswordURL != "":
		return SignInAppPassword
	}
	return SignInPassword
}

// NormalizeDomain is a mail domain as the provider table and DNS know it:
// lower case, in its ASCII (xn--) form, without a trailing dot. false when
// it is not a domain name.
func NormalizeDomain(d string) (string, bool) {
	d = strings.TrimSuffix(strings.TrimSpace(d), ".")
	if d == "" {
		return "", false
	}
	a, err := idna.Lookup.ToASCII(d)
	if err != nil || a == "" || !strings.Contains(a, ".") {
		return "", false
	}
	return strings.ToLower(a), true
}

// PresetForDomain finds the preset whose provider serves addresses at
// domain ("gmail.com", any case, Unicode or ASCII).
func PresetForDomain(domain string) (Preset, bool) {
	d, ok := NormalizeDomain(domain)
	if !ok {
		return Preset{}, false
	}
	for _, p := range Presets() {
		for _, pd := range p.Domains {
			if sub, ok := strings.CutPrefix(pd, "*."); ok {
				if strings.HasSuffix(d, "."+sub) {
					return p, true
				}
			} else if d == pd {
				return p, true
			}
		}
	}
	return Preset{}, false
}

// PresetForMX finds the preset whose provider runs the mail exchanger host
// ("example-com.mail.protection.outlook.com" is Microsoft 365), so that a
// domain of one's own hosted there sends through the provider's server.
func PresetForMX(host string) (Preset, bool) {
	h, ok := NormalizeDomain(host)
	if !ok {
		return Preset{}, false
	}
	for _, p := range Presets() {
		for _, m := range p.MX {
			if h == m || strings.HasSuffix(h, "."+m) {
				return p, true
			}
		}
	}
	return Preset{}, false
}

// ValidName reports whether n can name an account: letters, digits, '.',
// '_' and '-', at most 64.
func ValidName(n string) bool { return validName(n) }
