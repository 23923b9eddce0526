// Package oauth knows the OAuth2 providers smtpwatch signs in to —
// Microsoft (Microsoft 365, Outlook.com) and Google (Gmail), or any other
// given its endpoints — and runs the sign-in: the authorization code grant
// with PKCE and a one-shot loopback redirect (Login), or the device
// authorization grant for computers without a browser (DeviceLogin). The
// result is a refresh token, stored as a credential.Grant (Save); access
// tokens come from it later through credential.TokenSource.
//
// Nothing can be registered with a provider from here: a build takes a
// default client id per provider through -ldflags (MicrosoftClientID,
// GoogleClientID, GoogleClientSecret), empty by default, and an account
// may name its own (oauth_client_id). Without either, sign-in fails with
// ErrNoClientID, whose message points to the README's "Sign in with
// OAuth2" section.
//
// The package opens no browser itself and keeps no state; the caller
// passes how to open a URL and how to show it.
package oauth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"smtpwatch/monitor/credential"
)

// The providers an account names with oauth_provider.
const (
	Microsoft = "microsoft"
	Google    = "google"
	Custom    = "custom"
)

// Providers lists the provider keys.
var Providers = []string{Microsoft, Google, Custom}

// Default client ids of this build, set at link time:
//
//	go build -ldflags "-X smtpwatch/monitor/oauth.MicrosoftClientID=... \
//	  -X smtpwatch/monitor/oauth.GoogleClientID=... -X smtpwatch/monitor/oauth.GoogleClientSecret=..."
//
// Empty by default. Google's desktop-app clients come with a client secret
// that Google documents as not secret for installed apps.
var (
	MicrosoftClientID  string
	GoogleClientID     string
	GoogleClientSecret string
)

// RegisterHelp names where a person learns to register a client of their
// own.
const RegisterHelp = `the README's "Sign in with OAuth2" section`

// DefaultTenant is Microsoft's tenant when an account names none: work,
// school and personal accounts alike.
const DefaultTenant = "common"

// ErrNoClientID is wrapped by the error of a sign-in without a client id.
var ErrNoClientID = errors.New("no OAuth2 client id")

// Client is one account's provider and the app registered with it:
// everything a sign-in and a refresh need.
type Client struct {
	// Provider is Microsoft, Google or Custom.
	Provider string
	credential.OAuthClient
	AuthURL   string
	DeviceURL string // "" when the provider has no device flow
}

// ProviderName is the provider for people: "Microsoft".
func ProviderName(p string) string {
	switch p {
	case Microsoft:
		return "Microsoft"
	case Google:
		return "Google"
	}
	return "the sign-in service"
}

// Endpoints are the provider's authorization, token and device
// authorization URLs; tenant is Microsoft's ("common", "organizations",
// "consumers", a tenant id or domain; "" is DefaultTenant). Custom has none.
func Endpoints(provider, tenant string) (auth, token, device string) {
	switch provider {
	case Microsoft:
		if tenant == "" {
			tenant = DefaultTenant
		}
		base := "https://login.microsoftonline.com/" + url.PathEscape(tenant) + "/oauth2/v2.0/"
		return base + "authorize", base + "token", base + "devicecode"
	case Google:
		return "https://accounts.google.com/o/oauth2/v2/auth", "https://oauth2.googleapis.com/token", "https://oauth2.googleapis.com/device/code"
	}
	return "", "", ""
}

// DefaultScopes are what a provider's sign-in asks for to send mail:
// Microsoft's SMTP.Send with offline_access (for a refresh token),
// Google's full mail scope (the only one that allows SMTP).
func DefaultScopes(provider string) []string {
	switch provider {
	case Microsoft:
		return []string{"https://outlook.office.com/SMTP.Send", "offline_access"}
	case Google:
		return []string{"https://mail.google.com/"}
	}
	return nil
}

// DefaultClient is this build's client id (and secret) for a provider:
// empty unless set with -ldflags.
func DefaultClient(provider string) (id, secret string) {
	switch provider {
	case Microsoft:
		return MicrosoftClientID, ""
	case Google:
		return GoogleClientID, GoogleClientSecret
	}
	return "", ""
}

// Check says what keeps a sign-in from starting: no client id (wrapping
// ErrNoClientID), or no endpoints.
func (c Client) Check() error {
	if c.ClientID == "" {
		where := "this build has none for " + ProviderName(c.Provider)
		if c.Provider == Custom {
			where = "a custom provider needs one"
		}
		return fmt.Errorf("%w: %s. Register smtpwatch with the provider (see %s) and set oauth_client_id in the account",
			ErrNoClientID, where, RegisterHelp)
	}
	if c.AuthURL == "" || c.TokenURL == "" {
		return errors.New("no authorization or token URL: set oauth_auth_url and oauth_token_url")
	}
	return nil
}

// CheckURL accepts an endpoint URL: https, or http on a loopback address
// (a provider on this computer, as in tests); no user info, no fragment.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL: want https://...", raw)
	}
	switch {
	case u.User != nil:
		return fmt.Errorf("%q holds a user name or password: leave them out", raw)
	case u.Fragment != "":
		return fmt.Errorf("%q has a #fragment", raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q: want an https:// URL (http:// only on this computer: 127.0.0.1, [::1], localhost)", raw)
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1" || strings.HasPrefix(h, "127.")
}
