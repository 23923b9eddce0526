package tray

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/keyringtest"
	"smtpwatch/monitor/oauthtest"
	"smtpwatch/monitor/smtptest"
)

const oauthUser = "alice@example.test"

// TestTraySignIn runs `smtpwatch run` with its tray on a private session
// bus that also has an unlocked gnome-keyring, watching an OAuth2 account
// of a go-smtp server that validates the fake provider's tokens. The
// desktop's browser is a script that writes down the address it is given;
// the test then plays the person at the provider.
//   - Never signed in: failing, one notification, and the menu offers
//     "Sign in to work…".
//   - Clicked: the browser gets the provider's address; the person
//     consents; the sign-in lands in the keyring (the refresh token), and
//     the account is checked and ok at once, with a recovery notification.
//   - The provider revokes the sign-in: "Check now" finds it, failing with
//     oauth_sign_in_required and exactly one more notification; nothing is
//     sent again while it waits.
func TestTraySignIn(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs smtpwatch")
	}
	kr := keyringtest.Start(t)
	watcher := startWatcher(t, kr.Addr)
	notes := startNotifications(t, kr.Addr, watcher)
	me := connect(t, kr.Addr)
	watcher.acquire(t)

	idp := oauthtest.Start(t, oauthtest.Options{ClientID: "smtpwatch-test", Pad: 1200})
	ca := smtptest.NewCA(t, "smtpwatch test CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Tokens: idp.Check, MaxLineLength: 12288})

	// The browser: xdg-open writes the address it was given.
	dir := t.TempDir()
	bin, opened := filepath.Join(dir, "bin"), filepath.Join(dir, "opened")
	os.MkdirAll(bin, 0o700)
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '"+opened+"'\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	d := runOAuthTrayDaemon(t, kr, ca, srv.Addr, idp, bin)
	client := api.NewClient(d.socket)
	defer client.Close()

	// Never signed in.
	eventually(t, 20*time.Second, d.log, "failing for want of a sign-in", func() (bool, string) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		st, err := client.Status(ctx)
		if err != nil || len(st.Accounts) == 0 {
			return false, fmt.Sprint(err)
		}
		a := st.Accounts[0]
		return a.State == health.Failing && a.Cause == "oauth_sign_in_required", string(a.State) + "/" + string(a.Cause)
	})
	var sender string
	eventually(t, 20*time.Second, d.log, "the item registers", func() (bool, string) {
		regs := watcher.registrations()
		if len(regs) == 0 {
			return false, "no registration"
		}
		sender = regs[0].sender
		return true, ""
	})
	eventually(t, 10*time.Second, d.log, "a notification that sending fails", func() (bool, string) {
		return len(notes.recorded()) == 1, fmt.Sprintf("%d notifications", len(notes.recorded()))
	})
	if n := notes.recorded()[0]; n.summary != "Mail from work can't be sent" || !strings.Contains(n.body, "smtpwatch login work") {
		t.Errorf("notification %q %q", n.summary, n.body)
	}
	var signInID int32
	eventually(t, 10*time.Second, d.log, `"Sign in to work…" in the menu`, func() (bool, string) {
		id, err := menuItemID(me, sender, "Sign in to work…")
		if err != nil {
			return false, err.Error()
		}
		signInID = id
		return true, ""
	})
	click := func(id int32) {
		t.Helper()
		if err := me.Object(sender, "/StatusNotifierItem/menu").Call("com.canonical.dbusmenu.Event", 0,
			id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
			t.Fatal(err)
		}
	}

	// Sign in from the menu.
	click(signInID)
	var authURL string
	eventually(t, 20*time.Second, d.log, "the browser is given the provider's address", func() (bool, string) {
		b, _ := os.ReadFile(opened)
		authURL = strings.TrimSpace(string(b))
		return strings.HasPrefix(authURL, idp.AuthURL+"?"), authURL
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if page, err := idp.Consent(ctx, authURL, oauthUser); err != nil || !strings.Contains(page, "Signed in") {
		t.Fatalf("consent: %v: %s", err, page)
	}
	eventually(t, 20*time.Second, d.log, "ok after the sign-in, with a recovery notification", func() (bool, string) {
		calls := notes.recorded()
		return len(calls) == 2 && calls[1].summary == "Mail from work works again", fmt.Sprintf("%d notifications", len(calls))
	})
	if srv.AuthAttempts.Load() == 0 {
		t.Error("no sign-in reached the server")
	}
	stored := keyringEntry(t, kr, d.env)
	if !strings.Contains(stored, `"refresh_token":"rt.`) || !strings.Contains(stored, `"username":"`+oauthUser+`"`) {
		t.Errorf("the keyring holds %q", stored)
	}
	for _, s := range idp.Secrets() {
		if !strings.HasPrefix(s, "rt.") && strings.Contains(stored, s) {
			t.Error("the keyring holds an access token")
		}
	}

	for _, s := range idp.Secrets() {
		if strings.Contains(d.log.String(), s) {
			t.Error("a token is in the daemon's output")
		}
	}
}

// TestTraySignInRevoked: an account signed in before the daemon starts
// (its sign-in in the keyring) is ok, without a word; the provider then
// revokes the sign-in (a password change): the next check that signs in
// ("Check now") finds it — failing with oauth_sign_in_required and exactly
// one notification — and nothing is sent again while it waits.
func TestTraySignInRevoked(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs smtpwatch")
	}
	kr := keyringtest.Start(t)
	watcher := startWatcher(t, kr.Addr)
	notes := startNotifications(t, kr.Addr, watcher)
	me := connect(t, kr.Addr)
	watcher.acquire(t)
	// Access tokens live a minute, less than the 5 minutes before expiry
	// at which smtpwatch refreshes: every sign-in asks the provider, which
	// is where a revoked sign-in shows (an access token already issued
	// stays valid until it expires, as Microsoft's do).
	idp := oauthtest.Start(t, oauthtest.Options{ClientID: "smtpwatch-test", Lifetime: time.Minute})
	ca := smtptest.NewCA(t, "smtpwatch test CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Tokens: idp.Check, MaxLineLength: 12288})
	storeGrant(t, kr, idp)

	d := runOAuthTrayDaemon(t, kr, ca, srv.Addr, idp, t.TempDir())
	client := api.NewClient(d.socket)
	defer client.Close()
	eventually(t, 20*time.Second, d.log, "ok with the stored sign-in", func() (bool, string) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		st, err := client.Status(ctx)
		if err != nil || len(st.Accounts) == 0 {
			return false, fmt.Sprint(err)
		}
		return st.Accounts[0].State == health.OK, string(st.Accounts[0].State) + "/" + string(st.Accounts[0].Cause)
	})
	var sender string
	eventually(t, 20*time.Second, d.log, "the item registers", func() (bool, string) {
		regs := watcher.registrations()
		if len(regs) == 0 {
			return false, "no registration"
		}
		sender = regs[0].sender
		return true, ""
	})
	if n := notes.recorded(); len(n) != 0 {
		t.Fatalf("notified at a start where all is well: %+v", n)
	}
	if stored := keyringEntry(t, kr, d.env); !strings.Contains(stored, `"refresh_token":"rt.`) {
		t.Errorf("the keyring holds %q after the first refresh", stored)
	}

	idp.Revoke()
	check, err := menuItemID(me, sender, "Check now")
	if err != nil {
		t.Fatal(err)
	}
	if err := me.Object(sender, "/StatusNotifierItem/menu").Call("com.canonical.dbusmenu.Event", 0,
		check, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, d.log, "a notification for the revoked sign-in", func() (bool, string) {
		return len(notes.recorded()) >= 1, "none"
	})
	refreshes, auths := idp.Refreshes.Load(), srv.AuthAttempts.Load()
	time.Sleep(6 * time.Second) // three check intervals: the property is that nothing happens in them
	calls := notes.recorded()
	if len(calls) != 1 || calls[0].summary != "Mail from work can't be sent" || !strings.Contains(calls[0].body, "invalid_grant") ||
		!strings.Contains(calls[0].body, "smtpwatch login work") {
		t.Errorf("notifications %+v, want exactly one naming the refusal and the sign-in", calls)
	}
	if idp.Refreshes.Load() != refreshes || srv.AuthAttempts.Load() != auths {
		t.Errorf("sent again while waiting for a sign-in: %d refreshes, %d sign-ins", idp.Refreshes.Load()-refreshes, srv.AuthAttempts.Load()-auths)
	}
	if _, err := menuItemID(me, sender, "Sign in to work…"); err != nil {
		t.Error(err)
	}
}

// storeGrant puts a sign-in of "work" (a refresh token of idp) into the
// keyring, as `smtpwatch login` would have, with secret-tool and the
// attributes go-keyring looks for.
func storeGrant(t *testing.T, kr *keyringtest.Keyring, idp *oauthtest.Provider) {
	t.Helper()
	tool := needTool(t, "secret-tool")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, "store", "--label=smtpwatch test sign-in", "username", "work", "service", credential.OAuthKeyringService)
	cmd.Env = kr.Env
	cmd.Stdin = strings.NewReader(fmt.Sprintf(`{"v":1,"refresh_token":%q,"client_id":"smtpwatch-test","token_url":%q,"username":%q}`,
		idp.GrantRefresh(oauthUser), idp.TokenURL, oauthUser))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("secret-tool store: %v: %s", err, out)
	}
}

// keyringEntry reads the sign-in of "work" from the keyring with
// secret-tool (package libsecret-tools), in the daemon's environment.
func keyringEntry(t *testing.T, kr *keyringtest.Keyring, env []string) string {
	t.Helper()
	tool := needTool(t, "secret-tool")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, "lookup", "service", credential.OAuthKeyringService, "username", "work")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("secret-tool lookup: %v", err)
	}
	return string(out)
}

// oauthTrayDaemon is a `smtpwatch run` with its tray, on the keyring's bus.
type oauthTrayDaemon struct {
	log    *lockedBuffer
	socket string
	env    []string
	exited chan error
}

// runOAuthTrayDaemon starts `smtpwatch run` watching one OAuth2 account
// "work" (a custom provider: idp) of the STARTTLS server at server, with
// browserDir first on its PATH. Checks every 2 s; a login at most every
// minute, so that the logins the test sees are the ones it asks for.
func runOAuthTrayDaemon(t *testing.T, kr *keyringtest.Keyring, ca *smtptest.CA, server string, idp *oauthtest.Provider, browserDir string) *oauthTrayDaemon {
	t.Helper()
	online := smtptest.Online(t)
	dir := t.TempDir()
	state, runtime := filepath.Join(dir, "state"), filepath.Join(dir, "run")
	os.MkdirAll(runtime, 0o700)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	err := os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir = %q
[online]
targets = [%q]
[[account]]
name = "work"
server = "127.0.0.1"
port = %d
security = "starttls"
username = %q
ca_file = %q
oauth_provider = "custom"
oauth_client_id = "smtpwatch-test"
oauth_auth_url = %q
oauth_token_url = %q
interval = "2s"
auth_interval = "1h"
failure_threshold = 0
success_threshold = 1
`, state, online, smtptest.Port(t, server), oauthUser, caFile, idp.AuthURL, idp.TokenURL)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	d := &oauthTrayDaemon{log: &lockedBuffer{}, socket: filepath.Join(runtime, "smtpwatch.sock"), exited: make(chan error, 1)}
	for _, kv := range kr.Env {
		if strings.HasPrefix(kv, "PATH=") {
			kv = "PATH=" + browserDir + ":" + strings.TrimPrefix(kv, "PATH=")
		}
		if strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") {
			kv = "XDG_RUNTIME_DIR=" + runtime
		}
		d.env = append(d.env, kv)
	}
	d.env = append(d.env, "TZ=UTC", "DISPLAY=:0")
	cmd := exec.Command(smtpwatchBinary(t), "run", "--config", cfg, "--socket", d.socket, "--log-level", "debug")
	cmd.Env = d.env
	cmd.Stdout, cmd.Stderr = d.log, d.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			t.Logf("smtpwatch log:\n%s", d.log.String())
		}
	})
	return d
}
