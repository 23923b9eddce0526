//go:build linux

package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/health"
)

// keyringChildEnv marks the re-executed test binary that runs on a private
// session bus with a real gnome-keyring. The marker lives in the tests
// only; production code has no test switches.
const keyringChildEnv = "SMTPWATCH_TEST_KEYRING_CHILD"

// privateBusConfig is a session bus that starts no services on demand, so
// that only the keyring daemon the test started answers.
const privateBusConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
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

// inKeyringChild reports whether the test runs in the child on the private
// bus. Otherwise it starts a dbus-daemon and an unlocked gnome-keyring,
// re-runs the test named name in a child process on them, fails the test
// if the child does, and returns false: the caller returns.
func inKeyringChild(t *testing.T, name string) bool {
	t.Helper()
	if os.Getenv(keyringChildEnv) == "1" {
		if !strings.HasPrefix(os.Getenv("DBUS_SESSION_BUS_ADDRESS"), "unix:path=") {
			t.Fatal("the child must run on the test's private bus")
		}
		return true
	}
	busDaemon, err1 := exec.LookPath("dbus-daemon")
	keyringDaemon, err2 := exec.LookPath("gnome-keyring-daemon")
	if err := errors.Join(err1, err2); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs dbus and gnome-keyring installed: %v", err)
		}
		t.Skipf("no keyring to test against (apt-get install dbus gnome-keyring): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_RUNTIME_DIR=" + dir,
		"XDG_DATA_HOME=" + filepath.Join(dir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
	}
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(privateBusConfig, filepath.Join(dir, "bus"))), 0o600); err != nil {
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
	}
	if addr == "" {
		t.Fatalf("dbus-daemon printed no address: %s", readLog("bus.log"))
	}
	env = append(env, "DBUS_SESSION_BUS_ADDRESS="+addr)

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

	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	child.Env = append(env, keyringChildEnv+"=1")
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

// Storing a password through the settings page, with a real
// gnome-keyring on a private session bus: an account without a user name
// or with another password source is left alone; one that reads none
// gets the password in the keyring and password_keyring = true in the
// file (its comments kept), and the daemon signs in with it.
func TestStorePasswordInKeyring(t *testing.T) {
	if !inKeyringChild(t, "TestStorePasswordInKeyring") {
		return
	}
	b := newBed(t)
	c := b.login()
	before := b.readConfig()
	b.post(c, "/settings/account/beta/password", url.Values{"password": {pass}})
	if page := html.UnescapeString(b.get(c, "/settings").body); !strings.Contains(page, `"beta" has no user name`) || b.readConfig() != before {
		t.Fatalf("an account without a user name:\n%s", page)
	}
	b.post(c, "/settings/account/alpha/password", url.Values{"password": {pass}})
	if page := html.UnescapeString(b.get(c, "/settings").body); !strings.Contains(page, `"alpha" reads its password from $`+pwEnv) || b.readConfig() != before {
		t.Fatalf("an account with password_env:\n%s", page)
	}
	if _, err := credential.FromKeyring(context.Background(), "alpha"); !errors.Is(err, credential.ErrNotFound) {
		t.Fatalf("something was stored for alpha: %v", err)
	}

	form := b.editForm(c, "beta")
	form.Set("username", user)
	if r := b.do(c, "POST", "/settings/account/beta", form, nil); r.code != http.StatusSeeOther {
		t.Fatalf("setting beta's user: %d\n%s", r.code, r.body)
	}
	r := b.post(c, "/settings/account/beta/password", url.Values{"password": {pass}})
	if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/account/beta" {
		t.Fatalf("store: %d %v", r.code, r.hdr)
	}
	got, err := credential.FromKeyring(context.Background(), "beta")
	if err != nil || got.Reveal() != pass {
		t.Fatalf("the keyring holds %v, %v", got, err)
	}
	text := b.readConfig()
	if !strings.Contains(text, "username = \""+user+"\"\npassword_keyring = true\n") || !strings.Contains(text, "# the first account") {
		t.Errorf("the file:\n%s", text)
	}
	if page := html.UnescapeString(b.get(c, "/account/beta").body); !strings.Contains(page, `Stored the password of "beta" in the OS keyring.`) {
		t.Errorf("no word of it:\n%s", page)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if a, _, _ := findStatus(b.eng.Status(), "beta"); a.State == health.OK && a.Last != nil && a.Last.AuthVerified {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("beta did not sign in with the stored password: %+v", b.eng.Status())
		}
		time.Sleep(50 * time.Millisecond) // bounded polling of the engine
	}
}
