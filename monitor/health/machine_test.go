package health

import (
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

const (
	ok       = probe.CauseOK
	refused  = probe.CauseConnectionRefused
	offline  = probe.CauseOffline
	rejected = probe.CauseAuthRejected
	expiring = probe.CauseCertificateExpiring
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
		{"flapping becomes intermittent, not a third alarm", []step{
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
			{7*m + 20*s, result(refused), Degraded, CauseIntermittent, "transition:ok>degraded:intermittent"},
			{8 * m, result(ok), Degraded, CauseIntermittent, ""},
			{9 * m, result(refused), Degraded, CauseIntermittent, ""},
			{9*m + 5*s, result(refused), Degraded, CauseIntermittent, ""},
			{9*m + 20*s, result(refused), Degraded, CauseIntermittent, ""},
			// Failures that last become an outage after all.
			{20 * m, result(refused), Failing, refused, "transition:degraded>failing:connection_refused"},
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
			{7*m + 20*s, result(refused), Degraded, CauseIntermittent, "transition:ok>degraded:intermittent"},
			{30 * m, result(ok), Degraded, CauseIntermittent, ""},
			{7*m + 20*s + h, result(ok), OK, ok, "transition:degraded>ok:ok"},
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
