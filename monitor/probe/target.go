package probe

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"smtpwatch/monitor/credential"
)

// Security is how a connection to the submission server is protected.
type Security string

// The security modes an account can name.
const (
	// SecurityStartTLS connects in plaintext and upgrades with STARTTLS
	// (port 587). The probe fails if the server does not offer STARTTLS.
	SecurityStartTLS Security = "starttls"
	// SecurityTLS speaks TLS from the first byte ("SSL/TLS", port 465).
	SecurityTLS Security = "tls"
	// SecurityNone never encrypts. The probe refuses to authenticate on such
	// a connection unless Target.AllowPlaintextAuth is set.
	SecurityNone Security = "none"
	// SecurityAuto finds out whether the port speaks implicit TLS or
	// plaintext-then-STARTTLS and uses what it finds.
	SecurityAuto Security = "auto"
)

// ParseSecurity accepts the mode names of the config file and the command
// line, plus the spellings mail programs use ("ssl", "ssl/tls", "tls/ssl").
func ParseSecurity(s string) (Security, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "starttls":
		return SecurityStartTLS, nil
	case "tls", "ssl", "ssl/tls", "tls/ssl", "implicit":
		return SecurityTLS, nil
	case "none", "plain", "plaintext":
		return SecurityNone, nil
	case "auto", "":
		return SecurityAuto, nil
	}
	return "", fmt.Errorf("unknown security %q: want starttls, tls, none or auto", s)
}

// Label is the mode as a mail program's settings dialog names it.
func (s Security) Label() string {
	switch s {
	case SecurityStartTLS:
		return "STARTTLS"
	case SecurityTLS:
		return "SSL/TLS"
	case SecurityNone:
		return "no encryption"
	case SecurityAuto:
		return "auto"
	}
	return string(s)
}

// DefaultPort is the usual submission port for a security mode.
func DefaultPort(s Security) int {
	if s == SecurityTLS {
		return 465
	}
	return 587
}

// Target is one account's submission server as the probe sees it: resolved
// settings, no file names or credential sources. The zero values of the
// optional fields mean the documented defaults.
type Target struct {
	Name     string // account name used in reports, e.g. "charter"
	Provider string // display name for messages, e.g. "Charter"; "" uses Name
	Server   string // host name or IP literal, without port
	Port     int
	Security Security

	Username string // "" means no credentials: auth is reported as not verified
	Password credential.Secret
	// CredentialHint tells the user how to change the password, for advice:
	// "smtpwatch password set charter", "the variable CHARTER_PASSWORD".
	CredentialHint string
	// AppPasswordURL is where the provider issues app passwords, if it does.
	AppPasswordURL string

	// Token, when set, makes the probe sign in with OAuth2 — SASL XOAUTH2
	// or OAUTHBEARER, as the user Username — instead of a password
	// (Password is then not used). The probe calls it once, only when the
	// check reaches the login and the server offers an OAuth mechanism,
	// for a valid access token. An error says why there is none: one
	// wrapping credential.ErrProviderUnreachable is reported as
	// oauth_provider_unreachable, any other as oauth_sign_in_required.
	// Its text is shown to people and must hold no secret.
	Token TokenFunc
	// OAuthProvider is "microsoft", "google" or "" (another provider): it
	// picks the mechanism (Microsoft takes XOAUTH2 only) and the advice.
	OAuthProvider string
	// OAuthMechanism forces "XOAUTH2" or "OAUTHBEARER"; "" picks from what
	// the server offers: XOAUTH2 for Microsoft, else OAUTHBEARER (RFC
	// 7628) when offered, else XOAUTH2.
	OAuthMechanism string

	// From and Rcpt enable the envelope phase (MAIL FROM, RCPT TO, RSET; never
	// DATA) when both are set.
	From string
	Rcpt string

	EHLOName string         // name sent in EHLO; "" means "localhost"
	RootCAs  *x509.CertPool // nil means the system roots (SSL_CERT_FILE is honoured)

	// TLSSkipVerify accepts any certificate. Every report says so loudly.
	TLSSkipVerify bool
	// AllowPlaintextAuth lets the password go over an unencrypted connection
	// (security = none). Every report warns about it.
	AllowPlaintextAuth bool

	Timeout       time.Duration // whole check, follow-ups included; 0 means 30 s
	CertWarnDays  int           // certificate_expiring below this; 0 means 14
	SlowThreshold time.Duration // slow_response above this; 0 means 5 s

	// WorkedAt is the last time these same settings (server, port,
	// security, user name, credential) reached a working verdict, as the
	// daemon remembers it; zero when unknown or never. Advice for a failure
	// then says the settings were fine and something changed on the way
	// or at the provider, instead of asking to check the settings.
	WorkedAt time.Time
	// Watching is set when a daemon keeps checking this account, so that
	// advice may say "smtpwatch checks again"; a one-shot check must not
	// promise that.
	Watching bool

	// SkipAuth makes a connectivity-and-TLS probe: no AUTH, no envelope, and no
	// no_credentials warning. The daemon uses it between auth probes.
	SkipAuth bool
}

// Defaults for the optional Target fields.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultCertWarnDays  = 14
	DefaultSlowThreshold = 5 * time.Second
	DefaultEHLOName      = "localhost"
)

func (t Target) timeout() time.Duration {
	if t.Timeout > 0 {
		return t.Timeout
	}
	return DefaultTimeout
}

func (t Target) certWarnDays() int {
	if t.CertWarnDays > 0 {
		return t.CertWarnDays
	}
	return DefaultCertWarnDays
}

func (t Target) slowThreshold() time.Duration {
	if t.SlowThreshold > 0 {
		return t.SlowThreshold
	}
	return DefaultSlowThreshold
}

func (t Target) ehloName() string {
	if t.EHLOName != "" {
		return t.EHLOName
	}
	return DefaultEHLOName
}

// hasCredential reports whether the target has something to sign in
// with: a user name and a password or an access token.
func (t Target) hasCredential() bool {
	return t.Username != "" && (!t.Password.IsZero() || t.Token != nil)
}

// DisplayName is how messages name the account's provider.
func (t Target) DisplayName() string {
	if t.Provider != "" {
		return t.Provider
	}
	if t.Name != "" {
		return t.Name
	}
	return t.Server
}

// Addr is the server's host:port.
func (t Target) Addr() string { return net.JoinHostPort(t.Server, fmt.Sprint(t.Port)) }

// Alternative is another port and mode tried when the configured one cannot
// be used, to tell the user what would work instead.
type Alternative struct {
	Port     int
	Security Security
}

// DefaultAlternatives are the submission ports and modes tried, in order of
// preference, when the configured one is blocked or speaks another mode.
var DefaultAlternatives = []Alternative{
	{587, SecurityStartTLS},
	{465, SecurityTLS},
	{25, SecurityStartTLS},
	{2525, SecurityStartTLS},
}

// TokenFunc returns an OAuth2 access token, blocking until it has one or
// ctx ends (see Target.Token).
type TokenFunc func(ctx context.Context) (credential.Secret, error)

// The OAuth2 providers Target.OAuthProvider names.
const (
	ProviderMicrosoft = "microsoft"
	ProviderGoogle    = "google"
)

// DialFunc opens a network connection; net.Dialer.DialContext satisfies it.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// ResolveFunc looks up a host name's addresses; net.Resolver.LookupIPAddr
// satisfies it. host is in ASCII (an international name arrives in its
// xn-- form). It must return once ctx is done: Probe cancels ctx before it
// returns and counts on the lookup having ended then. (LookupIPAddr leaves
// its query running on a shared goroutine for a moment after a
// cancellation; the default uses LookupHost, which does not.)
type ResolveFunc func(ctx context.Context, host string) ([]net.IPAddr, error)

// Clock tells the time. A nil Clock in Deps means the real clock.
type Clock interface{ Now() time.Time }

// Deps are the probe's links to the world. The zero value uses the real
// network and clock and the default follow-ups.
type Deps struct {
	Dial    DialFunc    // nil means a net.Dialer
	Resolve ResolveFunc // nil means net.DefaultResolver.LookupHost
	Clock   Clock       // nil means time.Now; also used to judge certificate dates
	Logger  *slog.Logger

	// OnlineTargets are host:port addresses dialled to tell "this computer is
	// offline" from "the server is down". nil means DefaultOnlineTargets; an
	// empty non-nil slice disables the check.
	OnlineTargets []string
	// Alternatives are tried when the configured port or mode fails. nil means
	// DefaultAlternatives; an empty non-nil slice disables them.
	Alternatives []Alternative
}

// DefaultOnlineTargets are reached by IP address so that a broken resolver
// does not look like a missing network. Tests must override them.
var DefaultOnlineTargets = []string{"1.1.1.1:443", "8.8.8.8:443", "9.9.9.9:443"}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (d Deps) withDefaults() Deps {
	if d.Dial == nil {
		var nd net.Dialer
		d.Dial = nd.DialContext
	}
	if d.Resolve == nil {
		d.Resolve = lookupHost
	}
	if d.Clock == nil {
		d.Clock = realClock{}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.OnlineTargets == nil {
		d.OnlineTargets = DefaultOnlineTargets
	}
	if d.Alternatives == nil {
		d.Alternatives = DefaultAlternatives
	}
	return d
}
