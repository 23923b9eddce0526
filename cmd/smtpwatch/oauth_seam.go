package main

import (
	"context"
	"errors"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/onboard"
)

// The one seam between account setup (`smtpwatch add`, `smtpwatch import`)
// and the OAuth2 sign-in (`smtpwatch login`). An account whose provider
// wants OAuth2 — autoconfig says OAuth2, the provider table says so
// (Microsoft 365, Outlook.com), msmtp says auth oauthbearer or xoauth2 —
// is handed to oauthSetup instead of asking for a password.
type oauthSetup interface {
	// Settings makes s an account that signs in with OAuth2 — as the
	// user user, with the provider named by provider (a preset key:
	// "office365", "outlook", "gmail"; "" when unknown) or with tokenCommand
	// (a command that prints an access token; "" for none) — by setting
	// its keys through config.Settings (auth = "oauth2", oauth_provider,
	// oauth_token_command). It reports false when it cannot write such an
	// account (no token helper, and no provider smtpwatch signs in with);
	// s is then unchanged.
	Settings(s *config.Settings, user, provider, tokenCommand string) bool
	// SignIn runs the interactive sign-in of the account name of the
	// config file path (written by Settings), as `smtpwatch login NAME`
	// does, and returns once a token is stored or it failed.
	SignIn(ctx context.Context, a *app, path, name string) error
}

// oauthSignIn is the OAuth2 setup `add` and `import` use.
var oauthSignIn oauthSetup = loginOAuth{}

// loginOAuth sets accounts up for smtpwatch's own OAuth2 sign-in (or a
// token helper) and signs them in with `smtpwatch login`.
type loginOAuth struct{}

func (loginOAuth) Settings(s *config.Settings, user, provider, tokenCommand string) bool {
	return onboard.OAuth2Settings(s, user, provider, tokenCommand)
}

// SignIn runs `smtpwatch login --config path name`: the browser, the
// keyring, and a running daemon told to check at once.
func (loginOAuth) SignIn(ctx context.Context, a *app, path, name string) error {
	acct, _, err := loginAccount(path, name)
	if err != nil {
		return err
	}
	if acct.Credential.Source != config.CredentialOAuth {
		return nil // a token helper: nothing to sign in
	}
	if code := a.login(ctx, []string{"--config", path, name}); code != exitOK {
		return errors.New("the sign-in did not complete")
	}
	return nil
}
