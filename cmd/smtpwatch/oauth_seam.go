package main

import (
	"context"
	"errors"

	"smtpwatch/monitor/config"
)

// The one seam between account setup (`smtpwatch add`, `smtpwatch import`)
// and the OAuth2 sign-in (`smtpwatch login`). An account whose provider
// wants OAuth2 — autoconfig says OAuth2, the provider table says so
// (Microsoft 365, Outlook.com), msmtp says auth oauthbearer or xoauth2 —
// is handed to oauthSetup instead of asking for a password.
//
// This build's config knows no OAuth2 keys yet, so pendingOAuth writes
// nothing of OAuth2: `add` writes the account's verified server without
// sign-in and prints "sign in with: smtpwatch login NAME"; `import` leaves
// such accounts out and says why. The OAuth2 build replaces pendingOAuth
// with an implementation of the same interface.
type oauthSetup interface {
	// Settings makes s an account that signs in with OAuth2 — as the
	// user user, with the provider named by provider (a preset key:
	// "office365", "outlook", "gmail"; "" when unknown) or with tokenCommand
	// (a command that prints an access token; "" for none) — by setting
	// its keys through config.Settings (auth = "oauth2", oauth_provider,
	// oauth_token_command). It reports false when this build cannot write
	// such an account; s is then unchanged.
	Settings(s *config.Settings, user, provider, tokenCommand string) bool
	// SignIn runs the interactive sign-in of the account name of the
	// config file path (written by Settings), as `smtpwatch login NAME`
	// does, and returns once a token is stored or it failed. It returns
	// errOAuthPending when this build cannot sign in.
	SignIn(ctx context.Context, a *app, path, name string) error
}

// errOAuthPending: this build cannot set up OAuth2 sign-in.
var errOAuthPending = errors.New("OAuth2 sign-in is not available in this build")

// oauth is the OAuth2 setup `add` and `import` use.
var oauth oauthSetup = pendingOAuth{}

// pendingOAuth is the OAuth2 setup of a build without OAuth2 sign-in.
type pendingOAuth struct{}

func (pendingOAuth) Settings(*config.Settings, string, string, string) bool { return false }

func (pendingOAuth) SignIn(context.Context, *app, string, string) error { return errOAuthPending }
