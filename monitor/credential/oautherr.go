package credential

import "errors"

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
)
