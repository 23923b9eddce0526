package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/oauth"
	"smtpwatch/monitor/oauthtest"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

const loginUser = "alice@example.test"

// syncBuffer is a buffer the command writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// loginBed is a fake provider, a config whose account "work" signs in
// with it, and an app whose keyring is a map and whose browser is the
// test's.
type loginBed struct {
	idp            *oauthtest.Provider
	cfg            string
	grants         *oauthtest.Grants
	stdout, stderr *syncBuffer
	opened         []string
	mu             sync.Mutex
}

func newLoginBed(t *testing.T, extra string) *loginBed {
	t.Helper()
	b := &loginBed{idp: oauthtest.Start(t, oauthtest.Options{ClientID: "smtpwatch-test"}), grants: oauthtest.NewGrants(),
		stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	b.cfg = filepath.Join(t.TempDir(), "config.toml")
	body := fmt.Sprintf(`[[account]]
name = "work"
server = "127.0.0.1"
username = %q
oauth_provider = "custom"
oauth_client_id = "smtpwatch-test"
oauth_auth_url = %q
oauth_token_url = %q
oauth_device_url = %q
%s
[[account]]
name = "pw"
server = "127.0.0.1"
username = "me"
password_env = "PW"

[[account]]
name = "helper"
server = "127.0.0.1"
username = "me"
oauth_token_command = "true"
`, loginUser, b.idp.AuthURL, b.idp.TokenURL, b.idp.DeviceURL, extra)
	if err := os.WriteFile(b.cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *loginBed) app(browser func(url string) error) *app {
	return &app{
		stdin: strings.NewReader(""), stdout: b.stdout, stderr: b.stderr,
		getenv: func(string) string { return "" }, logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		grants: b.grants,
		openURL: func(u string) error {
			b.mu.Lock()
			b.opened = append(b.opened, u)
			b.mu.Unlock()
			if browser != nil {
				return browser(u)
			}
			return nil
		},
	}
}

// consent is a browser that signs in as who.
func (b *loginBed) consent(who string) func(string) error {
	return func(u string) error {
		go b.idp.Consent(context.Background(), u, who)
		return nil
	}
}

// smtpwatch login: the URL is printed, the browser opened, the sign-in
// kept (the refresh token only); nothing of a token is printed. Without a
// daemon it says how to check.
func TestLoginCommand(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir()) // no daemon socket there
	b := newLoginBed(t, "")
	a := b.app(b.consent(loginUser))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code := a.main(ctx, []string{"login", "--config", b.cfg, "work"}); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, b.stdout.String(), b.stderr.String())
	}
	out := b.stdout.String() + b.stderr.String()
	g := b.grants.Get("work")
	if g.IsZero() || g.Username != loginUser || g.ClientID != "smtpwatch-test" || g.TokenURL != b.idp.TokenURL {
		t.Fatalf("stored %+v", g)
	}
	if len(b.opened) != 1 || !strings.Contains(out, b.opened[0]) {
		t.Errorf("the browser opened %q; the output must show the same address:\n%s", b.opened, out)
	}
	for _, want := range []string{"Sign in to your provider as " + loginUser, "Signed in to your provider as " + loginUser,
		"Check sending now: smtpwatch check --account work"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, s := range b.idp.Secrets() {
		if strings.Contains(out, s) {
			t.Errorf("a token is printed:\n%s", out)
		}
	}
	// logout removes it.
	if code := a.main(ctx, []string{"logout", "work"}); code != 0 || !b.grants.Get("work").IsZero() {
		t.Errorf("logout: exit %d, grant %v", code, !b.grants.Get("work").IsZero())
	}
}

// --device prints the code to enter; the person approves it elsewhere.
func TestLoginDevice(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	b := newLoginBed(t, "")
	a := b.app(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		re := regexp.MustCompile(`enter the code (\S+)`)
		for ctx.Err() == nil {
			if m := re.FindStringSubmatch(b.stdout.String()); m != nil {
				b.idp.ApproveDevice(m[1], loginUser)
				return
			}
			time.Sleep(20 * time.Millisecond) // polling the command's output, bounded by ctx
		}
	}()
	if code := a.main(ctx, []string{"login", "--config", b.cfg, "--device", "work"}); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, b.stdout.String(), b.stderr.String())
	}
	if b.grants.Get("work").IsZero() || len(b.opened) != 0 {
		t.Errorf("grant stored %v, browser opened %q", !b.grants.Get("work").IsZero(), b.opened)
	}
}

// The refusals: accounts that do not sign in this way, a missing client
// id (pointing to the README), Google's device flow.
func TestLoginRefusals(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	b := newLoginBed(t, "")
	dir := t.TempDir()
	noID := filepath.Join(dir, "noid.toml")
	os.WriteFile(noID, []byte("[[account]]\nname = \"o365\"\npreset = \"office365\"\nusername = \"me@example.com\"\n\n"+
		"[[account]]\nname = \"g\"\npreset = \"gmail\"\nusername = \"me@gmail.com\"\nauth = \"oauth2\"\noauth_client_id = \"x\"\n"), 0o600)
	old := oauth.MicrosoftClientID
	oauth.MicrosoftClientID = ""
	t.Cleanup(func() { oauth.MicrosoftClientID = old })
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"login", "--config", b.cfg, "pw"}, `account "pw" signs in with a password; to sign in with OAuth2 instead, set auth = "oauth2"`},
		{[]string{"login", "--config", b.cfg, "helper"}, `account "helper" gets its access tokens from oauth_token_command`},
		{[]string{"login", "--config", b.cfg, "nosuch"}, `has no account named "nosuch" (its accounts: work, pw, helper)`},
		{[]string{"login", "--config", noID, "o365"}, `no OAuth2 client id: this build has none for Microsoft. Register smtpwatch with the provider (see the README's "Sign in with OAuth2" section) and set oauth_client_id in the account`},
		{[]string{"login", "--config", noID, "--device", "g"}, `Google refuses mail access (https://mail.google.com/) on its device sign-in`},
		{[]string{"login", "--config", b.cfg}, "the account NAME is missing"},
	} {
		b.stdout.b.Reset()
		b.stderr.b.Reset()
		a := b.app(func(string) error { t.Errorf("%q opened a browser", tc.args); return nil })
		if code := a.main(context.Background(), tc.args); code != exitUnknown || !strings.Contains(b.stderr.String(), tc.want) {
			t.Errorf("%q: exit %d\n%s\nwant %q", tc.args, code, b.stderr.String(), tc.want)
		}
	}
}

// Without a keyring the sign-in is not even started: it could not be
// kept.
func TestLoginWithoutKeyring(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	b := newLoginBed(t, "")
	a := b.app(func(string) error { t.Error("a browser opened"); return nil })
	a.grants = nil
	if code := a.main(context.Background(), []string{"login", "--config", b.cfg, "work"}); code != exitUnknown ||
		!strings.Contains(b.stderr.String(), "the OS keyring is not available here") || !strings.Contains(b.stderr.String(), "oauth_token_command") {
		t.Errorf("exit %d\n%s", code, b.stderr.String())
	}
}

// `smtpwatch check` of an OAuth2 account: the stored sign-in gives the
// token the server accepts; without one, the cause says to sign in.
func TestCheckOAuthAccount(t *testing.T) {
	ca := smtptest.NewCA(t, "login test CA", "tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	idp := oauthtest.Start(t, oauthtest.Options{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Tokens: idp.Check, MaxLineLength: 12288})
	online := smtptest.Start(t, smtptest.Options{}).Addr // anything that accepts
	cfg := filepath.Join(dir, "c.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[online]
targets = [%q]
[[account]]
name = "work"
server = "127.0.0.1"
port = %d
security = "starttls"
ca_file = %q
username = %q
oauth_provider = "custom"
oauth_client_id = "c"
oauth_auth_url = %q
oauth_token_url = %q
`, online, srv.Port, caFile, loginUser, idp.AuthURL, idp.TokenURL)), 0o600)
	grants := oauthtest.NewGrants()
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" },
		logger: slog.New(slog.NewTextHandler(io.Discard, nil)), grants: grants}
	if code := a.main(context.Background(), []string{"check", "--config", cfg, "--alternatives", "none"}); code != exitFailing ||
		!strings.Contains(out.String(), "smtpwatch login work") || srv.AuthAttempts.Load() != 0 {
		t.Fatalf("not signed in: exit %d, %d sign-ins\n%s%s", code, srv.AuthAttempts.Load(), out.String(), errb.String())
	}
	grants.Put("work", credential.Grant{RefreshToken: credential.NewSecret(idp.GrantRefresh(loginUser)), ClientID: "c", TokenURL: idp.TokenURL, Username: loginUser})
	out.Reset()
	if code := a.main(context.Background(), []string{"check", "--config", cfg, "--alternatives", "none"}); code != exitOK ||
		!strings.Contains(out.String(), "AUTH OAUTHBEARER accepted") {
		t.Fatalf("signed in: exit %d\n%s%s", code, out.String(), errb.String())
	}
	for _, s := range idp.Secrets() {
		if strings.Contains(out.String()+errb.String(), s) {
			t.Error("a token is printed")
		}
	}
}

// After the sign-in, a running daemon is asked to check the account at
// once, and its verdict is said.
func TestLoginAsksTheDaemon(t *testing.T) {
	now := time.Now()
	ok := probe.Result{Name: "work", Status: probe.StatusOK, Cause: probe.CauseOK, CheckedAt: now}
	eng := &statusEngine{status: health.Status{State: health.Failing, Accounts: []health.AccountStatus{
		{Name: "work", State: health.Failing, Cause: probe.CauseOAuthSignInRequired, AuthLocked: true, Last: &ok}}}}
	sock := startDaemonAPI(t, eng)
	b := newLoginBed(t, "")
	a := b.app(b.consent(loginUser))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if code := a.main(ctx, []string{"login", "--config", b.cfg, "--socket", sock, "work"}); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, b.stdout.String(), b.stderr.String())
	}
	eng.mu.Lock()
	checks := eng.checks
	eng.mu.Unlock()
	if len(checks) != 1 || checks[0] != "work" {
		t.Errorf("the daemon was asked to check %q", checks)
	}
	if !strings.Contains(b.stdout.String(), "The running smtpwatch checked work: OK.") {
		t.Errorf("output:\n%s", b.stdout.String())
	}
}

// The tray offers "Sign in…" only for accounts that sign in with
// smtpwatch's own sign-in, not a token helper's or a password's.
func TestTraySignsIn(t *testing.T) {
	b := newLoginBed(t, "")
	can := traySignsIn(b.cfg)
	for name, want := range map[string]bool{"work": true, "helper": false, "pw": false, "nosuch": false} {
		if got := can(name); got != want {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
}

// The dashboard's "Sign in with OAuth2": the provider's page comes back
// without a browser being opened, the sign-in finishes in the background
// when the person consents there, and done hears of it; a second start
// ends the first's listener; an account that does not sign in with OAuth2
// is refused at once.
func TestDashboardSignIn(t *testing.T) {
	b := newLoginBed(t, "")
	a := b.app(func(string) error { t.Error("the dashboard's sign-in opened a browser"); return nil })
	life, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan string, 4)
	s := &dashboardSignIns{a: a, life: life, log: func() *slog.Logger { return a.logger }, done: func(n string) { done <- n }}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	first, err := s.start(ctx, b.cfg, "work")
	if err != nil || !strings.HasPrefix(first, b.idp.AuthURL) {
		t.Fatalf("start: %q, %v", first, err)
	}
	second, err := s.start(ctx, b.cfg, "work")
	if err != nil || second == first {
		t.Fatalf("second start: %q, %v", second, err)
	}
	// The first one's listener is gone: consenting there reaches nobody.
	if _, err := b.idp.Consent(ctx, first, loginUser); err == nil {
		t.Error("the first sign-in still listens after a second started")
	}
	if page, err := b.idp.Consent(ctx, second, loginUser); err != nil {
		t.Fatalf("consent: %v %s", err, page)
	}
	select {
	case n := <-done:
		if n != "work" {
			t.Errorf("done(%q)", n)
		}
	case <-ctx.Done():
		t.Fatal("the sign-in did not finish")
	}
	if g, err := b.grants.LoadGrant(ctx, "work"); err != nil || g.Username != loginUser {
		t.Fatalf("stored %+v, %v", g, err)
	}
	select {
	case n := <-done:
		t.Errorf("done twice (%q): the first sign-in finished too", n)
	default:
	}

	for _, name := range []string{"pw", "helper", "nosuch"} {
		if u, err := s.start(ctx, b.cfg, name); err == nil {
			t.Errorf("%s: started at %q", name, u)
		}
	}
}
