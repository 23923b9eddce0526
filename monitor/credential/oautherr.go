package credential

import (
	"errors"
	"fmt"
)

// The two reasons an OAuth2 account can have no access token. Errors from
// TokenSource.Token wrap exactly one of them; the probe names the cause
// after them (oauth_sign_in_required, oauth_provider_unreachable).
var (
	// ErrSignInRequired: there is no usable sign-in — none was ever
	// stored, the stored one is for another user or client, or the
	// provider refused it (invalid_grant: revoked, expired, the password
	// changed; or another OAuth error such as invalid_client). Trying
	// again cannot help; a new sign-in (smtpwatch login) does.
	ErrSignInRequired = errors.New("oauth2 sign-in required")
	// ErrProviderUnreachable: the provider's token endpoint could not be
	// reached, did not answer in time, or answered with a server error
	// (5xx, 429, something that is not an OAuth answer). It may work at
	// the next try.
	ErrProviderUnreachable = errors.New("oauth2 sign-in service unreachable")
	// ErrNotSignedIn is wrapped, beside ErrSignInRequired, when no sign-in
	// was ever stored: the advice is to sign in, not to sign in again.
	ErrNotSignedIn = errors.New("oauth2: never signed in")
)

// oauthError is an error whose text is for people and whose kind (one of
// the sentinels above) is for errors.Is: the sentinel's own words stay out
// of the text.
type oauthError struct {
	msg  string
	kind error
	also []error
}

func (e *oauthError) Error() string   { return e.msg }
func (e *oauthError) Unwrap() []error { return append([]error{e.kind}, e.also...) }

// SignInRequired is an error wrapping ErrSignInRequired with the text of
// format and args.
func SignInRequired(format string, args ...any) error {
	return &oauthError{msg: fmt.Sprintf(format, args...), kind: ErrSignInRequired}
}

// ProviderUnreachable is an error wrapping ErrProviderUnreachable with
// the text of format and args.
func ProviderUnreachable(format string, args ...any) error {
	return &oauthError{msg: fmt.Sprintf(format, args...), kind: ErrProviderUnreachable}
}
