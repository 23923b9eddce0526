package health

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/probe"
)

var t0 = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

func res(c probe.Cause) probe.Result {
	s := c.Status()
	if c == probe.CauseTLSIntercepted {
		s = probe.StatusDegraded
	}
	return probe.Result{Name: "charter", Provider: "Charter", Status: s, Cause: c, Message: "msg " + string(c), Advice: []string{"do " + string(c)}}
}

// step is one line of a scenario: at a time after t0, an input; then the
// state and cause expected, and the events announced ("" for none), as
// "kind:from>to:cause" joined by spaces.
type step struct {
	at     time.Duration
	in     Input
	state  State
	cause  probe.Cause
	events string
}

func result(c probe.Cause) Input     { return Input{Kind: InputResult, Result: res(c)} }
func authResult(c probe.Cause) Input { return Input{Kind: InputResult, Result: res(c), Auth: true} }

// login is a check that logged in and got as far as the AUTH phase, with
// c as its verdict.
func login(c probe.Cause) Input {
	r := res(c)
	r.Phases = []probe.Phase{{Name: probe.PhaseConnect, OK: true}, {Name: probe.PhaseAuth, OK: c == probe.CauseOK}}
	r.AuthVerified = c == probe.CauseOK
	return Input{Kind: InputResult, Result: r, Auth: true}
}

const (
	ok       = probe.CauseOK
	refused  = probe.CauseConnectionRefused
	offline  = probe.CauseOffline
	rejected = probe.CauseAuthRejected
	expiring = probe.CauseCertificateExpiring
	tempfail = probe.CauseAuthTemporaryFailure
	limited  = probe.CauseRateLimited
	timeout  = probe.CauseConnectionTimeout
	s        = time.Second
	m        = time.Minute
	h        = time.Hour
)

func TestScenarios(t *testing.T) {
	for _, sc := range []struct {
		name  string
		steps []step
	}{
		{"a single dropped probe never alarms", []step{
			{0, result(ok), OK, ok, "transition:starting>ok:ok"},
			{60 * s, result(refused), OK, ok, ""},
			{65 * s, result(ok), OK, ok, ""},
			{120 * s, result(ok), OK, ok, ""},
		}},
		{"two failures in a row are not yet an outage", []step{
			{0, result(ok), OK, ok, "transition:starting>ok:ok"},
			{60 * s, result(refused), OK, ok, ""},
			{65 * s, result(timeout), OK, ok, ""},
			{80 * s, result(ok), OK, ok, ""},
		}},
		{"a hard outage is failing once confirmed", []step{
			{0, result(ok), OK, ok, "transition:starting>ok:ok"},
			{60 * s, result(refused), OK, ok, ""},
			{65 * s, result(refused), OK, ok, ""},
			{80 * s, result(refused), Failing, refused, "transition:ok>failing:connection_refused"},
			{140 * s, result(refused), Failing, refused, ""},
		}},
		{"recovery needs the success threshold", []step{
			{0, result(refused), Starting, "", ""},
			{5 * s, result(refused), Starting, "", ""},
			{20 * s, result(refused), Failing, refused, "transition:starting>failing:connection_refused"},
			{80 * s, result(ok), Failing, refused, ""},
			{85 * s, result(refused), Failing, refused, ""},
			{145 * s, result(ok), Failing, refused, ""},
			{150 * s, result(ok), OK, ok, "recovery:failing>ok:ok"},
		}},
		{"a new reason while failing is announced", []step{
			{0, result(refused), Starting, "", ""},
			{5 * s, result(refused), Starting, "", ""},
			{20 * s, result(refused), Failing, refused, "transition:starting>failing:connection_refused"},
			{80 * s, result(timeout), Failing, timeout, "transition:failing>failing:connection_timeout"},
		}},
		{"a failure that persists after two short outages is failing, not intermittent", []step{
			// The sequence of the report: two short outages, then every
			// check fails with a new cause. It used to read "degraded:
			// intermittent" for ten minutes.
			{0, result(ok), OK, ok, "transition:starting>ok:ok"},
			{1 * m, result(refused), OK, ok, ""},
			{1*m + 5*s, result(refused), OK, ok, ""},
			{1*m + 20*s, result(refused), Failing, refused, "transition:ok>failing:connection_refused"},
			{2 * m, result(ok), Failing, refused, ""},
			{2*m + 5*s, result(ok), OK, ok, "recovery:failing>ok:ok"},
			{3 * m, result(refused), OK, ok, ""},
			{3*m + 5*s, result(refused), OK, ok, ""},
			{3*m + 20*s, result(refused), Failing, refused, "transition:ok>failing:connection_refused"},
			{4 * m, result(ok), Failing, refused, ""},
			{4*m + 5*s, result(ok), OK, ok, "recovery:failing>ok:ok"},
			{5 * m, result(timeout), OK, ok, ""},
			{5*m + 5*s, result(timeout), OK, ok, ""},
			{5*m + 20*s, result(timeout), Failing, timeout, "transition:ok>failing:connection_timeout"},
			{6 * m, result(timeout), Failing, timeout, ""},
			{10 * m, result(timeout), Failing, timeout, ""},
			{16 * m, result(timeout), Failing, timeout, ""},
		}},
		{"flapping softens the recovery from the third outage, not the outage", []step{
			{0, result(ok), OK, ok, "transition:starting>ok:ok"},
			{1 * m, result(refused), OK, ok, ""},
			{1*m + 5*s, result(refused), OK, ok, ""},
			{1*m + 20*s, result(refused), Failing, refused, "transition:ok>failing:connection_refused"},
			{2 * m, result(ok), Failing, refused, ""},
			{3 * m, result(ok), OK, ok, "recovery:failing>ok:ok"},
			{4 * m, result(refused), OK, ok, ""},
			{4*m + 5*s, result(refused), OK, ok, ""},
			{4*m + 20*s, result(refused), Failing, refused, "transition:ok>failing:connection_refused"},
			{5 * m, result(ok), Failing, refused, ""},
			{6 * m, result(ok), OK, ok, "recovery:failing>ok:ok"},
			{7 * m, result(refused), OK, ok, ""},
			{7*m + 5*s, result(refused), OK, ok, ""},
			{7*m + 20*s, result(refused), Failing, refused, "transition:ok>failing:connection_refused"},
			{8 * m, result(ok), Failing, refused, ""},
			{9 * m, result(ok), Degraded, CauseIntermittent, "recovery:failing>degraded:intermittent"},
			// A fourth outage is failing again, announced.
			{10 * m, result(refused), Degraded, CauseIntermittent, ""},
			{10*m + 5*s, result(refused), Degraded, CauseIntermittent, ""},
			{10*m + 20*s, result(refused), Failing, refused, "transition:degraded>failing:connection_refused"},
			{11 * m, result(ok), Failing, refused, ""},
			{12 * m, result(ok), Degraded, CauseIntermittent, "recovery:failing>degraded:intermittent"},
			// A single failure is still only a failure to confirm.
			{13 * m, result(refused), Degraded, CauseIntermittent, ""},
			{13*m + 5*s, result(ok), Degraded, CauseIntermittent, ""},
		}},
		{"intermittent clears after a quiet window", []step{
			{0, result(ok), OK, ok, "transition:starting>ok:ok"},
			{1 * m, result(refused), OK, ok, ""},
			{1*m + 5*s, result(refused), OK, ok, ""},
			{1*m + 20*s, result(refused), Failing, refused, "transition:ok>failing:connection_refused"},
			{2 * m, result(ok), Failing, refused, ""},
			{3 * m, result(ok), OK, ok, "recovery:failing>ok:ok"},
			{4 * m, result(refused), OK, ok, ""},
			{4*m + 5*s, result(refused), OK, ok, ""},
			{4*m + 20*s, result(refused), Failing, refused, "transition:ok>failing:connection_refused"},
			{5 * m, result(ok), Failing, refused, ""},
			{6 * m, result(ok), OK, ok, "recovery:failing>ok:ok"},
			{7 * m, result(refused), OK, ok, ""},
			{7*m + 5*s, result(refused), OK, ok, ""},
			{7*m + 20*s, result(refused), Failing, refused, "transition:ok>failing:connection_refused"},
			{8 * m, result(ok), Failing, refused, ""},
			{8*m + 5*s, result(ok), Degraded, CauseIntermittent, "recovery:failing>degraded:intermittent"},
			{30 * m, result(ok), Degraded, CauseIntermittent, ""},
			{7*m + 20*s + h, result(ok), OK, ok, "transition:degraded>ok:ok"},
		}},
		{"outages further apart than the window are not flapping", []step{
			{0, result(refused), Starting, "", ""},
			{5 * s, result(refused), Starting, "", ""},
			{20 * s, result(refused), Failing, refused, "transition:starting>failing:connection_refused"},
			{1 * m, result(ok), Failing, refused, ""},
			{1*m + 5*s, result(ok), OK, ok, "recovery:failing>ok:ok"},
			{40 * m, result(refused), OK, ok, ""},
			{40*m + 5*s, result(refused), OK, ok, ""},
			{40*m + 20*s, result(refused), Failing, refused, "transition:ok>failing:connection_refused"},
			{41 * m, result(ok), Failing, refused, ""},
			{41*m + 5*s, result(ok), OK, ok, "recovery:failing>ok:ok"},
			{80 * m, result(refused), OK, ok, ""},
			{80*m + 5*s, result(refused), OK, ok, ""},
			{80*m + 20*s, result(refused), Failing, refused, "transition:ok>failing:connection_refused"},
			{81 * m, result(ok), Failing, refused, ""},
			{81*m + 5*s, result(ok), OK, ok, "recovery:failing>ok:ok"},
		}},
		{"offline is never a server failure", []step{
			{0, result(ok), OK, ok, "transition:starting>ok:ok"},
			{60 * s, result(offline), OK, ok, ""},
			{65 * s, result(offline), OK, ok, ""},
			{80 * s, result(offline), Offline, offline, "transition:ok>offline:offline"},
			{90 * s, result(offline), Offline, offline, ""},
			{140 * s, result(ok), OK, ok, "recovery:offline>ok:ok"},
		}},
		{"a failure streak broken by offline does not alarm", []step{
			{0, result(ok), OK, ok, "transition:starting>ok:ok"},
			{60 * s, result(refused), OK, ok, ""},
			{65 * s, result(refused), OK, ok, ""},
			{80 * s, result(offline), OK, ok, ""},
			{85 * s, result(refused), OK, ok, ""},
			{90 * s, result(refused), OK, ok, ""},
		}},
		{"after a wake, failures in the grace period do not count", []step{
			{0, result(ok), OK, ok, "transition:starting>ok:ok"},
			{10 * m, Input{Kind: InputWake}, OK, ok, ""},
			{10*m + 1*s, result(offline), OK, ok, ""},
			{10*m + 6*s, result(refused), OK, ok, ""},
			{10*m + 21*s, result(refused), OK, ok, ""},
			{11 * m, result(ok), OK, ok, ""},
			{13 * m, result(refused), OK, ok, ""},
			{13*m + 5*s, result(refused), OK, ok, ""},
			{13*m + 20*s, result(refused), Failing, refused, "transition:ok>failing:connection_refused"},
		}},
		{"a rejected password fails at once and locks AUTH out", []step{
			{0, authResult(ok), OK, ok, "transition:starting>ok:ok"},
			{15 * m, authResult(rejected), Failing, rejected, "transition:ok>failing:auth_rejected"},
			{16 * m, result(ok), Failing, rejected, ""},
			{17 * m, result(refused), Failing, rejected, ""},
			{18 * m, result(offline), Failing, rejected, ""},
			{18*m + 5*s, result(offline), Failing, rejected, ""},
			{18*m + 20*s, result(offline), Offline, offline, "transition:failing>offline:offline"},
			{19 * m, result(ok), Failing, rejected, "transition:offline>failing:auth_rejected"},
			{20 * m, Input{Kind: InputCredentialChanged}, Failing, rejected, ""},
			{20*m + 1*s, result(ok), Failing, rejected, ""},
			{20*m + 2*s, authResult(ok), OK, ok, "recovery:failing>ok:ok"},
		}},
		{"a temporary login refusal fails at once and is held", []step{
			{0, login(ok), OK, ok, "transition:starting>ok:ok"},
			{15 * m, login(tempfail), Failing, tempfail, "transition:ok>failing:auth_temporary_failure"},
			// Checks that do not log in cannot turn it ok.
			{16 * m, result(ok), Failing, tempfail, ""},
			{17 * m, result(refused), Failing, tempfail, ""},
			{17*m + 5*s, result(ok), Failing, tempfail, ""},
			{30 * m, login(limited), Failing, limited, "transition:failing>failing:rate_limited"},
			{31 * m, result(ok), Failing, limited, ""},
			// A login that gets through ends it at once.
			{60 * m, login(ok), OK, ok, "recovery:failing>ok:ok"},
		}},
		{"a temporary refusal at start is failing, not starting", []step{
			{0, login(tempfail), Failing, tempfail, "transition:starting>failing:auth_temporary_failure"},
			{1 * m, result(ok), Failing, tempfail, ""},
		}},
		{"another answer to the login ends a temporary hold", []step{
			{0, login(tempfail), Failing, tempfail, "transition:starting>failing:auth_temporary_failure"},
			{15 * m, login(probe.CauseAuthUnsupported), Failing, probe.CauseAuthUnsupported, "transition:failing>failing:auth_unsupported"},
			{16 * m, result(ok), Failing, probe.CauseAuthUnsupported, ""},
			{16*m + 5*s, result(ok), OK, ok, "recovery:failing>ok:ok"},
		}},
		{"a temporary hold survives going offline", []step{
			{0, login(limited), Failing, limited, "transition:starting>failing:rate_limited"},
			{1 * m, result(offline), Failing, limited, ""},
			{1*m + 5*s, result(offline), Failing, limited, ""},
			{1*m + 20*s, result(offline), Offline, offline, "transition:failing>offline:offline"},
			{2 * m, result(ok), Failing, limited, "transition:offline>failing:rate_limited"},
		}},
		{"a check the user asks for may still be rejected", []step{
			{0, authResult(rejected), Failing, rejected, "transition:starting>failing:auth_rejected"},
			{5 * m, authResult(rejected), Failing, rejected, ""},
		}},
		{"reminders while failing", []step{
			{0, result(refused), Starting, "", ""},
			{1 * s, result(refused), Starting, "", ""},
			{5 * s, result(refused), Failing, refused, "transition:starting>failing:connection_refused"},
			{2 * h, result(refused), Failing, refused, ""},
			{4*h + 5*s, Input{Kind: InputTick}, Failing, refused, "reminder:failing>failing:connection_refused"},
			{5 * h, result(refused), Failing, refused, ""},
			{8*h + 10*s, result(refused), Failing, refused, "reminder:failing>failing:connection_refused"},
		}},
		{"warnings need the threshold, then clear", []step{
			{0, result(ok), OK, ok, "transition:starting>ok:ok"},
			{1 * m, result(expiring), OK, ok, ""},
			{2 * m, result(expiring), OK, ok, ""},
			{3 * m, result(expiring), Degraded, expiring, "transition:ok>degraded:certificate_expiring"},
			{4 * m, result(ok), Degraded, expiring, ""},
			{5 * m, result(ok), OK, ok, "transition:degraded>ok:ok"},
		}},
		{"a warning at start shows at once", []step{
			{0, result(expiring), Degraded, expiring, "transition:starting>degraded:certificate_expiring"},
		}},
		{"pause and resume", []step{
			{0, result(refused), Starting, "", ""},
			{1 * s, result(refused), Starting, "", ""},
			{5 * s, result(refused), Failing, refused, "transition:starting>failing:connection_refused"},
			{1 * m, Input{Kind: InputPause, Until: t0.Add(h)}, Paused, refused, "transition:failing>paused:connection_refused"},
			{2 * m, result(refused), Paused, refused, ""},
			{5 * h, Input{Kind: InputTick}, Failing, refused, "transition:paused>failing:connection_refused"},
			{5*h + 1*m, Input{Kind: InputPause}, Paused, refused, "transition:failing>paused:connection_refused"},
			{9 * h, Input{Kind: InputTick}, Paused, refused, ""},
			{9*h + 1*m, Input{Kind: InputResume}, Failing, refused, "transition:paused>failing:connection_refused"},
		}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			a := NewAccount("charter", "Charter", t0)
			p := DefaultPolicy()
			for i, st := range sc.steps {
				var ev []Event
				before := a
				a, ev = Next(a, st.in, t0.Add(st.at), p)
				again, ev2 := Next(before, st.in, t0.Add(st.at), p)
				if !reflect.DeepEqual(again.Status(), a.Status()) || !reflect.DeepEqual(ev2, ev) {
					t.Fatalf("step %d: Next is not pure", i)
				}
				if a.State != st.state || a.Cause != st.cause {
					t.Fatalf("step %d (+%v): state %s/%s, want %s/%s", i, st.at, a.State, a.Cause, st.state, st.cause)
				}
				var got []string
				for _, e := range ev {
					got = append(got, fmt.Sprintf("%s:%s>%s:%s", e.Kind, e.From, e.To, e.Cause))
					if e.Account != "charter" || e.Provider != "Charter" || !e.At.Equal(t0.Add(st.at)) || e.Message == "" {
						t.Errorf("step %d: event %+v lacks its account, provider, time or message", i, e)
					}
				}
				if strings.Join(got, " ") != st.events {
					t.Fatalf("step %d (+%v): events %q, want %q", i, st.at, strings.Join(got, " "), st.events)
				}
			}
		})
	}
}

// The scheduler's cues: Confirming counts the unconfirmed streak, and
// AuthLocked follows the rejection.
func TestCues(t *testing.T) {
	p := DefaultPolicy()
	a := NewAccount("x", "", t0)
	a, _ = Next(a, result(ok), t0, p)
	if a.Confirming() != 0 {
		t.Fatal("nothing to confirm yet")
	}
	a, _ = Next(a, result(refused), t0.Add(time.Minute), p)
	if a.Confirming() != 1 {
		t.Fatalf("confirming %d after one failure", a.Confirming())
	}
	a, _ = Next(a, result(refused), t0.Add(time.Minute+5*time.Second), p)
	if a.Confirming() != 2 {
		t.Fatalf("confirming %d after two failures", a.Confirming())
	}
	a, _ = Next(a, result(refused), t0.Add(time.Minute+20*time.Second), p)
	if a.State != Failing || a.Confirming() != 0 {
		t.Fatalf("state %s confirming %d: a confirmed failure needs no more confirming", a.State, a.Confirming())
	}
	a, _ = Next(a, result(ok), t0.Add(2*time.Minute), p)
	if a.State != Failing || a.Confirming() != 1 {
		t.Fatalf("state %s confirming %d: a first good check while failing is re-checked soon", a.State, a.Confirming())
	}
	b, _ := Next(NewAccount("y", "", t0), authResult(rejected), t0, p)
	if !b.AuthLocked() || b.Confirming() != 0 || b.State != Failing {
		t.Fatalf("after a rejection: locked %v confirming %d state %s", b.AuthLocked(), b.Confirming(), b.State)
	}
	if !b.Status().AuthLocked || b.Status().Last == nil || b.Status().Last.Cause != rejected {
		t.Errorf("status %+v does not explain the lockout", b.Status())
	}
	c, _ := Next(b, Input{Kind: InputCredentialChanged}, t0.Add(time.Minute), p)
	if c.AuthLocked() || c.State != Failing || c.Cause != rejected {
		t.Errorf("after a credential change: locked %v state %s/%s; want AUTH allowed, still failing until a login works", c.AuthLocked(), c.State, c.Cause)
	}
}

func TestCombine(t *testing.T) {
	st := func(ss ...State) []AccountStatus {
		var out []AccountStatus
		for _, s := range ss {
			out = append(out, AccountStatus{State: s})
		}
		return out
	}
	for _, c := range []struct {
		in   []AccountStatus
		want State
	}{
		{nil, Starting},
		{st(Starting, Starting), Starting},
		{st(Starting, OK), OK},
		{st(OK, Degraded), Degraded},
		{st(Degraded, Offline), Offline},
		{st(Offline, Failing, OK), Failing},
		{st(Paused, OK), OK},
		{st(Paused, Failing), Failing},
		{st(Paused, Paused), Paused},
	} {
		if got := Combine(c.in); got != c.want {
			t.Errorf("Combine(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestNextMorning(t *testing.T) {
	loc := time.FixedZone("here", 2*3600)
	for _, tt := range []struct{ now, want string }{
		{"2026-03-04 02:00", "2026-03-04 08:00"},
		{"2026-03-04 07:59", "2026-03-04 08:00"},
		{"2026-03-04 08:00", "2026-03-05 08:00"},
		{"2026-03-04 23:30", "2026-03-05 08:00"},
		{"2026-12-31 20:00", "2027-01-01 08:00"},
	} {
		now, _ := time.ParseInLocation("2006-01-02 15:04", tt.now, loc)
		if got := NextMorning(now).Format("2006-01-02 15:04"); got != tt.want {
			t.Errorf("at %s: %s, want %s", tt.now, got, tt.want)
		}
	}
}

// The back-off after temporary login refusals: auth_interval, doubling per
// refusal in a row, at most 4 h; any other answer to a login resets it.
func TestLoginBackoff(t *testing.T) {
	p := DefaultPolicy()
	a := NewAccount("x", "", t0)
	now := t0
	var waits []time.Duration
	for i := range 7 {
		a, _ = Next(a, login([]probe.Cause{tempfail, limited}[i%2]), now, p)
		retry := a.AuthRetryAt()
		if a.State != Failing || a.Held() == "" || a.AuthLocked() {
			t.Fatalf("refusal %d: state %s held %q locked %v", i+1, a.State, a.Held(), a.AuthLocked())
		}
		if st := a.Status(); !st.AuthRetryAt.Equal(retry) || st.Last == nil || st.Last.Cause != a.Held() {
			t.Fatalf("refusal %d: status %+v, want the retry time %v and the refusal as last", i+1, st, retry)
		}
		waits = append(waits, retry.Sub(now))
		// Checks that do not log in, meanwhile, change nothing.
		b, ev := Next(a, result(ok), now.Add(time.Minute), p)
		if b.State != Failing || len(ev) != 0 || !b.AuthRetryAt().Equal(retry) {
			t.Fatalf("refusal %d: a connectivity check moved the account to %s (%v)", i+1, b.State, ev)
		}
		now = retry
	}
	want := []time.Duration{15 * m, 30 * m, h, 2 * h, 4 * h, 4 * h, 4 * h}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	// The login gets another answer: the back-off is over.
	a, _ = Next(a, login(probe.CauseAuthUnsupported), now, p)
	if !a.AuthRetryAt().IsZero() || a.Held() != "" || !a.Status().AuthRetryAt.IsZero() {
		t.Fatalf("after another answer: retry %v held %q", a.AuthRetryAt(), a.Held())
	}
	a, _ = Next(a, login(tempfail), now.Add(time.Hour), p)
	if got := a.AuthRetryAt().Sub(now.Add(time.Hour)); got != 15*m {
		t.Fatalf("first refusal after a reset waits %v, want 15 min", got)
	}
	// A login that gets through resets it too.
	a, _ = Next(a, login(ok), now.Add(2*time.Hour), p)
	if a.State != OK || !a.AuthRetryAt().IsZero() || a.Held() != "" {
		t.Fatalf("after a good login: state %s retry %v held %q", a.State, a.AuthRetryAt(), a.Held())
	}
	// A rate limit after the login was accepted (at MAIL FROM) is not a
	// login refusal.
	r := login(ok)
	r.Result.Cause, r.Result.Status = limited, probe.StatusFailing
	a, _ = Next(a, r, now.Add(3*time.Hour), p)
	if !a.AuthRetryAt().IsZero() || a.Held() != "" || a.State != OK {
		t.Fatalf("a rate limit after a good login: state %s retry %v held %q", a.State, a.AuthRetryAt(), a.Held())
	}
	if p := (Policy{AuthInterval: 2 * h, AuthBackoffMax: time.Hour}); p.Backoff(1) != 2*h || p.Backoff(3) != 2*h {
		t.Errorf("a cap below the interval: %v %v, want the interval", p.Backoff(1), p.Backoff(3))
	}
}

// Pending says what a newer check found while it is being confirmed, so
// that no status reads "OK" right after a failed check.
func TestPending(t *testing.T) {
	p := DefaultPolicy()
	steps := func(ins ...Input) Account {
		a := NewAccount("x", "", t0)
		for i, in := range ins {
			a, _ = Next(a, in, t0.Add(time.Duration(i)*time.Minute), p)
		}
		return a
	}
	for _, c := range []struct {
		name    string
		a       Account
		state   State
		pending probe.Cause
		last    probe.Cause
	}{
		{"nothing to confirm", steps(result(ok)), OK, "", ok},
		{"a failure of an ok account", steps(result(ok), result(refused)), OK, refused, refused},
		{"two failures of an ok account", steps(result(ok), result(refused), result(timeout)), OK, timeout, timeout},
		{"a confirmed failure", steps(result(ok), result(refused), result(refused), result(refused)), Failing, "", refused},
		{"a failure at start", steps(result(refused)), Starting, refused, refused},
		{"a failure of a degraded account", steps(result(expiring), result(refused)), Degraded, refused, refused},
		{"offline checks of an ok account", steps(result(ok), result(offline)), OK, offline, offline},
		{"a recovery not yet confirmed", steps(result(refused), result(refused), result(refused), result(ok)), Failing, ok, ok},
		{"a recovery confirmed", steps(result(refused), result(refused), result(refused), result(ok), result(ok)), OK, "", ok},
		{"a failure in the grace period", steps(result(ok), Input{Kind: InputWake}, result(refused)), OK, refused, refused},
		{"a held verdict is no pending", steps(login(rejected), result(ok)), Failing, "", rejected},
		{"paused", steps(result(ok), result(refused), Input{Kind: InputPause}), Paused, "", refused},
	} {
		st := c.a.Status()
		if st.State != c.state || st.Pending != c.pending || st.Last == nil || st.Last.Cause != c.last {
			t.Errorf("%s: state %s pending %q last %v; want %s, %q, %s", c.name, st.State, st.Pending, st.Last, c.state, c.pending, c.last)
		}
	}
}

// Confirmation re-checks may log in only when the failure they confirm
// is a failed login.
func TestConfirmingLogin(t *testing.T) {
	p := DefaultPolicy()
	start, _ := Next(NewAccount("x", "", t0), login(ok), t0, p)
	protoAtAuth := login(probe.CauseProtocolError)
	refusedBeforeAuth := authResult(refused) // meant to log in, never got there
	for _, c := range []struct {
		name string
		ins  []Input
		want bool
	}{
		{"a login that failed", []Input{protoAtAuth}, true},
		{"a connection refused", []Input{result(refused)}, false},
		{"a login check refused before AUTH", []Input{refusedBeforeAuth}, false},
		{"a failed login, then a refused connection", []Input{protoAtAuth, result(refused)}, false},
		{"offline", []Input{result(offline)}, false},
		{"the recovery from a failed login", []Input{protoAtAuth, protoAtAuth, protoAtAuth, result(ok)}, true},
		{"the recovery from a refused connection", []Input{result(refused), result(refused), result(refused), login(ok)}, false},
	} {
		a := start
		for i, in := range c.ins {
			a, _ = Next(a, in, t0.Add(time.Duration(i+1)*time.Minute), p)
		}
		if a.Confirming() == 0 || a.ConfirmingLogin() != c.want {
			t.Errorf("%s: confirming %d, login %v; want %v", c.name, a.Confirming(), a.ConfirmingLogin(), c.want)
		}
	}
}

// A restart restores the verdict the last run held: a rejection always
// (the engine restores one only for the same credential), a temporary
// refusal while its back-off lasts.
func TestRestore(t *testing.T) {
	p := DefaultPolicy()
	stored := func(c probe.Cause, ago time.Duration) probe.Result {
		r := login(c).Result
		r.CheckedAt = t0.Add(-ago)
		return r
	}
	a, ev := Next(NewAccount("x", "", t0), Input{Kind: InputRestore, Result: stored(rejected, 3*h)}, t0, p)
	if a.State != Failing || a.Cause != rejected || !a.AuthLocked() || a.Last == nil || !a.Last.CheckedAt.Equal(t0.Add(-3*h)) || len(ev) != 1 {
		t.Fatalf("restored rejection: %+v, events %v", a.Status(), ev)
	}
	if b, _ := Next(a, result(ok), t0.Add(m), p); b.State != Failing {
		t.Errorf("a connectivity check lifted a restored rejection")
	}

	a, _ = Next(NewAccount("x", "", t0), Input{Kind: InputRestore, Result: stored(limited, 20*m), Refusals: 2}, t0, p)
	if a.State != Failing || a.Cause != limited || a.AuthLocked() || !a.AuthRetryAt().Equal(t0.Add(10*m)) {
		t.Fatalf("restored back-off (2 refusals, 20 min ago): %+v, retry %v; want held until +10 min", a.Status(), a.AuthRetryAt())
	}

	a, ev = Next(NewAccount("x", "", t0), Input{Kind: InputRestore, Result: stored(tempfail, 20*m), Refusals: 1}, t0, p)
	if a.State != Starting || a.Held() != "" || len(ev) != 0 {
		t.Fatalf("an expired back-off was restored: %+v", a.Status())
	}
	a, _ = Next(a, login(tempfail), t0.Add(m), p)
	if got := a.AuthRetryAt().Sub(t0.Add(m)); got != 30*m {
		t.Errorf("the refusal after an expired back-off of one refusal waits %v, want 30 min (the second in a row)", got)
	}

	if a, ev := Next(NewAccount("x", "", t0), Input{Kind: InputRestore, Result: stored(ok, m)}, t0, p); a.State != Starting || len(ev) != 0 {
		t.Errorf("restoring a good login changed the account: %+v", a.Status())
	}
}

// The status JSON carries the pending cause and the back-off's end.
func TestStatusJSON(t *testing.T) {
	a, _ := Next(NewAccount("x", "", t0), result(refused), t0, DefaultPolicy())
	b, err := json.Marshal(a.Status())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"pending_cause":"connection_refused"`) || strings.Contains(string(b), "auth_retry_at") {
		t.Errorf("confirming a failure: %s", b)
	}
	a, _ = Next(NewAccount("x", "", t0), login(tempfail), t0, DefaultPolicy())
	b, err = json.Marshal(a.Status())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"auth_retry_at":"2026-11-28T09:15:00Z"`) || strings.Contains(string(b), "pending_cause") {
		t.Errorf("backed off: %s", b)
	}
}
