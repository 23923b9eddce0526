package credential_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/keyringtest"
	"smtpwatch/monitor/oauthtest"
)

// grantChildEnv marks the re-executed test binary that talks to the
// keyring; the marker lives in this test only.
const grantChildEnv = "SMTPWATCH_TEST_GRANT_CHILD"

// TestGrantKeyring stores, reads, rotates and deletes an OAuth2 sign-in in
// a real gnome-keyring on a private session bus. The keyring calls run in
// a child process, so that the bus address is in its environment before
// godbus first connects.
func TestGrantKeyring(t *testing.T) {
	if os.Getenv(grantChildEnv) == "1" {
		grantChild(t)
		return
	}
	k := keyringtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	child := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestGrantKeyring$", "-test.v")
	child.Env = append(k.Env, grantChildEnv+"=1")
	out, err := child.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestGrantKeyring") {
		t.Fatalf("the keyring test in the child process: %v\n%s", err, out)
	}
}

func grantChild(t *testing.T) {
	if !strings.HasPrefix(os.Getenv("DBUS_SESSION_BUS_ADDRESS"), "unix:path=") {
		t.Fatal("the child must run on the test's private bus")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var store credential.KeyringGrants

	if _, err := store.LoadGrant(ctx, "work"); !errors.Is(err, credential.ErrNotFound) {
		t.Fatalf("before any sign-in: %v, want ErrNotFound", err)
	}
	// A refresh token as long as Microsoft's (about 1.5 kB).
	idp := oauthtest.Start(t, oauthtest.Options{})
	rt := idp.GrantRefresh(user) + strings.Repeat("M", 1400)
	g := credential.Grant{RefreshToken: credential.NewSecret(rt), ClientID: "client-1", TokenURL: idp.TokenURL,
		Username: user, Scopes: []string{"a", "b"}, SavedAt: time.Now()}
	if err := store.SaveGrant("work", g); err != nil {
		t.Fatal(err)
	}
	got, err := store.LoadGrant(ctx, "work")
	if err != nil || !got.RefreshToken.Equal(g.RefreshToken) || got.ClientID != "client-1" || got.Username != user ||
		got.TokenURL != idp.TokenURL || strings.Join(got.Scopes, " ") != "a b" {
		t.Fatalf("LoadGrant = %+v, %v", got, err)
	}
	// Apart from the password of the same account.
	if err := credential.StoreInKeyring("work", credential.NewSecret("a password")); err != nil {
		t.Fatal(err)
	}
	if got, err := store.LoadGrant(ctx, "work"); err != nil || !got.RefreshToken.Equal(g.RefreshToken) {
		t.Fatalf("a password stored beside it changed the sign-in: %v", err)
	}
	if pw, err := credential.FromKeyring(ctx, "work"); err != nil || pw.Reveal() != "a password" {
		t.Fatalf("the password beside it: %v", err)
	}

	// A refresh through the keyring: the rotated refresh token replaces
	// the old one there at once; the access token is not stored.
	g.RefreshToken = credential.NewSecret(idp.GrantRefresh(user))
	g.ClientID = "smtpwatch-test"
	if err := store.SaveGrant("work", g); err != nil {
		t.Fatal(err)
	}
	ts := credential.NewTokenSource(credential.TokenSourceOptions{Account: "work", Username: user,
		Client: credential.OAuthClient{TokenURL: idp.TokenURL, ClientID: "smtpwatch-test"}, Store: store})
	stored, err := ts.Stored(ctx)
	if err != nil {
		t.Fatal(err)
	}
	access, err := ts.Token(ctx, stored)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := keyring.Get(credential.OAuthKeyringService, "work")
	if err != nil {
		t.Fatal(err)
	}
	after, _ := store.LoadGrant(ctx, "work")
	switch {
	case after.RefreshToken.Equal(g.RefreshToken):
		t.Error("the rotated refresh token was not saved")
	case !strings.Contains(raw, after.RefreshToken.Reveal()):
		t.Error("the keyring entry does not hold the refresh token")
	case strings.Contains(raw, access.Reveal()):
		t.Error("the access token was stored in the keyring")
	}

	if err := store.DeleteGrant("work"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.LoadGrant(ctx, "work"); !errors.Is(err, credential.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if err := store.DeleteGrant("work"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	if pw, err := credential.FromKeyring(ctx, "work"); err != nil || pw.Reveal() != "a password" {
		t.Errorf("deleting the sign-in removed the password: %v", err)
	}
}
