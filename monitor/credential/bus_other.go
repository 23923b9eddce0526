//go:build windows || darwin

package credential

// SessionBus reports "", true: the OS keyring of Windows and macOS needs no
// D-Bus session bus, and nothing here launches one.
func SessionBus() (string, bool) { return "", true }

// PreventBusAutolaunch is a no-op on Windows and macOS.
func PreventBusAutolaunch() {}
