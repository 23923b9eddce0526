// Package credential owns everything secret about an account: the Secret
// type, which prints as a placeholder everywhere, and the reading of
// credentials from their sources — an environment variable (FromEnv), a
// shell command (FromCommand), the OS keyring (FromKeyring, StoreInKeyring,
// DeleteFromKeyring) — and OAuth2's: the sign-in (refresh token) kept in
// the OS keyring (Grant, KeyringGrants), access tokens from a token helper
// (FromTokenCommand) or refreshed from the sign-in (TokenSource, which
// keeps them in memory only and saves a rotated refresh token at once).
//
// Every error it returns is an *Error whose text is for people and never
// holds the credential, nor what a password command printed: of a failed
// command only its exit status and the first few words of its standard
// error are kept, and only words that do not look like secrets.
//
// On Linux and the BSDs the OS keyring is the Secret Service on the D-Bus
// session bus. This package never lets a bus daemon start: without a
// session bus (see SessionBus) the keyring functions return an error
// wrapping ErrNoSessionBus, where godbus would otherwise run dbus-launch
// and leave a dbus-daemon and a gnome-keyring-daemon behind.
//
// Nothing outside this package and the probe's AUTH phase calls
// Secret.Reveal.
package credential
