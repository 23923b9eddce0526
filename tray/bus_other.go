//go:build !linux

package tray

// PreventBusAutolaunch is a no-op here: only the Linux D-Bus client
// launches a bus daemon of its own. See the Linux documentation.
func PreventBusAutolaunch() {}
