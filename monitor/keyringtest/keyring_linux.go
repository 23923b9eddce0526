package keyringtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// busConfig is a session bus that starts no services on demand, so that
// only the keyring daemon started here answers.
const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// Keyring is a running bus and keyring.
type Keyring struct {
	// Addr is the bus address (unix:path=...).
	Addr string
	// Dir is the home, runtime and data directory of both daemons.
	Dir string
	// Env is an environment for processes that use the keyring: PATH,
	// HOME and the XDG directories in Dir, and DBUS_SESSION_BUS_ADDRESS.
	Env []string
}

// Start runs the bus and the unlocked keyring until the test ends. It
// returns once the keyring owns org.freedesktop.secrets (within 30 s).
func Start(t testing.TB) *Keyring {
	t.Helper()
	busDaemon, err1 := exec.LookPath("dbus-daemon")
	keyringDaemon, err2 := exec.LookPath("gnome-keyring-daemon")
	if err := errors.Join(err1, err2); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: the keyring tests need dbus and gnome-keyring (scripts/test installs them): %v", err)
		}
		t.Skipf("no keyring to test against (apt-get install dbus gnome-keyring): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A short directory: a socket path has 108 bytes at most.
	dir, err := os.MkdirTemp("", "swkr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	k := &Keyring{Dir: dir, Env: []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_RUNTIME_DIR=" + dir,
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"XDG_STATE_HOME=" + filepath.Join(dir, "state"),
	}}
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(busConfig, filepath.Join(dir, "bus"))), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := func(name string) *os.File {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	readLog := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return string(b)
	}

	bus := exec.Command(busDaemon, "--config-file="+conf, "--nofork", "--print-address=1")
	bus.Env = k.Env
	out, err := bus.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	bus.Stderr = logFile("bus.log")
	if err := bus.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() { _ = bus.Process.Kill(); _ = bus.Wait() })
	addrCh := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addrCh <- strings.TrimSpace(line)
	}()
	select {
	case k.Addr = <-addrCh:
	case <-ctx.Done():
	}
	if k.Addr == "" {
		t.Fatalf("dbus-daemon printed no address: %s", readLog("bus.log"))
	}
	k.Env = append(k.Env, "DBUS_SESSION_BUS_ADDRESS="+k.Addr)

	conn, err := dbus.Connect(k.Addr)
	if err != nil {
		t.Fatalf("connect to the private bus: %v", err)
	}
	defer conn.Close()
	const secrets = "org.freedesktop.secrets"
	if err := conn.AddMatchSignal(dbus.WithMatchInterface("org.freedesktop.DBus"), dbus.WithMatchMember("NameOwnerChanged"), dbus.WithMatchArg(0, secrets)); err != nil {
		t.Fatal(err)
	}
	signals := make(chan *dbus.Signal, 8)
	conn.Signal(signals)

	kr := exec.Command(keyringDaemon, "--foreground", "--unlock", "--components=secrets")
	kr.Env = k.Env
	kr.Stdin = strings.NewReader("test-keyring-password")
	kr.Stdout = logFile("keyring.log")
	kr.Stderr = kr.Stdout
	if err := kr.Start(); err != nil {
		t.Fatalf("start gnome-keyring-daemon: %v", err)
	}
	t.Cleanup(func() { _ = kr.Process.Kill(); _ = kr.Wait() })
	for {
		var owned bool
		if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, secrets).Store(&owned); err != nil {
			t.Fatalf("NameHasOwner: %v", err)
		}
		if owned {
			return k
		}
		select {
		case <-signals:
		case <-ctx.Done():
			t.Fatalf("gnome-keyring-daemon did not take %s: %s", secrets, readLog("keyring.log"))
		}
	}
}

// ChildEnv marks the re-executed test binary that runs on the private bus
// (InChild). The marker lives in tests only; production code has no test
// switches.
const ChildEnv = "SMTPWATCH_TEST_KEYRING_CHILD"

// InChild reports whether the test runs in the re-executed child, on the
// private bus. Otherwise it starts the bus and keyring (Start), runs the
// test named name again in a child process of the test binary with
// Keyring.Env — so that the bus address is in its environment before
// go-keyring first connects — within 90 s, fails the test if the child
// fails or did not run it, and returns false: the caller returns.
func InChild(t *testing.T, name string) bool {
	t.Helper()
	if os.Getenv(ChildEnv) == "1" {
		if !strings.HasPrefix(os.Getenv("DBUS_SESSION_BUS_ADDRESS"), "unix:path=") {
			t.Fatal("the child must run on the test's private bus")
		}
		return true
	}
	k := Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	child.Env = append(k.Env, ChildEnv+"=1")
	output, err := child.CombinedOutput()
	if err != nil {
		t.Fatalf("%s in the child process failed: %v\n%s", name, err, output)
	}
	if !strings.Contains(string(output), "--- PASS: "+name) {
		t.Fatalf("the child did not run the test:\n%s", output)
	}
	t.Logf("child:\n%s", output)
	return false
}
