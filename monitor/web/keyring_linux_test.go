//go:build linux

package web

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/keyringtest"
)

// keyringChildEnv marks the re-executed test binary that runs on a private
// session bus with a real gnome-keyring. The marker lives in the tests
// only; production code has no test switches.
const keyringChildEnv = "SMTPWATCH_TEST_KEYRING_CHILD"

// inKeyringChild reports whether the test runs in the child on the private
// bus. Otherwise it starts a bus and an unlocked gnome-keyring
// (monitor/keyringtest), re-runs the test named name in a child process on
// them — so that the bus address is in its environment before godbus first
// connects — fails the test if the child does, and returns false: the
// caller returns.
func inKeyringChild(t *testing.T, name string) bool {
	t.Helper()
	if os.Getenv(keyringChildEnv) == "1" {
		if !strings.HasPrefix(os.Getenv("DBUS_SESSION_BUS_ADDRESS"), "unix:path=") {
			t.Fatal("the child must run on the test's private bus")
		}
		return true
	}
	kr := keyringtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+name+"$", "-test.v", "-test.count=1")
	child.Env = append(kr.Env, keyringChildEnv+"=1")
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
	// The daemon signs in with it: a login the server accepted is in the
	// history (the newest check need not be one: a scheduled check after
	// it need not log in again).
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, ok, err := b.store.LastWorking(context.Background(), "beta", true)
		if err != nil {
			t.Fatal(err)
		}
		if ok && c.Result.AuthVerified {
			break
		}
		if time.Now().After(deadline) {
			a, _, _ := findStatus(b.eng.Status(), "beta")
			last := "none"
			if a.Last != nil {
				last = fmt.Sprintf("%s %s auth verified %v: %s", a.Last.Status, a.Last.Cause, a.Last.AuthVerified, a.Last.Message)
			}
			t.Fatalf("beta did not sign in with the stored password: %s, last check: %s", a.State, last)
		}
		time.Sleep(50 * time.Millisecond) // bounded polling of the history
	}
}
