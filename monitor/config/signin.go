package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/oauth"
	"smtpwatch/monitor/probe"
)

// AuthMethod is how an account signs in (auth = "...").
type AuthMethod string

// The sign-in methods.
const (
	AuthPassword AuthMethod = "password" // a password from password_keyring, _env or _command
	AuthOAuth2   AuthMethod = "oauth2"   // an OAuth2 access token (smtpwatch login, or oauth_token_command)
	AuthNone     AuthMethod = "none"     // no sign-in: the server is checked up to the login
)

// OAuthSettings are an account's sign-in keys as written: auth and the
// oauth_* keys (flags --auth, --oauth-...). A nil field was not given.
type OAuthSettings struct {
	Auth                    *string // "password", "oauth2" or "none"
	Provider                *string // "microsoft", "google" or "custom"
	ClientID, ClientSecret  *string
	Tenant                  *string // Microsoft's: common, organizations, consumers, a tenant id or domain
	Scopes                  *[]string
	AuthURL, TokenURL       *string
	DeviceURL, TokenCommand *string
}

// OAuth is an OAuth2 account's provider and app, resolved: defaults of the
// provider and of this build filled in. It holds no secret (a Google
// desktop client's "secret" is public by Google's design).
type OAuth struct {
	Provider               string // oauth.Microsoft, oauth.Google, oauth.Custom; "" for a token helper that names none
	ClientID, ClientSecret string // "" when neither the account nor the build has one
	Tenant                 string // Microsoft only
	// Scopes are space-separated, as OAuth2 writes them (and so that an
	// Account stays comparable).
	Scopes            string
	AuthURL, TokenURL string
	DeviceURL         string
}

// oauthKeys are the oauth_* keys, in the order messages name them.
var oauthKeys = []string{"oauth_provider", "oauth_client_id", "oauth_client_secret", "oauth_tenant", "oauth_scopes",
	"oauth_auth_url", "oauth_token_url", "oauth_device_url", "oauth_token_command"}

// tenantPattern accepts Microsoft's tenant names: common, organizations,
// consumers, a GUID, or a domain.
var tenantPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]{0,254}$`)

// resolveSignIn decides how the account signs in and resolves the OAuth2
// settings (part of Resolve). credKeys are the password sources given.
//
// auth, when not given, follows what is written: a password source means
// password; an oauth_* key means oauth2; else the preset's way (office365
// and outlook: oauth2) when there is a user name; else password with a
// user name, none without.
func resolveSignIn(a *Account, s Settings, preset Preset, hasPreset bool, credKeys []string, o Origin) []Problem {
	var probs []Problem
	bad := func(key, format string, args ...any) {
		probs = append(probs, Problem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	late := func(key, format string, args ...any) {
		probs = append(probs, Problem{Key: key, Msg: fmt.Sprintf(format, args...), Late: true})
	}
	w := s.OAuthSettings
	given := map[string]bool{}
	for key, v := range map[string]bool{
		"oauth_provider": w.Provider != nil, "oauth_client_id": w.ClientID != nil, "oauth_client_secret": w.ClientSecret != nil,
		"oauth_tenant": w.Tenant != nil, "oauth_scopes": w.Scopes != nil, "oauth_auth_url": w.AuthURL != nil,
		"oauth_token_url": w.TokenURL != nil, "oauth_device_url": w.DeviceURL != nil, "oauth_token_command": w.TokenCommand != nil,
	} {
		if v {
			given[key] = true
		}
	}
	var written []string // the oauth_* keys given, in file order
	for _, k := range oauthKeys {
		if given[k] {
			written = append(written, k)
		}
	}
	slices.SortStableFunc(written, func(x, y string) int { return o.line(x) - o.line(y) })

	// Each key on its own.
	var auth AuthMethod
	if w.Auth != nil {
		switch m := AuthMethod(strings.ToLower(strings.TrimSpace(*w.Auth))); m {
		case AuthPassword, AuthOAuth2, AuthNone:
			auth = m
		case "oauth", "xoauth2", "oauthbearer", "oauth 2":
			bad("auth", "unknown sign-in %q; did you mean \"oauth2\"?", *w.Auth)
		default:
			bad("auth", "unknown sign-in %q: want \"password\", \"oauth2\" or \"none\"", *w.Auth)
		}
	}
	provider := ""
	if w.Provider != nil {
		p := strings.ToLower(strings.TrimSpace(*w.Provider))
		if slices.Contains(oauth.Providers, p) {
			provider = p
		} else {
			bad("oauth_provider", "unknown provider %q: want %s", *w.Provider, quoteList(oauth.Providers))
		}
	}
	word := func(key string, v *string, what string) {
		if v != nil && (*v == "" || strings.IndexFunc(*v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0) {
			bad(key, "want %s without spaces", what)
		}
	}
	word("oauth_client_id", w.ClientID, "the application (client) id the provider gave")
	word("oauth_client_secret", w.ClientSecret, "the client secret of a Google desktop app")
	if w.Tenant != nil && !tenantPattern.MatchString(*w.Tenant) {
		bad("oauth_tenant", `invalid tenant %q: want "common", "organizations", "consumers", a tenant id or a domain`, *w.Tenant)
	}
	if w.Scopes != nil {
		for _, sc := range *w.Scopes {
			if sc == "" || strings.IndexFunc(sc, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
				bad("oauth_scopes", "invalid scope %q: want one scope per item, without spaces", sc)
				break
			}
		}
	}
	for _, u := range []struct {
		key string
		v   *string
	}{{"oauth_auth_url", w.AuthURL}, {"oauth_token_url", w.TokenURL}, {"oauth_device_url", w.DeviceURL}} {
		if u.v != nil {
			if err := oauth.CheckURL(*u.v); err != nil {
				bad(u.key, "%v", err)
			}
		}
	}
	if w.TokenCommand != nil && strings.TrimSpace(*w.TokenCommand) == "" {
		bad("oauth_token_command", "empty command")
	}

	// Which way the account signs in.
	switch {
	case auth != "":
	case w.Auth != nil:
		return probs // a bad value, reported
	case len(credKeys) > 0:
		auth = AuthPassword
	case len(written) > 0:
		auth = AuthOAuth2
	case hasPreset && preset.DefaultAuth == AuthOAuth2 && a.Username != "":
		auth = AuthOAuth2
	case a.Username != "":
		auth = AuthPassword
	default:
		auth = AuthNone
	}
	a.Auth = auth
	authKey := "auth"
	if w.Auth == nil && len(written) > 0 {
		authKey = written[0]
	}
	switch auth {
	case AuthNone:
		for _, k := range append(slices.Clone(credKeys), written...) {
			late(k, "%s does not fit %s: the account does not sign in", o.name(k), o.setting("auth", "none"))
			break
		}
		a.Credential = Credential{}
		return probs
	case AuthPassword:
		if len(written) > 0 {
			late(written[0], "%s is for %s, but this account signs in with a password; set %s, or leave %s out",
				o.name(written[0]), o.setting("auth", "oauth2"), o.setting("auth", "oauth2"), o.name(written[0]))
		}
		return probs
	}

	// OAuth2.
	if len(credKeys) > 0 {
		late(credKeys[0], "%s is a password source, but this account signs in with OAuth2 (%s); leave it out",
			o.name(credKeys[0]), o.setting("auth", "oauth2"))
	}
	if a.Username == "" {
		late(authKey, "set %s too: OAuth2 signs in as a user, usually your email address", o.name("username"))
	}
	if provider == "" && w.Provider == nil && hasPreset {
		provider = preset.OAuthProvider
	}
	cred := Credential{File: o.File}
	if w.TokenCommand != nil {
		for _, k := range written {
			if k != "oauth_token_command" && k != "oauth_provider" {
				late(k, "%s is not used with %s: the token helper signs in by itself", o.name(k), o.name("oauth_token_command"))
				break
			}
		}
		cred.Source, cred.Command, cred.Line = CredentialTokenCommand, *w.TokenCommand, o.line("oauth_token_command")
		cred.OAuth.Provider = provider
		a.Credential = cred
		return probs
	}
	if provider == "" {
		if w.Provider == nil {
			late("oauth_provider", `missing: set %s, %s or %s — or %s to use a token helper`,
				o.setting("oauth_provider", "microsoft"), o.setting("oauth_provider", "google"), o.setting("oauth_provider", "custom"), o.name("oauth_token_command"))
		}
		return probs
	}
	cred.Source, cred.Line = CredentialOAuth, o.line(authKey)
	if w.Auth == nil && w.Provider != nil {
		cred.Line = o.line("oauth_provider")
	}
	c := OAuth{Provider: provider}
	if w.Tenant != nil && provider != oauth.Microsoft {
		bad("oauth_tenant", "oauth_tenant is for %s only", o.setting("oauth_provider", "microsoft"))
	}
	if provider == oauth.Microsoft {
		c.Tenant = oauth.DefaultTenant
		if w.Tenant != nil {
			c.Tenant = *w.Tenant
		}
	}
	c.AuthURL, c.TokenURL, c.DeviceURL = oauth.Endpoints(provider, c.Tenant)
	for _, u := range []struct {
		v  *string
		to *string
	}{{w.AuthURL, &c.AuthURL}, {w.TokenURL, &c.TokenURL}, {w.DeviceURL, &c.DeviceURL}} {
		if u.v != nil {
			*u.to = *u.v
		}
	}
	if provider == oauth.Custom {
		for _, k := range []string{"oauth_auth_url", "oauth_token_url"} {
			if !given[k] {
				late(k, "missing: %s needs %s and %s", o.setting("oauth_provider", "custom"), o.name("oauth_auth_url"), o.name("oauth_token_url"))
				break
			}
		}
	}
	c.ClientID, c.ClientSecret = oauth.DefaultClient(provider)
	if w.ClientID != nil {
		c.ClientID, c.ClientSecret = *w.ClientID, ""
	}
	if w.ClientSecret != nil {
		c.ClientSecret = *w.ClientSecret
	}
	c.Scopes = strings.Join(oauth.DefaultScopes(provider), " ")
	if w.Scopes != nil {
		c.Scopes = strings.Join(*w.Scopes, " ")
	}
	cred.OAuth = c
	a.Credential = cred
	return probs
}

// quoteList is `"a", "b" or "c"`.
func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// OAuthClient is the account's provider and app for a sign-in or a
// refresh.
func (a Account) OAuthClient() oauth.Client {
	c := a.Credential.OAuth
	return oauth.Client{
		Provider: c.Provider,
		OAuthClient: credential.OAuthClient{TokenURL: c.TokenURL, ClientID: c.ClientID, ClientSecret: c.ClientSecret,
			Scopes: strings.Fields(c.Scopes)},
		AuthURL: c.AuthURL, DeviceURL: c.DeviceURL,
	}
}

// NewTokenSource is the account's source of access tokens, for
// CredentialOAuth: its sign-in lives in store (nil: the OS keyring), its
// provider is asked through hc (nil: the default transport), and it logs
// to log (nil: nowhere). A daemon keeps one per account, so that access
// tokens are reused while they are valid.
func (a Account) NewTokenSource(store credential.GrantStore, hc *http.Client, log *slog.Logger) *credential.TokenSource {
	if store == nil {
		store = credential.KeyringGrants{}
	}
	return credential.NewTokenSource(credential.TokenSourceOptions{
		Account: a.Name, Username: a.Username, Client: a.OAuthClient().OAuthClient,
		Store: store, HTTP: hc, Logger: log,
	})
}

// SignIn is an account's credential as read for one check that logs in.
type SignIn struct {
	// ID identifies the credential for the lockout (the daemon keeps a
	// fingerprint of it, never it): the password; the access token a
	// token helper printed; or the refresh token of the stored OAuth2
	// sign-in — zero when there is none, since signing in is then what is
	// needed.
	ID    credential.Secret
	token probe.TokenFunc
	// after re-reads the ID once the check is done (see After); nil
	// keeps ID.
	after func(ctx context.Context) (credential.Secret, error)
}

// After is the ID as the source holds it once the check is done: a
// provider may rotate the refresh token while the check refreshes the
// access token, and a lockout must compare the next check's ID with the
// one stored now. For other sources it is ID. A store that cannot be read
// leaves ID.
func (s SignIn) After(ctx context.Context) credential.Secret {
	if s.after == nil {
		return s.ID
	}
	if id, err := s.after(ctx); err == nil {
		return id
	}
	return s.ID
}

// Apply sets t up to sign in with s: the password, or the access token
// (asked for when the check reaches the login).
func (s SignIn) Apply(t *probe.Target) {
	if s.token != nil {
		t.Token, t.Password = s.token, credential.Secret{}
		return
	}
	t.Password = s.ID
}

// ReadSignIn reads the account's credential for a check that logs in: the
// password (as Password reads it), the access token of oauth_token_command
// (run now, with password_command's bounds), or the stored OAuth2 sign-in
// from ts, the account's TokenSource (unused for other sources). No
// stored sign-in is not an error: the check then reports
// oauth_sign_in_required. With no source it returns the zero SignIn.
//
// Errors are *Error values as Password's (file, line and key of the
// source; never the credential); a source named by an untrusted file is
// not read.
func (a Account) ReadSignIn(ctx context.Context, ts *credential.TokenSource) (SignIn, error) {
	c := a.Credential
	switch c.Source {
	case CredentialTokenCommand:
		if c.Untrusted != "" {
			return SignIn{}, a.credError("oauth_token_command", c.Untrusted, ErrUntrusted)
		}
		tok, err := credential.FromTokenCommand(ctx, c.Command)
		if err != nil {
			return SignIn{}, a.credError("oauth_token_command", err.Error(), err)
		}
		return SignIn{ID: tok, token: func(context.Context) (credential.Secret, error) { return tok, nil }}, nil
	case CredentialOAuth:
		if c.Untrusted != "" {
			return SignIn{}, a.credError("auth", c.Untrusted, ErrUntrusted)
		}
		if ts == nil {
			ts = a.NewTokenSource(nil, nil, nil)
		}
		g, err := ts.Stored(ctx)
		if err != nil {
			msg := err.Error()
			if errors.Is(err, credential.ErrNoSessionBus) {
				msg += "; the OAuth2 sign-in is kept there: use a token helper (oauth_token_command) instead"
			}
			return SignIn{}, a.credError("auth", msg, err)
		}
		return SignIn{ID: g.RefreshToken,
			token: func(ctx context.Context) (credential.Secret, error) { return ts.Token(ctx, g) },
			after: func(ctx context.Context) (credential.Secret, error) {
				g, err := ts.Stored(ctx)
				return g.RefreshToken, err
			},
		}, nil
	}
	pw, err := a.Password(ctx)
	return SignIn{ID: pw}, err
}
