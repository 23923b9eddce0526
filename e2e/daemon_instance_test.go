package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemonOneInstancePerStateDir: the single-instance guard does not
// depend on the socket. A second `smtpwatch run` on the same config (and
// so the same state directory) refuses to start — with another
// XDG_RUNTIME_DIR, and with none at all, as under cron or ssh — exits
// non-zero naming the first daemon's process, and leaves the first alone.
func TestDaemonOneInstancePerStateDir(t *testing.T) {
	e := needEnv(t)
	smtpwatchBin(t)
	server, _ := silentServer(t)
	files := writeDaemonConfig(t, e, onlineTarget(t), daemonAccount{
		name: "silent", addr: server, security: "starttls", interval: time.Minute, timeout: 30 * time.Second,
	})
	first := startDaemon(t, e, files)
	pid := strconv.Itoa(first.cmd.Process.Pid)

	// Another runtime directory, so another socket.
	other := files
	short, err := os.MkdirTemp("", "swd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(short) })
	other.runDir, other.socket = short, filepath.Join(short, "smtpwatch.sock")
	second := launchDaemon(t, e, other)
	select {
	case <-second.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("a second daemon on the same state directory still runs after 10 s:\n%s", tail(second.out.String(), 20))
	}
	if second.exit == 0 || !strings.Contains(second.out.String(), "process "+pid) ||
		!strings.Contains(second.out.String(), "same state directory") {
		t.Errorf("second daemon (other XDG_RUNTIME_DIR): exit %d, output:\n%s\nwant non-zero, naming process %s",
			second.exit, second.out.String(), pid)
	}
	if _, err := os.Lstat(other.socket); !os.IsNotExist(err) {
		t.Errorf("the refused daemon left its socket %s behind (%v)", other.socket, err)
	}

	// No XDG_RUNTIME_DIR at all, no --socket: the socket would be in the
	// user's default state directory.
	r := smtpwatch(t, e, e.Password, nil, "run", "--headless", "--config", files.config)
	if r.Exit == 0 || !strings.Contains(r.Stderr, "process "+pid) {
		t.Errorf("second daemon (no XDG_RUNTIME_DIR): exit %d, want non-zero naming process %s\n%s", r.Exit, pid, r)
	}
	if r.Elapsed > 5*time.Second {
		t.Errorf("the second daemon took %v to give up", r.Elapsed)
	}

	if st, _ := first.status(t, e); len(st.Accounts) != 1 || first.exited() {
		t.Errorf("the first daemon after two refused ones: %v", st)
	}
	if took := first.signal(t, syscall.SIGTERM, 10*time.Second); took > 2*time.Second || first.exit != 0 {
		t.Errorf("first daemon: exit %d after %v", first.exit, took)
	}
	// Free again: a new daemon starts.
	third := startDaemon(t, e, other)
	third.signal(t, syscall.SIGTERM, 10*time.Second)
}
