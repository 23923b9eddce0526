package config

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

	"smtpwatch/monitor/credential"

	"github.com/godbus/dbus/v5"
	"github.com/zalando/go-keyring"
)

// keyringChildEnv marks the re-executed test binary that talks to the
// keyring. The marker lives in this test only; production code has no test
// switches.
const keyringChildEnv = "SMTPWATCH_TEST_KEYRING_CHILD"

// busConfig is a session bus that starts no services on demand, so that
// only the keyring daemon the test started can answer.
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

// TestKeyring stores, reads and deletes a password in a real
// gnome-keyring on a private D-Bus session bus. The keyring calls run in a
// child process so that the bus address is in its environment before
// godbus first connects (go-keyring shares dbus.SessionBus()).
func TestKeyring(t *testing.T) {
	if os.Getenv(keyringChildEnv) == "1" {
		keyringChild(t)
		return
	}
	busDaemon, err1 := exec.LookPath("dbus-daemon")
	keyringDaemon, err2 := exec.LookPath("gnome-keyring-daemon")
	if err := errors.Join(err1, err2); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs dbus and gnome-keyring installed: %v", err)
		}
		t.Skipf("no keyring to test against (apt-get install dbus gnome-keyring): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	dir := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_RUNTIME_DIR=" + dir,
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
	}
	confPath := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(confPath, []byte(fmt.Sprintf(busConfig, filepath.Join(dir, "bus"))), 0o600); err != nil {
		t.Fatal(err)
	}
	// Daemon output goes to files: the test reads them only on failure,
	// while the daemons may still be writing.
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

	// The bus.
	bus := exec.Command(busDaemon, "--config-file="+confPath, "--nofork", "--print-address=1")
	bus.Env = env
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
	var addr string
	select {
	case addr = <-addrCh:
	case <-ctx.Done():
		t.Fatalf("dbus-daemon printed no address: %s", readLog("bus.log"))
	}
	if addr == "" {
		t.Fatalf("dbus-daemon printed no address: %s", readLog("bus.log"))
	}
	env = append(env, "DBUS_SESSION_BUS_ADDRESS="+addr)

	// Watch for the keyring to take its name before starting it.
	conn, err := dbus.Connect(addr)
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

	// The keyring, unlocked with a password on stdin.
	kr := exec.Command(keyringDaemon, "--foreground", "--unlock", "--components=secrets")
	kr.Env = env
	kr.Stdin = strings.NewReader("test-keyring-password")
	kr.Stdout = logFile("keyring.log")
	kr.Stderr = kr.Stdout
	if err := kr.Start(); err != nil {
		t.Fatalf("start gnome-keyring-daemon: %v", err)
	}
	t.Cleanup(func() { _ = kr.Process.Kill(); _ = kr.Wait() })
	for owned := false; !owned; {
		if err := conn.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, secrets).Store(&owned); err != nil {
			t.Fatalf("NameHasOwner: %v", err)
		}
		if owned {
			break
		}
		select {
		case <-signals:
		case <-ctx.Done():
			t.Fatalf("gnome-keyring-daemon did not take %s: %s", secrets, readLog("keyring.log"))
		}
	}

	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKeyring$", "-test.v")
	child.Env = append(env, keyringChildEnv+"=1")
	output, err := child.CombinedOutput()
	if err != nil {
		t.Fatalf("keyring test in the child process failed: %v\n%s", err, output)
	}
	if !strings.Contains(string(output), "--- PASS: TestKeyring") {
		t.Fatalf("the child did not run the test:\n%s", output)
	}
	t.Logf("child:\n%s", output)
}

// keyringChild runs in the re-executed binary, on the private bus.
func keyringChild(t *testing.T) {
	if !strings.HasPrefix(os.Getenv("DBUS_SESSION_BUS_ADDRESS"), "unix:path=") {
		t.Fatal("the child must run on the test's private bus")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	acct := Account{Name: "charter", Username: "me@charter.net", Credential: Credential{Source: CredentialKeyring, File: "c.toml", Line: 6}}

	// Nothing stored yet.
	_, err := acct.Password(ctx)
	if !errors.Is(err, keyring.ErrNotFound) {
		t.Fatalf("Password before set = %v, want keyring.ErrNotFound", err)
	}
	if want := `c.toml:6: account "charter": password_keyring: no password stored in the OS keyring for "charter"; run: smtpwatch password set charter`; err.Error() != want {
		t.Errorf("error\n got: %v\nwant: %s", err, want)
	}

	if err := credential.StoreInKeyring("charter", credential.NewSecret(testSecret)); err != nil {
		t.Fatalf("SetKeyringPassword: %v", err)
	}
	s, err := acct.Password(ctx)
	if err != nil || s.Reveal() != testSecret {
		t.Fatalf("Password after set = %q, %v", s.Reveal(), err)
	}

	// Setting again replaces the password.
	if err := credential.StoreInKeyring("charter", credential.NewSecret("new-"+testSecret)); err != nil {
		t.Fatalf("SetKeyringPassword again: %v", err)
	}
	if s, err := acct.Password(ctx); err != nil || s.Reveal() != "new-"+testSecret {
		t.Errorf("Password after reset = %q, %v", s.Reveal(), err)
	}

	// Other accounts are separate.
	other := acct
	other.Name = "gmail"
	if _, err := other.Password(ctx); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("other account: %v, want keyring.ErrNotFound", err)
	}

	if err := credential.DeleteFromKeyring("charter"); err != nil {
		t.Fatalf("DeleteKeyringPassword: %v", err)
	}
	if _, err := acct.Password(ctx); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("Password after delete = %v, want keyring.ErrNotFound", err)
	}
	if err := credential.DeleteFromKeyring("charter"); err != nil {
		t.Errorf("deleting a missing password: %v", err)
	}

	// An alert channel's URL (url_keyring) is an entry of its own,
	// "notify:NAME", apart from an account of the same name.
	cfg, err := Parse("c.toml", []byte("[[notify]]\nname = \"charter\"\nurl_keyring = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Notify[0]
	if _, err := n.NotifyURL(ctx); err == nil || err.Error() != `c.toml:3: notify "charter": url_keyring: no password stored in the OS keyring for "notify:charter"; run: smtpwatch notify set-url charter` {
		t.Errorf("NotifyURL before set-url: %v", err)
	}
	if err := credential.StoreInKeyring(n.KeyringUser(), credential.NewSecret("ntfy://ntfy.example.org/"+testSecret)); err != nil {
		t.Fatal(err)
	}
	if u, err := n.NotifyURL(ctx); err != nil || u.Reveal() != "ntfy://ntfy.example.org/"+testSecret {
		t.Errorf("NotifyURL = %v", err)
	}
	if _, err := acct.Password(ctx); !errors.Is(err, keyring.ErrNotFound) {
		t.Errorf("the account read the channel's entry: %v", err)
	}
	credential.DeleteFromKeyring(n.KeyringUser())

	for _, tt := range []struct {
		name string
		s    credential.Secret
	}{{"", credential.NewSecret("x")}, {"charter", credential.Secret{}}} {
		if err := credential.StoreInKeyring(tt.name, tt.s); err == nil {
			t.Errorf("credential.StoreInKeyring(%q, %v) = nil, want an error", tt.name, tt.s)
		} else if strings.Contains(fmt.Sprint(err), testSecret) {
			t.Errorf("error reveals the password: %v", err)
		}
	}
}
