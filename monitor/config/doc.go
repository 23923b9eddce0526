// Package config reads smtpwatch's configuration file and resolves each
// account's settings, preset and credential source.
//
// The file is TOML (see Template for a commented example): a few global
// settings, an optional [online] table with the "am I online" reference
// targets, optional [defaults] for the per-account schedule, and one
// [[account]] table per outgoing mail server. Load and Parse check all of it
// and return the first problem in file order as an *Error that names the
// file, the line and the key, so that a person can fix it and a daemon can
// keep its last good config.
//
// Resolve is the one place where an account's settings as written become
// an Account: the decoder uses it for every [[account]] table, and
// `smtpwatch check --server/--preset...` for the account its flags
// describe.
//
// Passwords are never stored in the file. An account names where its
// password comes from — an environment variable, a command such as
// "pass show mail/charter", or the OS keyring — and Account.Password fetches
// it when a probe needs it, through the credential package. An account with
// auth = "oauth2" signs in with an access token instead: from the OAuth2
// sign-in `smtpwatch login` keeps in the OS keyring (its provider and app
// in Credential.OAuth, resolved from oauth_* keys, the preset and the
// build's default client ids), or from oauth_token_command.
// Account.ReadSignIn reads whichever the account has. A file owned
// by another user than the one smtpwatch runs as (or root) loads, but the
// password sources it names are not read (Credential.Untrusted; Unix only).
//
// The package has no global state and does no logging; it reads files, and
// (through the credential package) the environment and the keyring, and
// runs commands, only when asked to. Its work on a file is bounded by the
// file's size: a file nested more than 8 levels deep is refused before
// the TOML decoder sees it.
package config
