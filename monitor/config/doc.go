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
// Passwords are never stored in the file. An account names where its
// password comes from — an environment variable, a command such as
// "pass show mail/charter", or the OS keyring — and Account.Password fetches
// it when a probe needs it.
//
// The package has no global state and does no logging; it reads files, the
// environment, the keyring and runs commands only when asked to.
package config
