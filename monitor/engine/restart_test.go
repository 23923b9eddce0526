package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emersion/go-smtp"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/history"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

// These tests run the engine with the real probe against real in-process
// SMTP servers (monitor/smtptest), counting the AUTH exchanges the server
// saw; most run on synctest's fake clock, the probe's certificate clock
// moved to today's date.

// bubble runs engines in the current synctest bubble against real servers.
type bubble struct {
	t     *testing.T
	clock shiftedClock
	store Recorder
	fp    *Fingerprinter
}

func newBubble(t *testing.T, realStart time.Time) *bubble {
	return &bubble{t: t, clock: shiftedClock(realStart.Sub(time.Now()))}
}

// start runs an engine on cfg until the returned stop is called.
func (b *bubble) start(cfg *config.Config) (*Engine, func()) {
	b.t.Helper()
	// The probe judges certificates by today's date; the engine lives on
	// the bubble's clock, and so do the times it records.
	unshift := func(ctx context.Context, t probe.Target, d probe.Deps) probe.Result {
		r := probe.Probe(ctx, t, d)
		r.CheckedAt = r.CheckedAt.Add(-time.Duration(b.clock))
		return r
	}
	e, err := New(Options{Config: cfg, Store: b.store, Fingerprints: b.fp, Seed: 3, Probe: unshift,
		Deps: probe.Deps{Clock: b.clock}})
	if err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	return e, func() { synctest.Wait(); cancel(); <-done }
}

// configText is a config file with one account "a" on the server,
// trusting caFile, its password from pwEnv; above is put before the
// account (a comment moves it down).
func configText(above string, srv *smtptest.Server, caFile string) string {
	return fmt.Sprintf(`[online]
targets = []
%s
[[account]]
name = "a"
server = "127.0.0.1"
port = %d
security = "starttls"
username = "me@example.test"
password_env = %q
ca_file = %q
interval = "1m"
timeout = "10s"
`, above, srv.Port, pwEnv, caFile)
}

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "config.toml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A reload where only a line moved (a comment added above the account)
// leaves a rejected password locked out: no AUTH. A password whose value
// changed gets exactly one try.
func TestReloadThatMovesALineSendsNoLogin(t *testing.T) {
	ca := smtptest.NewCA(t, "Reload Test CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{"me@example.test": "right"}})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg1 := parse(t, configText("", srv, caFile))
	cfg2 := parse(t, configText("# the work account, added on Monday\n# (a second line)", srv, caFile))
	if cfg1.Accounts[0].Line == cfg2.Accounts[0].Line {
		t.Fatal("the comment did not move the account")
	}
	t.Setenv(pwEnv, "wrong")
	realStart := time.Now()
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, realStart)
		e, stop := b.start(cfg1)
		defer stop()
		time.Sleep(5 * time.Minute)
		if n := srv.AuthAttempts.Load(); n != 1 {
			t.Fatalf("%d AUTH attempts before the reload, want 1", n)
		}
		if st := e.Status().Accounts[0]; st.State != health.Failing || !st.AuthLocked {
			t.Fatalf("status %+v, want failing and locked", st)
		}

		e.Reload(cfg2)
		time.Sleep(30 * time.Minute)
		if n := srv.AuthAttempts.Load(); n != 1 {
			t.Fatalf("%d AUTH attempts after a reload that only moved a line, want still 1", n)
		}

		// The value changes (the same variable): one try, then locked again.
		t.Setenv(pwEnv, "wrong-too")
		time.Sleep(2 * time.Minute)
		if n := srv.AuthAttempts.Load(); n != 2 {
			t.Fatalf("%d AUTH attempts after the password changed, want 2", n)
		}
		time.Sleep(time.Hour)
		if n := srv.AuthAttempts.Load(); n != 2 {
			t.Fatalf("%d AUTH attempts an hour after the new password was rejected too, want still 2", n)
		}
		t.Setenv(pwEnv, "right")
		time.Sleep(2 * time.Minute)
		if n, st := srv.AuthAttempts.Load(), e.Status().Accounts[0]; n != 3 || st.State != health.OK || st.AuthLocked {
			t.Fatalf("%d AUTH attempts, status %+v after the right password; want 3 and ok", n, st)
		}
	})
}

// A restart (a new engine on the same history and state directory) does
// not send a password the server rejected before; a changed password does
// get tried, and its rejection is remembered in turn.
func TestRestartKeepsARejectionLocked(t *testing.T) {
	ca := smtptest.NewCA(t, "Restart Test CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{"me@example.test": "right"}})
	stateDir := t.TempDir()
	cfg := cfgOf(realAccount("a", srv, ca))
	t.Setenv(pwEnv, "wrong")
	realStart := time.Now()
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t, realStart)
		store, err := history.Open(context.Background(), filepath.Join(stateDir, "history.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		b.store = store
		restart := func(d time.Duration) health.AccountStatus {
			t.Helper()
			fp, err := LoadFingerprinter(stateDir)
			if err != nil {
				t.Fatal(err)
			}
			fp.iter = 1000
			b.fp = fp
			e, stop := b.start(cfg)
			time.Sleep(d)
			st := e.Status().Accounts[0]
			stop()
			return st
		}

		st := restart(5 * time.Minute)
		rejectedAt := st.Last.CheckedAt
		if n := srv.AuthAttempts.Load(); n != 1 || !st.AuthLocked {
			t.Fatalf("first run: %d AUTH attempts, status %+v", n, st)
		}
		for i := range 2 {
			st = restart(30 * time.Minute)
			if n := srv.AuthAttempts.Load(); n != 1 {
				t.Fatalf("restart %d sent the rejected password again (%d AUTH attempts)", i+1, n)
			}
			if st.State != health.Failing || st.Cause != probe.CauseAuthRejected || !st.AuthLocked ||
				st.Last == nil || !st.Last.CheckedAt.Equal(rejectedAt) {
				t.Fatalf("restart %d: %+v; want failing, locked, explained by the rejection at %v", i+1, st, rejectedAt)
			}
		}

		t.Setenv(pwEnv, "wrong-too")
		st = restart(30 * time.Minute)
		if n := srv.AuthAttempts.Load(); n != 2 || !st.AuthLocked {
			t.Fatalf("with a changed password: %d AUTH attempts, %+v; want one try, locked again", n, st)
		}
		st = restart(30 * time.Minute)
		if n := srv.AuthAttempts.Load(); n != 2 || !st.AuthLocked {
			t.Fatalf("restart after the second rejection: %d AUTH attempts, %+v; want none", n, st)
		}

		t.Setenv(pwEnv, "right")
		st = restart(5 * time.Minute)
		if n := srv.AuthAttempts.Load(); n != 3 || st.State != health.OK || st.AuthLocked {
			t.Fatalf("with the right password: %d AUTH attempts, %+v; want ok", n, st)
		}
		st = restart(5 * time.Minute)
		if n := srv.AuthAttempts.Load(); n != 4 || st.State != health.OK {
			t.Fatalf("a restart after a good login: %d AUTH attempts, %+v; want a login at start, ok", n, st)
		}
	})
	// What the database keeps is a fingerprint, never the password, and
	// not the key that would let anyone test guesses against it.
	key, err := os.ReadFile(filepath.Join(stateDir, FingerprintKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(stateDir, FingerprintKeyFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("the fingerprint key is mode %v, want 0600", fi.Mode().Perm())
	}
	for _, name := range []string{"history.db", "history.db-wal"} {
		db, err := os.ReadFile(filepath.Join(stateDir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range [][]byte{[]byte("wrong-too"), key} {
			if bytes.Contains(db, secret) {
				t.Errorf("%s holds %q", name, secret)
			}
		}
	}
}

// A restart within a temporary refusal's back-off keeps it: the next
// login comes when the back-off ends, counted from the refusal, not at
// start.
func TestRestartKeepsABackoff(t *testing.T) {
	ca := smtptest.NewCA(t, "Backoff Restart CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{"me@example.test": "pw"},
		AuthError: &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure"}})
	stateDir := t.TempDir()
	cfg := cfgOf(realAccount("a", srv, ca))
	t.Setenv(pwEnv, "pw")
	realStart := time.Now()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		b := newBubble(t, realStart)
		store, err := history.Open(context.Background(), filepath.Join(stateDir, "history.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		b.store = store
		b.fp = cheapFingerprints()

		e, stop := b.start(cfg)
		time.Sleep(5 * time.Minute)
		stop()
		if n := srv.AuthAttempts.Load(); n != 1 {
			t.Fatalf("first run: %d AUTH attempts", n)
		}
		e, stop = b.start(cfg)
		time.Sleep(time.Minute)
		st := e.Status().Accounts[0]
		if n := srv.AuthAttempts.Load(); n != 1 || st.State != health.Failing || st.Cause != probe.CauseAuthTemporaryFailure ||
			st.AuthRetryAt.Sub(start) < 15*time.Minute || st.AuthRetryAt.Sub(start) > 15*time.Minute+5*time.Second {
			t.Fatalf("after the restart: %d AUTH attempts, %+v; want the back-off to +15 min held", n, st)
		}
		time.Sleep(8*time.Minute - 5*time.Second) // +14 min
		if n := srv.AuthAttempts.Load(); n != 1 {
			t.Fatalf("%d AUTH attempts before the back-off ended", n)
		}
		time.Sleep(3 * time.Minute) // +17 min
		if n := srv.AuthAttempts.Load(); n != 2 {
			t.Fatalf("%d AUTH attempts after the back-off ended, want 2", n)
		}
		st = e.Status().Accounts[0]
		stop()
		// Two refusals in a row: the next wait is 30 min, across a restart too.
		e, stop = b.start(cfg)
		defer stop()
		time.Sleep(time.Minute)
		if got := e.Status().Accounts[0].AuthRetryAt; !got.Equal(st.AuthRetryAt) || got.Sub(start) < 45*time.Minute {
			t.Errorf("after the second refusal and a restart: retry at +%v, want +%v (+45 min)", got.Sub(start), st.AuthRetryAt.Sub(start))
		}
	})
}

// switcher forwards each connection to the address it points at now: one
// server address whose certificate the test can change.
type switcher struct {
	ln     net.Listener
	target atomic.Pointer[string]
	wg     sync.WaitGroup
}

func newSwitcher(t *testing.T, to string) *switcher {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &switcher{ln: ln}
	s.to(to)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				up, err := net.DialTimeout("tcp", *s.target.Load(), 5*time.Second)
				if err != nil {
					return
				}
				defer up.Close()
				go func() { _, _ = io.Copy(up, c); up.Close() }()
				_, _ = io.Copy(c, up)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *switcher) to(addr string) { s.target.Store(&addr) }

func (s *switcher) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// A ca_file whose contents change is read again before a check the user
// asks for, and on a reload: the server's private CA was renewed.
func TestCAFileChanges(t *testing.T) {
	ca1 := smtptest.NewCA(t, "Old Private CA", "smtpwatch tests")
	ca2 := smtptest.NewCA(t, "New Private CA", "smtpwatch tests")
	cert1, cert2 := ca1.Issue(t, smtptest.Leaf{}), ca2.Issue(t, smtptest.Leaf{})
	users := map[string]string{"me@example.test": "pw"}
	srv1 := smtptest.Start(t, smtptest.Options{Cert: &cert1, Users: users})
	srv2 := smtptest.Start(t, smtptest.Options{Cert: &cert2, Users: users})
	sw := newSwitcher(t, srv1.Addr)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	writeCA := func(ca *smtptest.CA) {
		t.Helper()
		if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	load := func() *config.Config {
		t.Helper()
		cfg, err := config.Parse(filepath.Join(dir, "config.toml"), []byte(fmt.Sprintf(`[online]
targets = []
[[account]]
name = "lab"
server = "127.0.0.1"
port = %d
security = "starttls"
username = "me@example.test"
password_env = %q
ca_file = %q
interval = "1h"
`, sw.port(), pwEnv, caFile)))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	t.Setenv(pwEnv, "pw")
	writeCA(ca1)
	e, err := New(Options{Config: load(), Fingerprints: cheapFingerprints()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, cond func(health.AccountStatus) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if st := e.Status(); len(st.Accounts) == 1 && cond(st.Accounts[0]) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10 s (%+v)", what, e.Status())
			}
			time.Sleep(20 * time.Millisecond) // bounded polling of the engine's own goroutine
		}
	}
	waitFor("the first check", func(st health.AccountStatus) bool { return st.Last != nil })
	check := func(want probe.Cause) {
		t.Helper()
		rs, err := e.Check(context.Background(), "lab")
		if err != nil {
			t.Fatal(err)
		}
		if rs[0].Cause != want {
			t.Fatalf("check: %s (%s), want %s", rs[0].Cause, rs[0].Message, want)
		}
	}
	check(probe.CauseOK)

	// The server's certificate now comes from the new CA.
	sw.to(srv2.Addr)
	check(probe.CauseCertificateUntrusted)
	// The user puts the new CA in the file and asks for a check.
	writeCA(ca2)
	check(probe.CauseOK)

	// Back to the old CA, this time through a reload: the account is
	// checked at once with the file's new contents (no check asked for).
	sw.to(srv1.Addr)
	writeCA(ca1)
	reloaded := time.Now()
	e.Reload(load())
	waitFor("a check after a reload that changed the CA file", func(st health.AccountStatus) bool {
		return st.Last != nil && st.Last.CheckedAt.After(reloaded)
	})
	if st := e.Status().Accounts[0]; st.Last.Cause != probe.CauseOK {
		t.Fatalf("the check after the reload: %s (%s), want ok", st.Last.Cause, st.Last.Message)
	}
}
