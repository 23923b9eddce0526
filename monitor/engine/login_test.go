package engine

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/emersion/go-smtp"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

// confirmations are the calls that came within 30 s of the previous one:
// the engine's quick re-checks (the regular interval is a minute).
func confirmations(calls []call) []call {
	var out []call
	for i := 1; i < len(calls); i++ {
		if calls[i].at.Sub(calls[i-1].at) < 30*time.Second {
			out = append(out, calls[i])
		}
	}
	return out
}

// A connection failure on the check that was to log in is confirmed by
// checks that do not log in: a connection problem never costs a login a
// few seconds apart.
func TestConfirmationsOfAConnectionFailureDoNotLogIn(t *testing.T) {
	t.Setenv(pwEnv, "pw")
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		down := func(_ string, at time.Time, _ bool, _ string) probe.Cause {
			if d := at.Sub(start); d >= 15*time.Minute && d < 18*time.Minute {
				return probe.CauseConnectionRefused
			}
			return probe.CauseOK
		}
		h := run(t, newWorld(down), cfgOf(account("a")))
		time.Sleep(25 * time.Minute)
		calls := h.w.snapshot()
		for _, c := range calls {
			if c.at.Sub(start) >= 15*time.Minute {
				if !c.auth {
					t.Fatalf("the first check of the outage, at +%v, was not the one due to log in: the test misses its point", c.at.Sub(start))
				}
				break
			}
		}
		conf := confirmations(calls)
		if len(conf) < 3 {
			t.Fatalf("%d confirmation re-checks; the outage was not confirmed", len(conf))
		}
		for _, c := range conf {
			if c.auth {
				t.Errorf("a confirmation re-check at +%v logged in", c.at.Sub(start))
			}
		}
		loginsInOutage := 0
		for _, c := range calls {
			if d := c.at.Sub(start); c.auth && d >= 15*time.Minute && d < 18*time.Minute {
				loginsInOutage++
			}
		}
		// The check that was due to log in, and the regular checks of the
		// failing account after it (they are not confirmations).
		if loginsInOutage == 0 || loginsInOutage > 3 {
			t.Errorf("%d checks meant to log in during the 3 min outage", loginsInOutage)
		}
		ev := h.transitions()
		if len(ev) != 3 || ev[1].To != health.Failing || ev[2].Kind != health.EventRecovery {
			t.Fatalf("events %+v, want ok, failing, recovery", ev)
		}
	})
}

// A failed login is confirmed by logging in again: the failure being
// confirmed is the login itself.
func TestConfirmationsOfAFailedLoginLogIn(t *testing.T) {
	t.Setenv(pwEnv, "pw")
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		broken := func(_ string, at time.Time, auth bool, _ string) probe.Cause {
			if d := at.Sub(start); auth && d >= 14*time.Minute && d < 18*time.Minute {
				return probe.CauseProtocolError // at AUTH: see world.probe
			}
			return probe.CauseOK
		}
		h := run(t, newWorld(broken), cfgOf(account("a")))
		time.Sleep(25 * time.Minute)
		var inOutage []call
		for _, c := range confirmations(h.w.snapshot()) {
			if d := c.at.Sub(start); d >= 14*time.Minute && d < 18*time.Minute {
				inOutage = append(inOutage, c)
			}
		}
		if len(inOutage) < 2 {
			t.Fatalf("%d confirmation re-checks of the failed login", len(inOutage))
		}
		for _, c := range inOutage {
			if !c.auth {
				t.Errorf("the confirmation at +%v of a failed login did not log in", c.at.Sub(start))
			}
		}
		ev := h.transitions()
		if len(ev) < 2 || ev[1].To != health.Failing || ev[1].Cause != probe.CauseProtocolError {
			t.Fatalf("events %+v, want the failed login confirmed as failing", ev)
		}
	})
}

// WorkedAt is the last check with these settings whose login the server
// accepted; a changed server forgets it, a changed interval does not.
// Every probe of the daemon is Watching.
func TestWorkedAt(t *testing.T) {
	t.Setenv(pwEnv, "pw")
	synctest.Test(t, func(t *testing.T) {
		h := run(t, newWorld(ok), cfgOf(account("a")))
		time.Sleep(20 * time.Minute)
		calls := h.w.snapshot()
		if !calls[0].workedAt.IsZero() || !calls[0].auth {
			t.Fatalf("first check: %+v, want a login with nothing known to have worked", calls[0])
		}
		firstDone := calls[0].at.Add(h.w.dur) // CheckedAt is when the world answered
		var secondLogin time.Time
		for i, c := range calls[1:] {
			if !c.watching {
				t.Fatalf("probe %d is not Watching", i+1)
			}
			if secondLogin.IsZero() && !c.workedAt.Equal(firstDone) {
				t.Fatalf("probe %d at +%v: WorkedAt %v, want the first login's %v", i+1, c.at.Sub(calls[0].at), c.workedAt, firstDone)
			}
			if c.auth && secondLogin.IsZero() {
				secondLogin = c.at.Add(h.w.dur)
			} else if !secondLogin.IsZero() && !c.workedAt.Equal(secondLogin) {
				t.Fatalf("probe %d after the second login: WorkedAt %v, want %v", i+1, c.workedAt, secondLogin)
			}
		}
		if secondLogin.IsZero() {
			t.Fatal("no second login in 20 min")
		}

		// Only the interval changes: still known.
		a := account("a")
		a.Interval = 2 * time.Minute
		n := len(h.w.snapshot())
		h.e.Reload(cfgOf(a))
		time.Sleep(time.Second)
		if c := h.w.snapshot()[n]; !c.workedAt.Equal(secondLogin) {
			t.Errorf("after a changed interval: WorkedAt %v, want %v", c.workedAt, secondLogin)
		}
		// Another server: nothing is known to have worked with it.
		a.Server = "mail2.example.test"
		n = len(h.w.snapshot())
		h.e.Reload(cfgOf(a))
		time.Sleep(time.Second)
		if c := h.w.snapshot()[n]; !c.workedAt.IsZero() {
			t.Errorf("after a changed server: WorkedAt %v, want zero", c.workedAt)
		}
	})
}

// shiftedClock is the probe's clock in a synctest bubble: the bubble's
// fake time moved to the real date, so that certificates made for today
// are judged valid.
type shiftedClock time.Duration

func (s shiftedClock) Now() time.Time { return time.Now().Add(time.Duration(s)) }

// realAccount is account(name) pointed at a real test server over
// STARTTLS, trusting ca.
func realAccount(name string, srv *smtptest.Server, ca *smtptest.CA) config.Account {
	a := account(name)
	a.Server, a.Port, a.RootCAs = "127.0.0.1", srv.Port, ca.Pool
	a.Timeout = 10 * time.Second
	return a
}

// Temporary refusals of the login back off: against a real server that
// answers every AUTH with a temporary refusal, the engine logs in at
// start, then 15 min, 30 min, 1 h, 2 h and 4 h apart, never more often,
// and the server counts exactly those attempts. Checks that do not log in
// go on every minute and cannot make the account ok.
func TestTemporaryRefusalsBackOff(t *testing.T) {
	ca := smtptest.NewCA(t, "Backoff Test CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	for _, c := range []struct {
		name  string
		reply *smtp.SMTPError
		cause probe.Cause
	}{
		{"454", &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure"}, probe.CauseAuthTemporaryFailure},
		{"421 4.7.0", &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Try again later, closing connection"}, probe.CauseAuthTemporaryFailure},
		{"rate limit", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Too many login attempts, rate limit exceeded"}, probe.CauseRateLimited},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{"me@example.test": "pw"}, AuthError: c.reply})
			t.Setenv(pwEnv, "pw")
			realStart := time.Now()
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				var logins []time.Duration
				probes := 0
				count := func(ctx context.Context, tg probe.Target, d probe.Deps) probe.Result {
					before := srv.AuthAttempts.Load()
					r := probe.Probe(ctx, tg, d)
					probes++
					if srv.AuthAttempts.Load() != before {
						logins = append(logins, time.Since(start))
					}
					return r
				}
				e, err := New(Options{Config: cfgOf(realAccount("a", srv, ca)), Probe: count, Seed: 7,
					Deps: probe.Deps{Clock: shiftedClock(realStart.Sub(start))}})
				if err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { defer close(done); _ = e.Run(ctx) }()
				defer func() { cancel(); <-done }()

				time.Sleep(5 * time.Minute)
				st := e.Status().Accounts[0]
				if st.State != health.Failing || st.Cause != c.cause || st.AuthRetryAt.IsZero() || st.Last == nil || st.Last.Cause != c.cause {
					t.Fatalf("5 min in: %+v; want failing with %s, a retry time, and the refusal as the last result", st, c.cause)
				}
				if got := st.AuthRetryAt.Sub(start); got < 15*time.Minute || got > 15*time.Minute+5*time.Second {
					t.Errorf("retry at +%v, want +15 min", got)
				}
				time.Sleep(12*time.Hour - 5*time.Minute)
				synctest.Wait()

				if n := srv.AuthAttempts.Load(); int(n) != len(logins) {
					t.Errorf("the server counted %d AUTH attempts, the engine logged in %d times", n, len(logins))
				}
				// Logins at 0, then each after the back-off, at the first
				// check (a minute apart, ±10 %) once it is over.
				want := []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 4 * time.Hour}
				if len(logins) != len(want)+1 {
					t.Fatalf("%d logins in 12 h at %v...; want %d", len(logins), logins[:min(len(logins), 12)], len(want)+1)
				}
				for i, w := range want {
					gap := logins[i+1] - logins[i]
					if gap < w || gap > w+70*time.Second {
						t.Errorf("login %d came %v after the one before, want %v (+ at most a check interval)", i+2, gap, w)
					}
				}
				t.Logf("against a server refusing every login with %s: %d AUTH attempts in 12 h (%d checks), at %v",
					c.name, len(logins), probes, logins)
				if probes < 600 {
					t.Errorf("only %d checks in 12 h: connection checks must go on", probes)
				}
				if st := e.Status().Accounts[0]; st.State != health.Failing || st.Cause != c.cause {
					t.Errorf("after 12 h: %s/%s, want still failing with %s", st.State, st.Cause, c.cause)
				}
			})
		})
	}
}

// The back-off ends with a login that gets another answer: the account is
// ok at once, and the next refusal waits auth_interval again.
func TestBackoffResetsOnAnotherAnswer(t *testing.T) {
	t.Setenv(pwEnv, "pw")
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		throttled := func(at time.Time) bool {
			d := at.Sub(start)
			return d < 40*time.Minute || (d >= 2*time.Hour && d < 3*time.Hour)
		}
		w := newWorld(func(_ string, at time.Time, auth bool, _ string) probe.Cause {
			if auth && throttled(at) {
				return probe.CauseRateLimited
			}
			return probe.CauseOK
		})
		h := run(t, w, cfgOf(account("a")))
		time.Sleep(4 * time.Hour)
		var logins []time.Duration
		for _, c := range w.snapshot() {
			if c.auth {
				logins = append(logins, c.at.Sub(start))
			}
		}
		// Refused at 0 and 15 min; accepted after the 30 min back-off
		// (ok at once); then the regular 15 min cadence; refused from 2 h:
		// 15, 30, 60 min apart again; accepted after 3 h.
		want := []time.Duration{15, 30, 15, 15, 15, 15, 15, 15, 30, 60}
		if len(logins) != len(want)+1 {
			t.Fatalf("%d logins at %v...; want %d", len(logins), logins[:min(len(logins), 16)], len(want)+1)
		}
		for i, w := range want {
			w *= time.Minute
			if gap := logins[i+1] - logins[i]; gap < w || gap > w+70*time.Second {
				t.Errorf("login %d came %v after the one before (at %v), want %v", i+2, gap, logins[i+1], w)
			}
		}
		var recovered []time.Duration
		for _, ev := range h.transitions() {
			if ev.Kind == health.EventRecovery {
				recovered = append(recovered, ev.At.Sub(start))
			}
		}
		if len(recovered) != 2 || (recovered[0]-logins[2]).Abs() > time.Minute || (recovered[1]-logins[10]).Abs() > time.Minute {
			t.Errorf("recoveries at %v, want at the two accepted logins (%v, %v)", recovered, logins[2], logins[10])
		}
	})
}

// Right after a failed check the status says so: at start, failing checks
// are "starting" with the failure pending, not "not checked yet"; an ok
// account being re-checked carries the failure as pending.
func TestPendingWhileConfirming(t *testing.T) {
	t.Setenv(pwEnv, "pw")
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		w := newWorld(func(_ string, at time.Time, _ bool, _ string) probe.Cause {
			if d := at.Sub(start); d < 10*time.Second || (d >= 10*time.Minute && d < 11*time.Minute) {
				return probe.CauseConnectionRefused
			}
			return probe.CauseOK
		})
		h := run(t, w, cfgOf(account("a")))
		time.Sleep(time.Second)
		st := h.e.Status().Accounts[0]
		if st.State != health.Starting || st.Pending != probe.CauseConnectionRefused || st.Last == nil {
			t.Fatalf("1 s after start: %+v; want starting, the refusal pending and shown", st)
		}
		time.Sleep(10 * time.Minute)
		for st = h.e.Status().Accounts[0]; st.Pending == ""; st = h.e.Status().Accounts[0] {
			if time.Since(start) > 12*time.Minute {
				t.Fatal("no failed check of the ok account was ever pending")
			}
			time.Sleep(time.Second)
		}
		if st.State != health.OK || st.Pending != probe.CauseConnectionRefused || st.Last.Cause != probe.CauseConnectionRefused {
			t.Fatalf("re-checking an ok account: %+v", st)
		}
	})
}
