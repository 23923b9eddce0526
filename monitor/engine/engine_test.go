package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

// These tests run the engine on synctest's fake clock. The probe is the
// seam: a scripted world answers in place of the network (the probe itself
// is tested against real servers in monitor/probe; here the question is
// when the engine probes and what it concludes).

const pwEnv = "SMTPWATCH_ENGINE_TEST_PW"

func account(name string) config.Account {
	return config.Account{
		Name: name, Provider: name, Server: "mail.example.test", Port: 587, Security: probe.SecurityStartTLS,
		Enabled: true, Interval: time.Minute, AuthInterval: 15 * time.Minute, Timeout: 30 * time.Second,
		FailureThreshold: 2, SuccessThreshold: 2, Username: "me@example.test",
		Credential: config.Credential{Source: config.CredentialEnv, Env: pwEnv},
	}
}

func cfgOf(accts ...config.Account) *config.Config {
	return &config.Config{Retention: 720 * time.Hour, Reminder: 4 * time.Hour, MaxConcurrency: 4, OnlineTargets: []string{}, Accounts: accts}
}

type call struct {
	account  string
	at       time.Time
	auth     bool
	pw       string
	workedAt time.Time // the target's WorkedAt
	watching bool
}

// world answers probes: cause decides each result from the account, the
// time, whether it logs in and with what password.
type world struct {
	cause func(account string, at time.Time, auth bool, pw string) probe.Cause
	dur   time.Duration

	mu        sync.Mutex
	calls     []call
	active    map[string]int
	total     int
	maxPer    int
	maxActive int
}

func newWorld(cause func(string, time.Time, bool, string) probe.Cause) *world {
	return &world{cause: cause, dur: 200 * time.Millisecond, active: map[string]int{}}
}

func (w *world) probe(ctx context.Context, t probe.Target, _ probe.Deps) probe.Result {
	auth := !t.SkipAuth && t.Username != ""
	w.mu.Lock()
	w.calls = append(w.calls, call{t.Name, time.Now(), auth, t.Password.Reveal(), t.WorkedAt, t.Watching})
	w.active[t.Name]++
	w.total++
	w.maxPer = max(w.maxPer, w.active[t.Name])
	w.maxActive = max(w.maxActive, w.total)
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.active[t.Name]--
		w.total--
		w.mu.Unlock()
	}()
	select {
	case <-time.After(w.dur):
	case <-ctx.Done():
	}
	c := w.cause(t.Name, time.Now(), auth, t.Password.Reveal())
	connected := !connectionCause(c)
	r := probe.Result{Name: t.Name, Provider: t.Provider, Server: t.Server, Port: t.Port, Security: t.Security, Cause: c, Status: c.Status(),
		Message: "world says " + string(c), CheckedAt: time.Now(), Duration: w.dur,
		Phases: []probe.Phase{{Name: probe.PhaseConnect, OK: connected}}}
	if auth && connected {
		// Past the connection, a probe that logs in reaches AUTH.
		r.Phases = append(r.Phases, probe.Phase{Name: probe.PhaseAuth, OK: c == probe.CauseOK})
		r.AuthVerified = c == probe.CauseOK
	}
	return r
}

// connectionCause reports whether c ends a probe before the session
// (and so before AUTH).
func connectionCause(c probe.Cause) bool {
	switch c {
	case probe.CauseOffline, probe.CauseDNSFailure, probe.CauseConnectionRefused, probe.CauseConnectionTimeout,
		probe.CauseGreetingTimeout, probe.CauseServiceUnavailable:
		return true
	}
	return false
}

func (w *world) snapshot() []call {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]call(nil), w.calls...)
}

// harness runs an engine in the bubble and collects its events.
type harness struct {
	e      *Engine
	w      *world
	start  time.Time
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	events []health.Event
}

func run(t *testing.T, w *world, cfg *config.Config) *harness {
	t.Helper()
	e, err := New(Options{Config: cfg, Probe: w.probe, Seed: 42, Fingerprints: cheapFingerprints()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{e: e, w: w, start: time.Now(), cancel: cancel, done: make(chan struct{})}
	evs := e.Subscribe(ctx)
	go func() {
		for ev := range evs {
			h.mu.Lock()
			h.events = append(h.events, ev)
			h.mu.Unlock()
		}
	}()
	go func() {
		defer close(h.done)
		_ = e.Run(ctx)
	}()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.cancel()
	<-h.done
}

// transitions lists "+offset kind from>to cause" of the events so far.
func (h *harness) transitions() []health.Event {
	synctest.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]health.Event(nil), h.events...)
}

func ok(string, time.Time, bool, string) probe.Cause { return probe.CauseOK }

func TestOutageIsDetectedAndRecovers(t *testing.T) {
	t.Setenv(pwEnv, "pw")
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		down := func(_ string, at time.Time, _ bool, _ string) probe.Cause {
			if at.Sub(start) >= 10*time.Minute && at.Sub(start) < 20*time.Minute {
				return probe.CauseConnectionRefused
			}
			return probe.CauseOK
		}
		h := run(t, newWorld(down), cfgOf(account("a")))
		time.Sleep(30 * time.Minute)
		ev := h.transitions()
		if len(ev) != 3 || ev[0].To != health.OK || ev[1].To != health.Failing || ev[2].Kind != health.EventRecovery {
			t.Fatalf("events %+v, want ok, failing, recovery", ev)
		}
		if d := ev[1].At.Sub(start.Add(10 * time.Minute)); d < 0 || d > 90*time.Second {
			t.Errorf("failing %v after the outage began, want within 90 s", d)
		}
		if d := ev[2].At.Sub(start.Add(20 * time.Minute)); d < 0 || d > 90*time.Second {
			t.Errorf("recovered %v after the outage ended, want within 90 s", d)
		}
		if st := h.e.Status(); st.State != health.OK || st.Accounts[0].Last == nil {
			t.Errorf("status %+v", st)
		}
	})
}

func TestSingleFailuresNeverAlarm(t *testing.T) {
	t.Setenv(pwEnv, "pw")
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		n := 0
		// Every seventh probe fails, alone.
		flaky := func(string, time.Time, bool, string) probe.Cause {
			mu.Lock()
			defer mu.Unlock()
			n++
			if n%7 == 0 {
				return probe.CauseConnectionTimeout
			}
			return probe.CauseOK
		}
		h := run(t, newWorld(flaky), cfgOf(account("a")))
		time.Sleep(3 * time.Hour)
		if ev := h.transitions(); len(ev) != 1 || ev[0].To != health.OK {
			t.Fatalf("events %+v: single failures raised an alarm", ev)
		}
		// Each failure was confirmed within seconds, not an interval later.
		calls := h.w.snapshot()
		for i := 6; i+1 < len(calls); i += 7 {
			if gap := calls[i+1].at.Sub(calls[i].at); gap > 10*time.Second {
				t.Fatalf("re-check %v after a failure, want about 5 s", gap)
			}
		}
	})
}

func TestNoOverlapAndBoundedConcurrency(t *testing.T) {
	t.Setenv(pwEnv, "pw")
	synctest.Test(t, func(t *testing.T) {
		var accts []config.Account
		for i := range 20 {
			accts = append(accts, account(fmt.Sprintf("a%02d", i)))
		}
		cfg := cfgOf(accts...)
		cfg.MaxConcurrency = 3
		w := newWorld(ok)
		w.dur = 20 * time.Second // slow probes, to make overlaps likely if allowed
		h := run(t, w, cfg)
		// Users asking for checks while scheduled ones run.
		for range 5 {
			time.Sleep(37 * time.Second)
			go h.e.Check(context.Background(), "a03")
			go h.e.Check(context.Background(), "")
		}
		time.Sleep(20 * time.Minute)
		synctest.Wait()
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.maxPer != 1 {
			t.Errorf("an account was probed %d times at once", w.maxPer)
		}
		if w.maxActive > 3 {
			t.Errorf("%d probes at once, want at most max_concurrency 3", w.maxActive)
		}
	})
}

func TestJitterAndAuthCadence(t *testing.T) {
	t.Setenv(pwEnv, "pw")
	synctest.Test(t, func(t *testing.T) {
		h := run(t, newWorld(ok), cfgOf(account("a")))
		time.Sleep(2 * time.Hour)
		calls := h.w.snapshot()
		if len(calls) < 100 {
			t.Fatalf("%d probes in 2 h", len(calls))
		}
		var lastAuth time.Time
		for i, c := range calls {
			if i > 0 {
				gap := c.at.Sub(calls[i-1].at) - h.w.dur
				if gap < 54*time.Second || gap > 66*time.Second {
					t.Errorf("probe %d came %v after the previous one, want 60 s ± 10 %%", i, gap)
				}
			}
			switch {
			case i == 0 && !c.auth:
				t.Error("the first probe did not log in")
			case c.auth && i > 0:
				if since := c.at.Sub(lastAuth); since < 15*time.Minute || since > 17*time.Minute {
					t.Errorf("login %v after the previous one, want every 15 min", since)
				}
			case !c.auth && c.at.Sub(lastAuth) > 17*time.Minute:
				t.Errorf("no login for %v", c.at.Sub(lastAuth))
			}
			if c.auth {
				lastAuth = c.at
			}
		}
	})
}

func TestRejectedPasswordIsNotRetried(t *testing.T) {
	t.Setenv(pwEnv, "old-pw")
	synctest.Test(t, func(t *testing.T) {
		world := newWorld(func(_ string, _ time.Time, auth bool, pw string) probe.Cause {
			if auth && pw != "new-pw" {
				return probe.CauseAuthRejected
			}
			return probe.CauseOK
		})
		h := run(t, world, cfgOf(account("a")))
		time.Sleep(2 * time.Hour)
		logins := func() (n int) {
			for _, c := range world.snapshot() {
				if c.auth {
					n++
				}
			}
			return n
		}
		if n := logins(); n != 1 {
			t.Fatalf("%d logins in 2 h after a rejection, want exactly 1", n)
		}
		if n := len(world.snapshot()); n < 100 {
			t.Errorf("only %d probes: connectivity checks must go on", n)
		}
		st := h.e.Status().Accounts[0]
		if st.State != health.Failing || st.Cause != probe.CauseAuthRejected || !st.AuthLocked {
			t.Fatalf("status %+v, want failing with the rejection, locked", st)
		}

		// The user asks: one more login, still rejected, still locked.
		if _, err := h.e.Check(context.Background(), "a"); err != nil {
			t.Fatal(err)
		}
		if n := logins(); n != 2 {
			t.Fatalf("%d logins after a check the user asked for, want 2", n)
		}

		// The password changes: the next check logs in with it and recovers.
		t.Setenv(pwEnv, "new-pw")
		time.Sleep(70 * time.Second)
		if n := logins(); n != 3 {
			t.Fatalf("%d logins after the password changed, want 3", n)
		}
		ev := h.transitions()
		if last := ev[len(ev)-1]; last.Kind != health.EventRecovery {
			t.Errorf("last event %+v, want a recovery", last)
		}
	})
}

func TestPauseWakeReload(t *testing.T) {
	t.Setenv(pwEnv, "pw")
	synctest.Test(t, func(t *testing.T) {
		h := run(t, newWorld(ok), cfgOf(account("a"), account("b")))
		time.Sleep(5 * time.Minute)

		if err := h.e.Pause("a", time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		before := len(h.w.snapshot())
		time.Sleep(30 * time.Minute)
		st := h.e.Status()
		if st.Accounts[0].State != health.Paused || st.State != health.OK {
			t.Fatalf("status %+v: a paused, combined ok", st)
		}
		for _, c := range h.w.snapshot()[before:] {
			if c.account == "a" {
				t.Fatalf("paused account probed at %v", c.at)
			}
		}
		if err := h.e.Resume("a"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(time.Second)
		calls := h.w.snapshot()
		if last := calls[len(calls)-1]; last.account != "a" || !last.auth {
			t.Fatalf("after resume, last probe %+v: want a at once, logging in", last)
		}

		// Wake from sleep: everyone checked at once, logging in.
		n := len(h.w.snapshot())
		h.e.Wake()
		time.Sleep(time.Second)
		woke := h.w.snapshot()[n:]
		if len(woke) != 2 || !woke[0].auth || !woke[1].auth {
			t.Fatalf("after wake: %+v, want both accounts checked with a login", woke)
		}

		// Reload: b goes, c comes; a's interval changes and it is checked at once.
		a := account("a")
		a.Interval = 2 * time.Minute
		n = len(h.w.snapshot())
		h.e.Reload(cfgOf(a, account("c")))
		time.Sleep(time.Second)
		var names []string
		for _, s := range h.e.Status().Accounts {
			names = append(names, s.Name)
		}
		if fmt.Sprint(names) != "[a c]" {
			t.Fatalf("accounts after reload %v", names)
		}
		got := map[string]bool{}
		for _, c := range h.w.snapshot()[n:] {
			got[c.account] = true
		}
		if !got["a"] || !got["c"] || got["b"] {
			t.Errorf("probed after reload: %v", got)
		}

		if _, err := h.e.Check(context.Background(), "nosuch"); !errors.Is(err, ErrUnknownAccount) {
			t.Errorf("Check(nosuch) = %v", err)
		}
	})
}

// A reload while probes run swaps the concurrency bound without stranding
// them: every account keeps being probed afterwards.
func TestReloadDuringProbes(t *testing.T) {
	t.Setenv(pwEnv, "pw")
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(ok)
		w.dur = 10 * time.Second
		cfg := cfgOf(account("a"), account("b"), account("c"))
		h := run(t, w, cfg)
		time.Sleep(time.Second + 500*time.Millisecond) // all three mid-probe
		c2 := cfgOf(account("a"), account("b"), account("c"))
		c2.MaxConcurrency = 1
		h.e.Reload(c2)
		n := len(w.snapshot())
		time.Sleep(10 * time.Minute)
		got := map[string]int{}
		for _, c := range w.snapshot()[n:] {
			got[c.account]++
		}
		for _, name := range []string{"a", "b", "c"} {
			if got[name] < 5 {
				t.Errorf("%s probed %d times in 10 min after a reload: stranded", name, got[name])
			}
		}
	})
}

// The first checks are spread: ten accounts all start within half a second,
// a thousand over the interval rather than at once.
func TestFirstChecksAreSpread(t *testing.T) {
	t.Setenv(pwEnv, "pw")
	for _, n := range []int{10, 1000} {
		synctest.Test(t, func(t *testing.T) {
			var accts []config.Account
			for i := range n {
				a := account(fmt.Sprintf("a%04d", i))
				a.Interval = 30 * time.Second
				accts = append(accts, a)
			}
			cfg := cfgOf(accts...)
			w := newWorld(ok)
			w.dur = 10 * time.Millisecond
			start := time.Now()
			h := run(t, w, cfg)
			time.Sleep(31 * time.Second)
			calls := h.w.snapshot()
			first := map[string]time.Duration{}
			for _, c := range calls {
				if _, seen := first[c.account]; !seen {
					first[c.account] = c.at.Sub(start)
				}
			}
			if len(first) != n {
				t.Fatalf("%d of %d accounts checked in the first interval", len(first), n)
			}
			var last time.Duration
			for _, d := range first {
				last = max(last, d)
			}
			want := min(time.Duration(n-1)*50*time.Millisecond, 30*time.Second)
			if last > want+time.Second || (n == 1000 && last < 20*time.Second) {
				t.Errorf("%d accounts: last first check at %v, want about %v", n, last, want)
			}
		})
	}
}

// A reload that changes only the global reminder applies it to accounts
// whose own settings did not change.
func TestReloadReminder(t *testing.T) {
	t.Setenv(pwEnv, "pw")
	synctest.Test(t, func(t *testing.T) {
		down := func(string, time.Time, bool, string) probe.Cause { return probe.CauseConnectionRefused }
		h := run(t, newWorld(down), cfgOf(account("a")))
		time.Sleep(time.Minute) // failing by now
		c2 := cfgOf(account("a"))
		c2.Reminder = 10 * time.Minute
		h.e.Reload(c2)
		time.Sleep(35 * time.Minute)
		reminders := 0
		for _, ev := range h.transitions() {
			if ev.Kind == health.EventReminder {
				reminders++
			}
		}
		if reminders < 3 {
			t.Errorf("%d reminders in 35 min with reminder = 10m, want 3", reminders)
		}
	})
}

// A password that cannot be read is said as such: connection and TLS are
// checked without a login, and the account is degraded with the reason,
// not failing as if the server were at fault.
func TestUnreadablePassword(t *testing.T) {
	t.Setenv(pwEnv, "")
	synctest.Test(t, func(t *testing.T) {
		h := run(t, newWorld(ok), cfgOf(account("a")))
		time.Sleep(10 * time.Second)
		for _, c := range h.w.snapshot() {
			if c.auth {
				t.Fatal("logged in without a password")
			}
		}
		st := h.e.Status().Accounts[0]
		if st.State != health.Degraded || st.Cause != probe.CauseNoCredentials || st.Last == nil ||
			!strings.Contains(st.Last.Message, "could not be read") || !strings.Contains(st.Last.Message, pwEnv) {
			t.Fatalf("status %+v: want degraded, no_credentials, naming the variable", st)
		}
	})
}

// cheapFingerprints is a Fingerprinter with a per-test key and few rounds:
// the cost is for attackers, not for tests.
func cheapFingerprints() *Fingerprinter {
	f := processFingerprinter()
	f.iter = 1000
	return f
}
