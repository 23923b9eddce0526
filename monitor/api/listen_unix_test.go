//go:build unix

package api

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// The socket must be 0600 whatever the umask: under umask 0 a bound socket
// would be 0777, reachable by every local user, without Listen's chmod.
// Not parallel: the umask is the process's.
func TestListenModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	dir := filepath.Join(t.TempDir(), "state", "smtpwatch")
	path := filepath.Join(dir, "smtpwatch.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		t.Errorf("%s is %v, want a socket", path, fi.Mode())
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("socket mode %o, want 600", got)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode %o, want 700", got)
	}
}
