package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/keyringtest"

	"github.com/zalando/go-keyring"
)

// TestKeyring stores, reads and deletes a password in a real
// gnome-keyring on a private D-Bus session bus (monitor/keyringtest). The
// keyring calls run in a child process so that the bus address is in its
// environment before godbus first connects (go-keyring shares
// dbus.SessionBus()).
func TestKeyring(t *testing.T) {
	if keyringtest.InChild(t, "TestKeyring") {
		keyringChild(t)
	}
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
