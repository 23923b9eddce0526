// Package credential owns everything secret about an account: the Secret
// type, which prints as a placeholder everywhere, and (as it grows) the
// reading of credentials from their sources — the OS keyring, a command,
// an environment variable — and the fingerprints that let the daemon tell
// whether a credential changed without keeping it.
//
// Nothing outside this package and the probe's AUTH phase calls
// Secret.Reveal.
package credential
