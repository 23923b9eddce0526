package credential

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zalando/go-keyring"
)

// OAuthKeyringService is the service name OAuth2 sign-ins are stored under
// in the OS keyring; the user name is the account's name. It is apart from
// KeyringService, so that an account's password and its sign-in never
// overwrite each other.
const OAuthKeyringService = "smtpwatch-oauth2"

// Grant is an OAuth2 sign-in as smtpwatch keeps it: the refresh token and
// what it was issued for. It never holds an access token: those live in
// memory only (TokenSource).
type Grant struct {
	RefreshToken Secret
	// ClientID and TokenURL are the app and the provider the refresh
	// token belongs to: a config that names another no longer fits it.
	ClientID string
	TokenURL string
	// Username is the account's user name at the sign-in.
	Username string
	// Scopes are those asked for at the sign-in.
	Scopes []string
	// SavedAt is when the sign-in (or the last rotation) was stored.
	SavedAt time.Time
}

// IsZero reports whether g holds no sign-in.
func (g Grant) IsZero() bool { return g.RefreshToken.IsZero() }

// grantJSON is how a Grant is written into the keyring: the Secret marshals
// as "[redacted]" everywhere else.
type grantJSON struct {
	Version      int       `json:"v"`
	RefreshToken string    `json:"refresh_token"`
	ClientID     string    `json:"client_id"`
	TokenURL     string    `json:"token_url"`
	Username     string    `json:"username"`
	Scopes       []string  `json:"scopes,omitempty"`
	SavedAt      time.Time `json:"saved_at"`
}

// GrantStore keeps OAuth2 sign-ins by account name. KeyringGrants is the
// OS keyring; tests use a map.
type GrantStore interface {
	// LoadGrant returns the account's sign-in. None stored is an error
	// wrapping ErrNotFound. It blocks until the store answers or ctx ends.
	LoadGrant(ctx context.Context, account string) (Grant, error)
	// SaveGrant stores g for the account, replacing what was there.
	SaveGrant(account string, g Grant) error
	// DeleteGrant removes the account's sign-in; none is not an error.
	DeleteGrant(account string) error
}

// KeyringGrants is the GrantStore of the OS keyring (service
// OAuthKeyringService). Its errors are *Error values as the keyring
// functions return them: ErrNoSessionBus without a session bus (and no bus
// is started), ErrNotFound for no sign-in.
type KeyringGrants struct{}

// LoadGrant reads the account's sign-in from the keyring.
func (KeyringGrants) LoadGrant(ctx context.Context, account string) (Grant, error) {
	v, err := keyringGet(ctx, OAuthKeyringService, account, "sign-in")
	if err != nil {
		return Grant{}, err
	}
	return decodeGrant(account, v)
}

// SaveGrant writes the account's sign-in into the keyring.
func (KeyringGrants) SaveGrant(account string, g Grant) error {
	v, err := encodeGrant(account, g)
	if err != nil {
		return err
	}
	if _, ok := SessionBus(); !ok {
		return noBus()
	}
	if err := keyring.Set(OAuthKeyringService, account, v); err != nil {
		return &Error{Msg: fmt.Sprintf("cannot store the sign-in of %q in the OS keyring: %v", account, err), Err: err}
	}
	return nil
}

// DeleteGrant removes the account's sign-in from the keyring.
func (KeyringGrants) DeleteGrant(account string) error {
	if _, ok := SessionBus(); !ok {
		return noBus()
	}
	err := keyring.Delete(OAuthKeyringService, account)
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return &Error{Msg: fmt.Sprintf("cannot delete the sign-in of %q from the OS keyring: %v", account, err), Err: err}
	}
	return nil
}

func encodeGrant(account string, g Grant) (string, error) {
	if account == "" {
		return "", &Error{Msg: "store the sign-in: empty account name"}
	}
	if g.IsZero() {
		return "", &Error{Msg: "store the sign-in: no refresh token"}
	}
	b, err := json.Marshal(grantJSON{Version: 1, RefreshToken: g.RefreshToken.Reveal(), ClientID: g.ClientID,
		TokenURL: g.TokenURL, Username: g.Username, Scopes: g.Scopes, SavedAt: g.SavedAt.UTC().Round(time.Second)})
	if err != nil {
		return "", &Error{Msg: "store the sign-in: " + err.Error()}
	}
	return string(b), nil
}

// decodeGrant reads a keyring entry. Its errors never quote the entry.
func decodeGrant(account, v string) (Grant, error) {
	var j grantJSON
	if err := json.Unmarshal([]byte(v), &j); err != nil || j.RefreshToken == "" {
		return Grant{}, &Error{Msg: fmt.Sprintf("the OS keyring's sign-in for %q is damaged; sign in again: smtpwatch login %s", account, account), Err: ErrEmpty}
	}
	return Grant{RefreshToken: NewSecret(j.RefreshToken), ClientID: j.ClientID, TokenURL: j.TokenURL,
		Username: j.Username, Scopes: j.Scopes, SavedAt: j.SavedAt}, nil
}

// fits says why a sign-in does not belong to the account's settings now
// ("" when it does): it was made for another user, app or provider.
func (g Grant) fits(username string, c OAuthClient) string {
	switch {
	case !strings.EqualFold(g.Username, username):
		return "the stored sign-in is for " + g.Username + ", not " + username
	case g.ClientID != c.ClientID:
		return "the stored sign-in was made with another client id (oauth_client_id changed)"
	case g.TokenURL != c.TokenURL:
		return "the stored sign-in was made with another provider or tenant"
	}
	return ""
}
