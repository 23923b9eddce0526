package config

import (
	"strings"

	"smtpwatch/monitor/oauth"
	"smtpwatch/monitor/probe"
)

// Preset is a provider's published submission settings, so that an account
// can say preset = "charter" instead of server, port and security.
type Preset struct {
	Key      string // what preset = "..." names, lower case: "charter"
	Name     string // for people: "Charter"
	Server   string
	Port     int
	Security probe.Security
	// Alternative is the provider's other supported port and mode; the zero
	// value means the provider documents only one.
	Alternative probe.Alternative
	// AppPasswordURL is where the provider issues app passwords, for
	// providers that refuse the normal password from mail programs; "" when
	// it has none or its page is not known.
	AppPasswordURL string
	// DefaultAuth is how an account of the preset signs in when it says
	// nothing (no auth, no password source, no oauth_* key): AuthOAuth2
	// for providers that refuse passwords; "" means by password.
	DefaultAuth AuthMethod
	// OAuthProvider is the OAuth2 provider of the preset's accounts
	// (oauth.Microsoft, oauth.Google); "" when it has none.
	OAuthProvider string
	Notes         string // one line of advice for people setting it up
	// Domains are the mail domains the provider serves (provider.go):
	// "gmail.com", or "*.rr.com" for every name under rr.com.
	Domains []string
	// MX are the mail exchangers that show a domain hosted by the provider
	// (provider.go): a domain whose MX host is, or ends in, one of these
	// sends through this preset (Google Workspace, Microsoft 365).
	MX []string
}

// Presets returns the built-in presets, sorted by Key. The slice is new on
// every call; callers may change it.
func Presets() []Preset {
	// Sorted by key. The test checks the order.
	ps := []Preset{
		{
			Key: "aol", Name: "AOL", Server: "smtp.aol.com", Port: 465, Security: probe.SecurityTLS,
			Alternative:    probe.Alternative{Port: 587, Security: probe.SecurityStartTLS},
			AppPasswordURL: "https://login.aol.com/account/security",
			Notes:          "AOL wants an app password for mail programs: generate one under Account Security.",
		},
		{
			Key: "att", Name: "AT&T", Server: "outbound.att.net", Port: 465, Security: probe.SecurityTLS,
			Alternative: probe.Alternative{Port: 587, Security: probe.SecurityStartTLS},
			Notes:       "AT&T mail programs need a secure mail key (from your AT&T profile's sign-in info), not your AT&T password.",
		},
		{
			Key: "charter", Name: "Charter", Server: "smtp.charter.net", Port: 587, Security: probe.SecurityStartTLS,
			Alternative: probe.Alternative{Port: 465, Security: probe.SecurityTLS},
			Notes:       "Use your full email address (name@charter.net) as the user name, with your email password.",
		},
		{
			Key: "comcast", Name: "Comcast", Server: "smtp.comcast.net", Port: 587, Security: probe.SecurityStartTLS,
			Alternative: probe.Alternative{Port: 465, Security: probe.SecurityTLS},
			Notes:       "Xfinity: allow third-party email access in your Xfinity email security settings, and use your full address as the user name.",
		},
		{
			Key: "fastmail", Name: "Fastmail", Server: "smtp.fastmail.com", Port: 465, Security: probe.SecurityTLS,
			Alternative: probe.Alternative{Port: 587, Security: probe.SecurityStartTLS},
			Notes:       "Fastmail needs an app password for mail programs (Settings → Privacy & Security → App passwords).",
		},
		{
			Key: "gmail", Name: "Gmail", Server: "smtp.gmail.com", Port: 587, Security: probe.SecurityStartTLS,
			Alternative:    probe.Alternative{Port: 465, Security: probe.SecurityTLS},
			AppPasswordURL: "https://myaccount.google.com/apppasswords",
			OAuthProvider:  oauth.Google,
			Notes:          "Gmail refuses your Google password from mail programs: turn on 2-Step Verification and use an app password, or sign in with OAuth2 (auth = \"oauth2\", then smtpwatch login NAME).",
		},
		{
			Key: "gmx", Name: "GMX", Server: "mail.gmx.com", Port: 587, Security: probe.SecurityStartTLS,
			Alternative: probe.Alternative{Port: 465, Security: probe.SecurityTLS},
			Notes:       "Turn on POP3/IMAP access in the GMX web settings first; without it sending from a mail program is refused.",
		},
		{
			Key: "icloud", Name: "iCloud Mail", Server: "smtp.mail.me.com", Port: 587, Security: probe.SecurityStartTLS,
			AppPasswordURL: "https://account.apple.com",
			Notes:          "iCloud needs an app-specific password (Sign-In and Security → App-Specific Passwords); two-factor authentication must be on.",
		},
		{
			Key: "office365", Name: "Microsoft 365", Server: "smtp.office365.com", Port: 587, Security: probe.SecurityStartTLS,
			DefaultAuth: AuthOAuth2, OAuthProvider: oauth.Microsoft,
			Notes: "Work and school mailboxes sign in with OAuth2 (smtpwatch login NAME); the organisation's admin must allow Authenticated SMTP for the mailbox, and many have it turned off.",
		},
		{
			Key: "outlook", Name: "Outlook.com", Server: "smtp-mail.outlook.com", Port: 587, Security: probe.SecurityStartTLS,
			DefaultAuth: AuthOAuth2, OAuthProvider: oauth.Microsoft,
			Notes: "Outlook.com, Hotmail and Live addresses refuse passwords, even app passwords: sign in with OAuth2 (smtpwatch login NAME).",
		},
		{
			Key: "spectrum", Name: "Spectrum", Server: "mobile.charter.net", Port: 587, Security: probe.SecurityStartTLS,
			Alternative: probe.Alternative{Port: 465, Security: probe.SecurityTLS},
			Notes:       "Spectrum addresses (@charter.net, @spectrum.net and others); use your full address as the user name.",
		},
		{
			Key: "yahoo", Name: "Yahoo Mail", Server: "smtp.mail.yahoo.com", Port: 465, Security: probe.SecurityTLS,
			Alternative:    probe.Alternative{Port: 587, Security: probe.SecurityStartTLS},
			AppPasswordURL: "https://login.yahoo.com/account/security",
			Notes:          "Yahoo refuses your Yahoo password from most mail programs: generate an app password under Account Security.",
		},
		{
			Key: "zoho", Name: "Zoho Mail", Server: "smtp.zoho.com", Port: 465, Security: probe.SecurityTLS,
			Alternative: probe.Alternative{Port: 587, Security: probe.SecurityStartTLS},
			Notes:       "With two-factor authentication on, use an application-specific password; some regions use smtp.zoho.eu or smtp.zoho.in.",
		},
	}
	withDomains(ps)
	return ps
}

// LookupPreset finds a preset by key, ignoring case.
func LookupPreset(key string) (Preset, bool) {
	key = strings.ToLower(strings.TrimSpace(key))
	for _, p := range Presets() {
		if p.Key == key {
			return p, true
		}
	}
	return Preset{}, false
}

func presetKeys() []string {
	ps := Presets()
	keys := make([]string, len(ps))
	for i, p := range ps {
		keys[i] = p.Key
	}
	return keys
}
