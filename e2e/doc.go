// Package e2e holds smtpwatch's end-to-end tests: they build the smtpwatch
// binary and run `smtpwatch check` against a real Postfix on loopback, set up
// by scripts/postfix-e2e, one port per situation (healthy STARTTLS, implicit
// TLS, expired or untrusted certificates, a plaintext server, a 554 greeting,
// a closed port...). Tests that need root also cut the network off in a fresh
// network namespace and drop a port with iptables.
//
// The daemon tests run `smtpwatch run --headless` against the same Postfix:
// stopped and started again, behind a Toxiproxy that stops all data or
// resets one connection in ten for minutes (no false alarm), and through its
// lifecycle (SIGTERM, a second instance, a stale socket after kill -9). They
// stop Postfix, so they are not parallel: Go runs them alone.
//
// Run, as root:
//
//	scripts/postfix-e2e            # once per machine; writes $SMTPWATCH_E2E_DIR/env
//	go test ./e2e/
//
// SMTPWATCH_E2E_BIN=/path/to/smtpwatch tests that binary instead of building
// ./cmd/smtpwatch. Without the env file (default /tmp/smtpwatch-e2e/env) the tests skip,
// except under CI=true, where they fail. Nothing here leaves 127.0.0.1.
package e2e
