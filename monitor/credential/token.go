package credential

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// OAuthClient is what refreshing an access token needs to know of the
// provider and of the app registered with it.
type OAuthClient struct {
	TokenURL string
	ClientID string
	// ClientSecret is "" for public clients (Microsoft's); Google's
	// desktop-app clients have one, which Google documents as not secret.
	ClientSecret string
	Scopes       []string
}

// Token timing defaults.
const (
	// DefaultRefreshBefore: an access token that expires within this is
	// refreshed before it is used, so that it never expires mid-check.
	DefaultRefreshBefore = 5 * time.Minute
	// RefreshTimeout bounds one call to the token endpoint.
	RefreshTimeout = 15 * time.Second
	// stillValid is how long a token must still be valid to be used when
	// the provider cannot be reached.
	stillValid = 30 * time.Second
)

// TokenSourceOptions configure a TokenSource.
type TokenSourceOptions struct {
	// Account names the sign-in in the store; Username is the account's
	// user name, which the sign-in must be for.
	Account, Username string
	Client            OAuthClient
	// Store is where a rotated refresh token is saved; nil saves nothing.
	Store GrantStore
	// HTTP makes the requests to the token endpoint; nil is a client with
	// the default transport (proxies from the environment).
	HTTP *http.Client
	// Now tells the time; nil is time.Now.
	Now func() time.Time
	// RefreshBefore: see DefaultRefreshBefore (used when 0).
	RefreshBefore time.Duration
	// Logger gets a line for each refresh and each rotation saved, never a
	// token; nil discards.
	Logger *slog.Logger
}

// TokenSource gives an account's OAuth2 access tokens, refreshing them
// from the stored sign-in. Access tokens live in its memory only. It is
// golang.org/x/oauth2's refresh with what that lacks for a daemon: a
// rotated refresh token is saved to the store at once, a new sign-in in
// the store is taken up at the next Token, the provider being unreachable
// is told apart from it refusing the sign-in, and a token still valid is
// used while the provider is unreachable.
//
// It is safe for concurrent use; refreshes are serialised.
type TokenSource struct {
	o TokenSourceOptions

	mu sync.Mutex
	// stored is the refresh token the store held when last read or
	// written by us: a grant that differs is a new sign-in.
	stored Secret
	// refresh is the refresh token in use (a rotated one not yet saved
	// differs from stored).
	refresh Secret
	access  Secret
	expiry  time.Time // zero: unknown, refresh at every use
}

// NewTokenSource makes a token source; it reads nothing until asked.
func NewTokenSource(o TokenSourceOptions) *TokenSource {
	if o.HTTP == nil {
		o.HTTP = &http.Client{Transport: http.DefaultTransport}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RefreshBefore <= 0 {
		o.RefreshBefore = DefaultRefreshBefore
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &TokenSource{o: o}
}

// Stored reads the account's sign-in from the store: the zero Grant and
// nil when there is none. Other errors (the keyring cannot be read) are
// the store's. It blocks until the store answers or ctx ends.
func (s *TokenSource) Stored(ctx context.Context) (Grant, error) {
	if s.o.Store == nil {
		return Grant{}, nil
	}
	g, err := s.o.Store.LoadGrant(ctx, s.o.Account)
	if errors.Is(err, ErrNotFound) {
		return Grant{}, nil
	}
	return g, err
}

// Token returns an access token valid for at least RefreshBefore (or, while
// the provider is unreachable, for at least a few more seconds), from the
// sign-in g as Stored read it. It refreshes when needed, bounded by
// RefreshTimeout, and saves a rotated refresh token to the store before it
// returns (a failed save is logged; the new token is used from memory).
//
// Errors wrap ErrSignInRequired — no sign-in, one for another user or
// client, or the provider refused it with an OAuth error (invalid_grant,
// invalid_client...) — or ErrProviderUnreachable: no answer, a timeout,
// a 5xx or 429, or an answer that is not OAuth. Their text is for people:
// it holds no token and no response body, only the provider's error code.
func (s *TokenSource) Token(ctx context.Context, g Grant) (Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.IsZero() {
		s.forget()
		return Secret{}, &oauthError{msg: "not signed in yet", kind: ErrSignInRequired, also: []error{ErrNotSignedIn}}
	}
	if why := g.fits(s.o.Username, s.o.Client); why != "" {
		s.forget()
		return Secret{}, SignInRequired("%s", why)
	}
	if !g.RefreshToken.Equal(s.stored) {
		// A sign-in we have not seen: smtpwatch login ran since.
		s.stored, s.refresh, s.access, s.expiry = g.RefreshToken, g.RefreshToken, Secret{}, time.Time{}
	}
	now := s.o.Now()
	if !s.access.IsZero() && !s.expiry.IsZero() && s.expiry.Sub(now) > s.o.RefreshBefore {
		return s.access, nil
	}
	err := s.refreshLocked(ctx, g)
	switch {
	case err == nil:
		return s.access, nil
	case errors.Is(err, ErrProviderUnreachable) && !s.access.IsZero() && s.expiry.Sub(now) > stillValid:
		s.o.Logger.Info("oauth2: the sign-in service is unreachable; using the access token still valid",
			"account", s.o.Account, "until", s.expiry.Format(time.RFC3339), "err", err.Error())
		return s.access, nil
	case errors.Is(err, ErrSignInRequired):
		s.access, s.expiry = Secret{}, time.Time{}
	}
	return Secret{}, err
}

// Forget drops the access token held in memory, so that the next Token
// refreshes (after the server refused it, say).
func (s *TokenSource) Forget() {
	s.mu.Lock()
	s.access, s.expiry = Secret{}, time.Time{}
	s.mu.Unlock()
}

func (s *TokenSource) forget() {
	s.stored, s.refresh, s.access, s.expiry = Secret{}, Secret{}, Secret{}, time.Time{}
}

// refreshLocked asks the token endpoint for a new access token. s.mu is
// held.
func (s *TokenSource) refreshLocked(ctx context.Context, g Grant) error {
	ctx, cancel := context.WithTimeout(ctx, RefreshTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.o.HTTP)
	conf := s.o.Client.config()
	began := s.o.Now()
	tok, err := conf.TokenSource(ctx, &oauth2.Token{RefreshToken: s.refresh.Reveal()}).Token()
	if err != nil {
		return tokenError(ctx, err, "refresh")
	}
	s.access, s.expiry = NewSecret(tok.AccessToken), expiryOf(tok, began)
	s.o.Logger.Debug("oauth2: access token refreshed", "account", s.o.Account, "expires", s.expiry.Format(time.RFC3339))
	if tok.RefreshToken != "" && tok.RefreshToken != s.refresh.Reveal() {
		s.refresh = NewSecret(tok.RefreshToken)
		if s.o.Store == nil {
			return nil
		}
		rotated := g
		rotated.RefreshToken, rotated.SavedAt = s.refresh, s.o.Now()
		if err := s.o.Store.SaveGrant(s.o.Account, rotated); err != nil {
			s.o.Logger.Warn("oauth2: the provider rotated the refresh token, and the new one could not be saved; it is kept in memory until the daemon stops",
				"account", s.o.Account, "err", err.Error())
			return nil
		}
		s.stored = s.refresh
		s.o.Logger.Info("oauth2: rotated refresh token saved", "account", s.o.Account)
	}
	return nil
}

// expiryOf is when tok expires, counted from began with the clock of the
// TokenSource (expires_in), or as the library computed it; zero when the
// provider said nothing.
func expiryOf(tok *oauth2.Token, began time.Time) time.Time {
	if tok.ExpiresIn > 0 {
		return began.Add(time.Duration(tok.ExpiresIn) * time.Second)
	}
	return tok.Expiry
}

// config is the x/oauth2 form of the client. Credentials go in the request
// body (RFC 6749 2.3.1), which every provider takes from public clients;
// detecting the style would cost a second request on every failure.
func (c OAuthClient) config() *oauth2.Config {
	return &oauth2.Config{
		ClientID: c.ClientID, ClientSecret: c.ClientSecret, Scopes: c.Scopes,
		Endpoint: oauth2.Endpoint{TokenURL: c.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
	}
}

// Config is the x/oauth2 configuration of the client with the given
// authorization and device endpoints and redirect URL, for the sign-in
// flows.
func (c OAuthClient) Config(authURL, deviceURL, redirect string) *oauth2.Config {
	conf := c.config()
	conf.Endpoint.AuthURL, conf.Endpoint.DeviceAuthURL, conf.RedirectURL = authURL, deviceURL, redirect
	return conf
}

// TokenError classifies an error of the token endpoint (op is what was
// asked: "refresh", "sign-in") into an error wrapping ErrSignInRequired —
// the provider answered with an OAuth error — or ErrProviderUnreachable,
// with words for people and no response body.
func TokenError(ctx context.Context, err error, op string) error {
	return tokenError(ctx, err, op)
}

func tokenError(ctx context.Context, err error, op string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		code := oauthCode(re.ErrorCode)
		if code != "" && status != http.StatusTooManyRequests && status < 500 {
			msg := "the sign-in service refused the stored sign-in (" + code
			if d := describeOAuthError(re.ErrorDescription); d != "" {
				msg += ": " + d
			}
			msg += ")"
			if code == "invalid_grant" {
				msg += ": it was revoked or expired, or the password changed"
			}
			if op != "refresh" {
				msg = "the sign-in service refused the " + op + " (" + code + ")"
			}
			return SignInRequired("%s", msg)
		}
		if status != 0 {
			return ProviderUnreachable("the sign-in service answered %s to the %s", httpStatus(status), op)
		}
		return ProviderUnreachable("the sign-in service gave no usable answer to the %s", op)
	}
	var ne net.Error
	var ue *url.Error
	switch {
	case ctx.Err() != nil || errors.As(err, &ne) && ne.Timeout():
		return ProviderUnreachable("the sign-in service did not answer the %s in time", op)
	case errors.As(err, &ue):
		return ProviderUnreachable("the sign-in service could not be reached (%s)", shortNetError(ue.Err))
	}
	return ProviderUnreachable("the sign-in service gave no usable answer to the %s", op)
}

// oauthCode keeps an RFC 6749 error code if it looks like one.
func oauthCode(c string) string {
	if len(c) == 0 || len(c) > 40 || strings.IndexFunc(c, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r == '_') }) >= 0 {
		return ""
	}
	return c
}

// aadCode is the numbered error Microsoft puts first in its descriptions
// ("AADSTS70008: The provided authorization code or refresh token has
// expired..."): the number says it all and holds nothing secret.
var aadCode = regexp.MustCompile(`^AADSTS[0-9]{4,6}\b`)

// describeOAuthError keeps what is safe to show of an error description:
// Microsoft's AADSTS number. Descriptions are free text a provider could
// fill with anything, a token included.
func describeOAuthError(d string) string {
	return aadCode.FindString(strings.TrimSpace(d))
}

func httpStatus(code int) string {
	if t := http.StatusText(code); t != "" {
		return fmt.Sprintf("%d %s", code, t)
	}
	return fmt.Sprint(code)
}

// shortNetError is a network error's last words ("connection refused",
// "no such host").
func shortNetError(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}
