package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigKeyringWithoutBus: on a machine without a D-Bus session bus,
// `smtpwatch check` with a password_keyring account says the keyring is not
// available here and names password_command and password_env, checks the
// account without signing in, and leaves no process behind: godbus would
// otherwise run dbus-launch, whose dbus-daemon then starts a
// gnome-keyring-daemon, both outliving smtpwatch. Every process the check
// starts inherits a marker in its environment; none may be alive after.
func TestConfigKeyringWithoutBus(t *testing.T) {
	bin := smtpwatchBin(t)
	if _, err := os.Stat("/run/user/0/bus"); err == nil && os.Geteuid() == 0 {
		t.Skip("this machine has a session bus for root at /run/user/0/bus")
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close() // a closed port: the check fails fast, which is not the point here
	cfg := filepath.Join(dir, "config.toml")
	body := fmt.Sprintf("[[account]]\nname = \"home\"\nserver = \"127.0.0.1\"\nport = %d\nsecurity = \"tls\"\nusername = \"me\"\npassword_keyring = true\n", addr.Port)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	rand.Read(b[:])
	marker := "SMTPWATCH_TEST_MARKER=" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "check", "--config", cfg, "--json", "--online-targets", "none", "--alternatives", "none")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_RUNTIME_DIR=" + dir, marker}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	out := stdout.String() + stderr.String()
	for _, want := range []string{"the OS keyring is not available here", "no D-Bus session bus", "use password_command or password_env instead", `"cause": "no_credentials"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q (exit %v):\n%s", want, err, out)
		}
	}

	// Anything started by the check would be alive now, or within moments
	// (dbus-launch forks the bus before it exits).
	deadline := time.Now().Add(2 * time.Second)
	for {
		if left := withEnv(marker); len(left) > 0 {
			for _, p := range left {
				if pr, err := os.FindProcess(p.pid); err == nil {
					pr.Kill()
				}
			}
			t.Fatalf("processes left behind by the check: %v", left)
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling /proc: nothing to wait on
	}
}

type proc struct {
	pid  int
	comm string
}

func (p proc) String() string { return fmt.Sprintf("%d %s", p.pid, p.comm) }

// withEnv lists the processes whose environment holds kv.
func withEnv(kv string) []proc {
	var out []proc
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(append(append([]byte{0}, env...), 0), []byte("\x00"+kv+"\x00")) {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		out = append(out, proc{pid, strings.TrimSpace(string(comm))})
	}
	return out
}
