//go:build !windows && !darwin

package credential

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestKeyringWithoutBus: with no session bus, the keyring functions say so
// at once and leave DBUS_SESSION_BUS_ADDRESS at "disabled:", so that godbus
// cannot run dbus-launch later in the process.
func TestKeyringWithoutBus(t *testing.T) {
	if _, err := os.Stat(fmt.Sprintf("/run/user/%d/bus", os.Getuid())); err == nil {
		t.Skip("this user has a session bus at /run/user/UID/bus")
	}
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	for _, addr := range []string{"", "autolaunch:", "disabled:"} {
		t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
		_, err := FromKeyring(context.Background(), "charter")
		if !errors.Is(err, ErrNoSessionBus) {
			t.Fatalf("address %q: FromKeyring = %v, want ErrNoSessionBus", addr, err)
		}
		if got := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); got != "disabled:" {
			t.Errorf("address %q: DBUS_SESSION_BUS_ADDRESS = %q afterwards, want disabled:", addr, got)
		}
		if err := StoreInKeyring("charter", NewSecret(testSecret)); !errors.Is(err, ErrNoSessionBus) {
			t.Errorf("StoreInKeyring = %v", err)
		}
		if err := DeleteFromKeyring("charter"); !errors.Is(err, ErrNoSessionBus) {
			t.Errorf("DeleteFromKeyring = %v", err)
		}
	}
}

// TestSessionBusSocket: the per-user socket in XDG_RUNTIME_DIR is found
// and put in the environment for godbus.
func TestSessionBusSocket(t *testing.T) {
	dir, err := os.MkdirTemp("/tmp", "bus") // a socket path must be short
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	ln, err := net.Listen("unix", filepath.Join(dir, "bus"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	t.Setenv("XDG_RUNTIME_DIR", dir)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	want := "unix:path=" + filepath.Join(dir, "bus")
	if addr, ok := SessionBus(); !ok || addr != want || os.Getenv("DBUS_SESSION_BUS_ADDRESS") != want {
		t.Errorf("SessionBus() = %q, %v; env %q; want %q", addr, ok, os.Getenv("DBUS_SESSION_BUS_ADDRESS"), want)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/elsewhere")
	if addr, ok := SessionBus(); !ok || addr != "unix:path=/elsewhere" {
		t.Errorf("a set address is taken as it is: %q %v", addr, ok)
	}
}
