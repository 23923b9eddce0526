//go:build linux

package web

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/keyringtest"
)

// Storing a password through the settings page, with a real
// gnome-keyring on a private session bus: an account without a user name
// or with another password source is left alone; one that reads none
// gets the password in the keyring and password_keyring = true in the
// file (its comments kept), and the daemon signs in with it.
func TestStorePasswordInKeyring(t *testing.T) {
	if !keyringtest.InChild(t, "TestStorePasswordInKeyring") {
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
