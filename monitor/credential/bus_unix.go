//go:build !windows && !darwin

package credential

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const disabledBus = "disabled:"

// SessionBus returns the address of the D-Bus session bus and whether
// there is one, and makes sure nothing in this process launches a bus
// daemon of its own: godbus (under go-keyring, the tray and notifications)
// runs dbus-launch when DBUS_SESSION_BUS_ADDRESS is unset or
// "autolaunch:", and the bus it starts then activates gnome-keyring-daemon;
// both outlive smtpwatch.
//
// A DBUS_SESSION_BUS_ADDRESS other than "", "autolaunch:" and "disabled:"
// is taken as it is. Otherwise the per-user bus socket
// ($XDG_RUNTIME_DIR/bus, then /run/user/UID/bus) is looked for; when found,
// DBUS_SESSION_BUS_ADDRESS is set to it, and when not, to "disabled:", on
// which every D-Bus client of this process fails at once. Safe for
// concurrent use; it changes the process environment.
//
// On Windows and macOS there is no session bus to look for: it returns "",
// true.
func SessionBus() (string, bool) {
	switch a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a {
	case disabledBus:
		return "", false
	case "", "autolaunch:":
	default:
		return a, true
	}
	var dirs []string
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, fmt.Sprintf("/run/user/%d", os.Getuid()))
	for _, d := range dirs {
		p := filepath.Join(d, "bus")
		if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
			addr := "unix:path=" + busEscape(p)
			os.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
			return addr, true
		}
	}
	os.Setenv("DBUS_SESSION_BUS_ADDRESS", disabledBus)
	return "", false
}

// PreventBusAutolaunch makes sure nothing in this process ever launches a
// session bus daemon (see SessionBus). Call it before anything touches
// D-Bus.
func PreventBusAutolaunch() { _, _ = SessionBus() }

// busEscape escapes a value of a D-Bus address: bytes outside
// [-0-9A-Za-z_/.\*] become %XX.
func busEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z',
			c == '-', c == '_', c == '/', c == '.', c == '\\', c == '*':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}
