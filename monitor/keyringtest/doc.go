// Package keyringtest runs the OS keyring for tests on Linux: a private
// D-Bus session bus that activates nothing, with an unlocked
// gnome-keyring-daemon (the Secret Service) on it, both ended when the
// test ends. Code that uses go-keyring must run in a process whose
// DBUS_SESSION_BUS_ADDRESS points at the bus before it first connects:
// tests re-execute themselves, or run smtpwatch, with Keyring.Env.
//
// The machine needs the packages dbus and gnome-keyring (scripts/test
// installs them); without them Start skips the test, or fails it under
// CI=true.
package keyringtest
