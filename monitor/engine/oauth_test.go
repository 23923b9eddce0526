package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/history"
	"smtpwatch/monitor/oauthtest"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

// These tests run the real engine, the real probe, a go-smtp server that
// validates the fake provider's JWTs, and the fake provider, on the real
// clock with intervals of a fraction of a second (the OAuth2 tokens are
// judged by the server's clock, which a fake one could not move).

const oauthUser = "alice@example.test"

// oauthRig is a provider, a server that trusts it, and the engine watching
// one OAuth2 account of that server.
type oauthRig struct {
	idp    *oauthtest.Provider
	srv    *smtptest.Server
	store  *oauthtest.Grants
	acct   config.Account
	e      *Engine
	hist   Recorder       // nil keeps no history
	fp     *Fingerprinter // nil: cheapFingerprints
	stop   func()
	mu     sync.Mutex
	events []health.Event
}

func newOAuthRig(t *testing.T, o oauthtest.Options, withGrant bool) *oauthRig {
	t.Helper()
	ca := smtptest.NewCA(t, "OAuth Test CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	r := &oauthRig{idp: oauthtest.Start(t, o), store: oauthtest.NewGrants()}
	r.srv = smtptest.Start(t, smtptest.Options{Cert: &cert, Tokens: r.idp.Check, MaxLineLength: 12288})
	a := realAccount("work", r.srv, ca)
	a.Username, a.Auth = oauthUser, config.AuthOAuth2
	a.Credential = config.Credential{Source: config.CredentialOAuth, OAuth: config.OAuth{
		Provider: "custom", ClientID: "smtpwatch-test", AuthURL: r.idp.AuthURL, TokenURL: r.idp.TokenURL}}
	a.Interval, a.AuthInterval = 150*time.Millisecond, 500*time.Millisecond
	a.FailureThreshold, a.SuccessThreshold = 0, 1
	r.acct = a
	if withGrant {
		r.signIn()
	}
	return r
}

// signIn stores a new sign-in, as `smtpwatch login` would.
func (r *oauthRig) signIn() {
	r.store.SaveGrant("work", credential.Grant{RefreshToken: credential.NewSecret(r.idp.GrantRefresh(oauthUser)),
		ClientID: "smtpwatch-test", TokenURL: r.idp.TokenURL, Username: oauthUser})
}

func (r *oauthRig) start(t *testing.T, deps probe.Deps) {
	t.Helper()
	if deps.Alternatives == nil {
		deps.Alternatives = []probe.Alternative{}
	}
	cfg := cfgOf(r.acct)
	if deps.OnlineTargets != nil {
		cfg.OnlineTargets = deps.OnlineTargets
	}
	fp := r.fp
	if fp == nil {
		fp = cheapFingerprints()
	}
	e, err := New(Options{Config: cfg, Grants: r.store, Deps: deps, Fingerprints: fp, Store: r.hist,
		ConfirmDelays: []time.Duration{100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	r.e = e
	ctx, cancel := context.WithCancel(context.Background())
	evs := e.Subscribe(ctx)
	go func() {
		for ev := range evs {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
		}
	}()
	done := make(chan struct{})
	go func() { defer close(done); _ = e.Run(ctx) }()
	var once sync.Once
	r.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(r.stop)
}

// failings counts the events that announce failing, by cause.
func (r *oauthRig) failings() []probe.Cause {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []probe.Cause
	for _, e := range r.events {
		if e.To == health.Failing {
			out = append(out, e.Cause)
		}
	}
	return out
}

func (r *oauthRig) status() health.AccountStatus {
	if as := r.e.Status().Accounts; len(as) > 0 {
		return as[0]
	}
	return health.AccountStatus{}
}

// waitFor polls cond every 20 ms until it holds, or fails the test after
// bound.
func waitFor(t *testing.T, bound time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		ok, last := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (last: %s)", what, bound, last)
		}
		time.Sleep(20 * time.Millisecond) // polling the engine's status, bounded above
	}
}

func (r *oauthRig) waitState(t *testing.T, state health.State, cause probe.Cause) {
	t.Helper()
	waitFor(t, 10*time.Second, fmt.Sprintf("%s with %s", state, cause), func() (bool, string) {
		st := r.status()
		return st.State == state && st.Cause == cause, fmt.Sprintf("%s/%s", st.State, st.Cause)
	})
}

// holdsStill checks over a few auth intervals that nothing is sent: no
// AUTH reaches the server and no refresh the provider.
func (r *oauthRig) holdsStill(t *testing.T, what string) {
	t.Helper()
	auths, refreshes := r.srv.AuthAttempts.Load(), r.idp.Refreshes.Load()
	time.Sleep(4 * r.acct.AuthInterval) // the property is that nothing happens in this time
	if a, f := r.srv.AuthAttempts.Load(), r.idp.Refreshes.Load(); a != auths || f != refreshes {
		t.Errorf("%s: %d sign-ins and %d refreshes in 4 auth intervals, want none", what, a-auths, f-refreshes)
	}
}

// The life of an OAuth2 account in the daemon: not signed in yet, held
// with one alarm and nothing sent; a sign-in taken up without a restart;
// access tokens expiring between checks refreshed without an alarm, the
// rotated refresh tokens kept; the sign-in revoked: held again, one alarm,
// the refused refresh token not sent again.
func TestOAuthSignInLifecycle(t *testing.T) {
	r := newOAuthRig(t, oauthtest.Options{Lifetime: 2 * time.Second}, false)
	r.start(t, probe.Deps{})

	// Not signed in.
	r.waitState(t, health.Failing, probe.CauseOAuthSignInRequired)
	st := r.status()
	if !st.AuthLocked || st.Last == nil || !strings.Contains(strings.Join(st.Last.Advice, " "), "smtpwatch login work") {
		t.Errorf("status %+v: want the sign-in held and the advice to run smtpwatch login", st)
	}
	r.holdsStill(t, "not signed in")
	if got := r.failings(); len(got) != 1 {
		t.Errorf("failing events %v, want one", got)
	}

	// smtpwatch login stores a sign-in: taken up at the next check.
	r.signIn()
	r.waitState(t, health.OK, probe.CauseOK)

	// Tokens live 2 s; logins every 0.5 s: every few logins use a new one,
	// and the server (judging expiry by the real clock) accepts each.
	before := r.srv.AuthAttempts.Load()
	first := r.store.Get("work").RefreshToken
	waitFor(t, 15*time.Second, "logins over three token lifetimes", func() (bool, string) {
		n := r.srv.AuthAttempts.Load() - before
		return n >= 12 && r.idp.Issued.Load() >= 4, fmt.Sprintf("%d logins, %d tokens issued", n, r.idp.Issued.Load())
	})
	if got := r.failings(); len(got) != 1 {
		t.Fatalf("failing events %v: an expiring token alarmed", got)
	}
	if st := r.status(); st.State != health.OK {
		t.Fatalf("state %s/%s", st.State, st.Cause)
	}
	if r.store.Get("work").RefreshToken.Equal(first) {
		t.Error("the provider rotated the refresh token and the store still holds the first one")
	}

	// Revoked (the password changed): held, one more alarm, not retried.
	r.idp.Revoke()
	r.waitState(t, health.Failing, probe.CauseOAuthSignInRequired)
	if st := r.status(); !strings.Contains(st.Last.Message, "invalid_grant") {
		t.Errorf("message %q: want the provider's refusal named", st.Last.Message)
	}
	r.holdsStill(t, "after the refresh token was refused")
	if got := r.failings(); len(got) != 2 || got[1] != probe.CauseOAuthSignInRequired {
		t.Errorf("failing events %v, want a second one for the revoked sign-in", got)
	}

	// A new sign-in again: back to ok, no restart.
	r.signIn()
	r.waitState(t, health.OK, probe.CauseOK)
}

// A token the server refuses is not sent again, nor is a new one fetched
// for it, until a new sign-in: the same sign-in would give the same
// refusal (another account, a missing permission).
func TestOAuthTokenRejectedIsNotRetried(t *testing.T) {
	r := newOAuthRig(t, oauthtest.Options{}, true)
	// The server trusts another provider's key.
	other := oauthtest.Start(t, oauthtest.Options{})
	ca := smtptest.NewCA(t, "OAuth Test CA 2", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	r.srv = smtptest.Start(t, smtptest.Options{Cert: &cert, Tokens: other.Check, MaxLineLength: 12288})
	r.acct.Port, r.acct.RootCAs = r.srv.Port, ca.Pool
	r.start(t, probe.Deps{})
	r.waitState(t, health.Failing, probe.CauseOAuthTokenRejected)
	if n := r.srv.AuthAttempts.Load(); n != 1 {
		t.Errorf("%d sign-ins, want one", n)
	}
	r.holdsStill(t, "after the token was refused")
	if st := r.status(); !st.AuthLocked {
		t.Errorf("not locked: %+v", st)
	}
	// A new sign-in is tried at once (and refused again here).
	r.signIn()
	waitFor(t, 5*time.Second, "the new sign-in tried", func() (bool, string) {
		return r.srv.AuthAttempts.Load() == 2, fmt.Sprint(r.srv.AuthAttempts.Load())
	})
	if got := r.failings(); len(got) != 1 {
		t.Errorf("failing events %v, want one (the cause did not change)", got)
	}
}

// No fresh token because the provider is down is its own cause — not the
// server's, not the network's — and the access token still valid is used
// meanwhile.
func TestOAuthProviderUnreachable(t *testing.T) {
	t.Run("provider down, server up", func(t *testing.T) {
		r := newOAuthRig(t, oauthtest.Options{}, true)
		r.idp.SetFault(oauthtest.Fault500)
		r.start(t, probe.Deps{})
		r.waitState(t, health.Failing, probe.CauseOAuthProviderUnreachable)
		if r.srv.AuthAttempts.Load() != 0 || r.status().AuthLocked {
			t.Errorf("%d sign-ins, locked %v: nothing was refused", r.srv.AuthAttempts.Load(), r.status().AuthLocked)
		}
		// It comes back: the next check signs in.
		r.idp.SetFault(oauthtest.FaultNone)
		r.waitState(t, health.OK, probe.CauseOK)
	})
	t.Run("provider down, server down", func(t *testing.T) {
		r := newOAuthRig(t, oauthtest.Options{}, true)
		r.idp.Close()
		r.acct.Port = smtptest.Port(t, smtptest.ClosedPort(t))
		r.start(t, probe.Deps{})
		r.waitState(t, health.Failing, probe.CauseConnectionRefused)
		if r.idp.Refreshes.Load() != 0 {
			t.Error("a token was asked for although the server could not be reached")
		}
	})
	t.Run("this computer offline", func(t *testing.T) {
		r := newOAuthRig(t, oauthtest.Options{}, true)
		r.idp.Close()
		r.acct.Server = "mail.example.test"
		r.start(t, probe.Deps{
			Resolve: func(context.Context, string) ([]net.IPAddr, error) {
				return nil, &net.DNSError{Err: "network is unreachable", Name: "mail.example.test", IsTemporary: true}
			},
			OnlineTargets: []string{smtptest.ClosedPort(t)},
		})
		r.waitState(t, health.Offline, probe.CauseOffline)
	})
	t.Run("provider down, a token still valid", func(t *testing.T) {
		// Tokens live 4 min, less than the 5 min before expiry at which a
		// refresh is due: every login asks, and while the provider fails,
		// the token still valid is sent.
		r := newOAuthRig(t, oauthtest.Options{Lifetime: 4 * time.Minute}, true)
		r.start(t, probe.Deps{})
		r.waitState(t, health.OK, probe.CauseOK)
		r.idp.SetFault(oauthtest.Fault500)
		before, refreshes := r.srv.AuthAttempts.Load(), r.idp.Refreshes.Load()
		waitFor(t, 10*time.Second, "logins while the provider fails", func() (bool, string) {
			return r.srv.AuthAttempts.Load() >= before+3 && r.idp.Refreshes.Load() >= refreshes+3, ""
		})
		if got := r.failings(); len(got) != 0 {
			t.Errorf("failing events %v while a valid token was at hand", got)
		}
	})
}

// The engine's provider errors never hold a token.
func TestOAuthErrorsHoldNoToken(t *testing.T) {
	r := newOAuthRig(t, oauthtest.Options{}, true)
	r.idp.Revoke()
	r.start(t, probe.Deps{})
	r.waitState(t, health.Failing, probe.CauseOAuthSignInRequired)
	st := r.status()
	text := fmt.Sprintf("%+v %+v", st, *st.Last)
	for _, s := range r.idp.Secrets() {
		if strings.Contains(text, s) {
			t.Fatalf("a token shows in the status: %s", text)
		}
	}
}

// A refused sign-in stays held across a restart of the daemon: the
// refresh token the provider refused is not sent again (history keeps a
// fingerprint of it, never it); a new sign-in is tried.
func TestOAuthRestartKeepsTheHold(t *testing.T) {
	stateDir := t.TempDir()
	store, err := history.Open(context.Background(), filepath.Join(stateDir, "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	fp, err := LoadFingerprinter(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	fp.iter = 1000
	r := newOAuthRig(t, oauthtest.Options{}, true)
	r.hist, r.fp = store, fp
	r.idp.Revoke()
	r.start(t, probe.Deps{})
	r.waitState(t, health.Failing, probe.CauseOAuthSignInRequired)
	r.stop()
	refreshes := r.idp.Refreshes.Load()
	if refreshes != 1 {
		t.Fatalf("%d refreshes in the first run", refreshes)
	}

	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
	r.start(t, probe.Deps{})
	r.waitState(t, health.Failing, probe.CauseOAuthSignInRequired)
	r.holdsStill(t, "after a restart")
	if n := r.idp.Refreshes.Load(); n != refreshes || !r.status().AuthLocked {
		t.Fatalf("after a restart: %d refreshes (was %d), locked %v", n, refreshes, r.status().AuthLocked)
	}
	r.signIn()
	r.waitState(t, health.OK, probe.CauseOK)
	r.stop()

	for _, name := range []string{"history.db", "history.db-wal"} {
		db, err := os.ReadFile(filepath.Join(stateDir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range r.idp.Secrets() {
			if bytes.Contains(db, []byte(secret)) {
				t.Errorf("%s holds a token", name)
			}
		}
	}
}
