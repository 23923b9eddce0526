package health

import (
	"time"

	"smtpwatch/monitor/probe"
)

// Policy is how cautious the machine is before it alarms.
type Policy struct {
	// FailureThreshold is how many confirmation re-checks must fail too,
	// after a failed check, before the account is failing (or offline);
	// the scheduler runs them seconds apart (5 s, then 15 s). 0 alarms on
	// the first failure. A rejected credential is never confirmed:
	// re-sending it could lock the account, so it fails at once.
	FailureThreshold int
	// SuccessThreshold is how many working checks in a row bring a failing
	// account back; below 1 counts as 1. After the first, the scheduler
	// re-checks seconds later. Offline accounts come back on the first
	// working check: the server was never at fault.
	SuccessThreshold int
	// FlapLimit entries into failing within FlapWindow make the account
	// "intermittent" (degraded) instead of failing again; 0 disables.
	FlapLimit  int
	FlapWindow time.Duration
	// SustainedOutage is how long failures must last, once an account is
	// intermittent, before it is failing after all.
	SustainedOutage time.Duration
	// Reminder is how often a still-failing account is announced again;
	// 0 means never.
	Reminder time.Duration
	// Grace follows a wake from sleep or a network change: failures in it
	// do not count, since the network is still coming up.
	Grace time.Duration
}

// DefaultPolicy is the policy of a config that sets nothing.
func DefaultPolicy() Policy {
	return Policy{
		FailureThreshold: 2, SuccessThreshold: 2, // 5 s and 15 s confirmations
		FlapLimit: 3, FlapWindow: time.Hour, SustainedOutage: 10 * time.Minute,
		Reminder: 4 * time.Hour, Grace: 2 * time.Minute,
	}
}

// InputKind says what happened.
type InputKind int

// The inputs.
const (
	// InputResult is a probe result.
	InputResult InputKind = iota
	// InputTick lets time-based rules run: reminders, the end of a pause.
	InputTick
	// InputPause suspends checks and alarms until Input.Until (zero: until
	// InputResume).
	InputPause
	// InputResume ends a pause.
	InputResume
	// InputWake reports a wake from sleep or a network change.
	InputWake
	// InputCredentialChanged lifts the auth lockout: the password (or the
	// config) changed, so the next check may log in again.
	InputCredentialChanged
)

// Input is one thing that happened to an account.
type Input struct {
	Kind   InputKind
	Result probe.Result // InputResult
	// Auth is set when the probe tried to log in (not a connectivity-only
	// probe).
	Auth  bool
	Until time.Time // InputPause
}

// Account is one account's health. The zero value with a Name is a new
// account in Starting. Values are immutable in practice: Next returns a new
// one.
type Account struct {
	Name     string
	Provider string
	State    State
	Cause    probe.Cause
	Since    time.Time
	// Last is the result that explains State: the newest one, except while
	// the credential is locked out, when it is the rejection.
	Last *probe.Result

	// lockout is the credential rejection the account fails with, "" when
	// none; lockedBy is the result that said so. authBlocked stops AUTH
	// until the credential changes; the lockout itself ends only when a
	// login gets through.
	lockout     probe.Cause
	lockedBy    *probe.Result
	authBlocked bool
	// fails, offlines and goods (working: ok or degraded) count results of
	// each kind in a row; warns counts degraded results and clean ok ones
	// in a row.
	fails, offlines, goods, warns, clean int
	failSince                            time.Time // first failure of the current streak
	lastFailure                          time.Time
	entries                              []time.Time // entries into failing, for flap detection
	lastWord                             time.Time   // last announcement while failing
	graceUntil                           time.Time
	pausedUntil                          time.Time
	beforePause                          State
}

// NewAccount is an account about to be checked for the first time.
func NewAccount(name, provider string, now time.Time) Account {
	return Account{Name: name, Provider: provider, State: Starting, Since: now}
}

// AuthLocked reports whether the server rejected the credential: the
// scheduler must not try AUTH again until InputCredentialChanged, unless the
// user asks for a check.
func (a Account) AuthLocked() bool { return a.authBlocked }

// Confirming is how long an unconfirmed streak is — failed (or offline)
// checks of an account not yet failing (offline), or working checks of a
// failing one not yet recovered — so that the scheduler re-checks seconds
// later instead of an interval later. 0 when there is nothing to confirm.
func (a Account) Confirming() int {
	switch {
	case a.State == Paused:
		return 0
	case a.fails > 0 && a.State != Failing:
		return a.fails
	case a.offlines > 0 && a.State != Offline:
		return a.offlines
	case a.goods > 0 && a.State == Failing:
		return a.goods
	}
	return 0
}

// PausedUntil is the end of a pause; zero when not paused or paused until
// resumed.
func (a Account) PausedUntil() time.Time { return a.pausedUntil }

// Status is the account as the daemon reports it.
func (a Account) Status() AccountStatus {
	return AccountStatus{
		Name: a.Name, Provider: a.Provider, State: a.State, Cause: a.Cause, Since: a.Since,
		PausedUntil: a.pausedUntil, AuthLocked: a.AuthLocked(), Last: a.Last,
	}
}

// Next is the transition function: the account after in, at now, and the
// events to announce. It is pure: same arguments, same answer.
func Next(a Account, in Input, now time.Time, p Policy) (Account, []Event) {
	p.FailureThreshold = max(p.FailureThreshold, 0)
	p.SuccessThreshold = max(p.SuccessThreshold, 1)
	a.entries = append([]time.Time(nil), a.entries...) // never share history with the caller's value
	var ev []Event
	switch in.Kind {
	case InputPause:
		if a.State != Paused {
			a.beforePause = a.State
			ev = a.move(Paused, a.Cause, now, ev)
		}
		a.pausedUntil = in.Until
		a.fails, a.offlines, a.goods, a.warns, a.clean = 0, 0, 0, 0, 0
		return a, ev
	case InputResume:
		return a.resume(now, ev)
	case InputWake:
		a.graceUntil = now.Add(p.Grace)
		a.fails, a.offlines = 0, 0
		return a, nil
	case InputCredentialChanged:
		a.authBlocked = false
		return a, nil
	case InputTick:
		if a.State == Paused && !a.pausedUntil.IsZero() && !now.Before(a.pausedUntil) {
			return a.resume(now, ev)
		}
		return a, a.remind(now, p, ev)
	}

	// InputResult.
	r := in.Result
	if a.State == Paused {
		return a, nil // a check finished after the pause began
	}
	if a.Provider == "" {
		a.Provider = r.Provider
	}
	switch {
	case in.Auth && r.Cause.IsCredentialRejection():
		// Fail at once: a confirmation would send the rejected password again.
		a.lockout, a.lockedBy, a.Last, a.authBlocked = r.Cause, &r, &r, true
		a.goods, a.offlines, a.warns, a.clean = 0, 0, 0, 0
		a.fails++
		return a.fail(r.Cause, now, p, ev, true)
	case a.lockout != "" && r.Status != probe.StatusOffline && !(in.Auth && r.Status != probe.StatusFailing):
		// Locked out: what connectivity checks find does not change the
		// verdict; only a login that gets through (or the network
		// vanishing) does. Back from offline, the rejection stands again.
		if a.State != Failing {
			a.Last = a.lockedBy
			a.fails, a.offlines = 0, 0
			return a, a.move(Failing, a.lockout, now, ev)
		}
		return a, a.remind(now, p, ev)
	case in.Auth && a.lockout != "" && r.Status != probe.StatusFailing && r.Status != probe.StatusOffline:
		// A login got through after a rejection: the user fixed the
		// credential, and one good login is proof enough.
		a.lockout, a.lockedBy, a.authBlocked = "", nil, false
		a.goods = p.SuccessThreshold - 1
	}
	a.Last = &r

	switch r.Status {
	case probe.StatusOK, probe.StatusDegraded:
		a.fails, a.offlines = 0, 0
		a.goods++
		if r.Status == probe.StatusDegraded {
			a.warns, a.clean = a.warns+1, 0
		} else {
			a.warns, a.clean = 0, a.clean+1
		}
		return a.working(r, now, p, ev)
	case probe.StatusOffline:
		if now.Before(a.graceUntil) {
			return a, ev
		}
		a.fails, a.goods, a.warns, a.clean = 0, 0, 0, 0
		a.offlines++
		if a.State != Offline && a.offlines > p.FailureThreshold {
			ev = a.move(Offline, probe.CauseOffline, now, ev)
		}
		return a, ev
	}
	// Failing.
	if now.Before(a.graceUntil) {
		return a, ev
	}
	a.goods, a.offlines, a.warns, a.clean = 0, 0, 0, 0
	if a.fails == 0 {
		a.failSince = now
	}
	a.fails++
	a.lastFailure = now
	return a.fail(r.Cause, now, p, ev, false)
}

// working handles a result that says sending works.
func (a Account) working(r probe.Result, now time.Time, p Policy, ev []Event) (Account, []Event) {
	to, cause := OK, probe.CauseOK
	if r.Status == probe.StatusDegraded {
		to, cause = Degraded, r.Cause
	}
	switch a.State {
	case Starting, Offline:
		return a, a.move(to, cause, now, ev)
	case Failing:
		if a.goods >= p.SuccessThreshold {
			ev = a.move(to, cause, now, ev)
		}
		return a, ev
	case Degraded:
		if a.Cause == CauseIntermittent {
			if now.Sub(a.lastFailure) >= p.FlapWindow {
				ev = a.move(to, cause, now, ev)
			}
			return a, ev
		}
		if to == OK && a.clean >= p.SuccessThreshold {
			return a, a.move(OK, probe.CauseOK, now, ev)
		}
		if to == Degraded {
			a.Cause = cause // a different warning; nothing new to announce
		}
		return a, ev
	case OK:
		if to == Degraded && a.warns > p.FailureThreshold {
			ev = a.move(Degraded, cause, now, ev)
		}
		return a, ev
	}
	return a, ev
}

// fail handles a failed result, moving to failing once the streak is long
// enough, or at once when immediate.
func (a Account) fail(cause probe.Cause, now time.Time, p Policy, ev []Event, immediate bool) (Account, []Event) {
	if a.State == Failing {
		if cause != a.Cause {
			ev = a.move(Failing, cause, now, ev) // a new reason: worth a word
		}
		return a, a.remind(now, p, ev)
	}
	if !immediate && a.fails <= p.FailureThreshold {
		return a, ev
	}
	if !immediate && p.FlapLimit > 0 {
		recent := 0
		for _, t := range a.entries {
			if now.Sub(t) < p.FlapWindow {
				recent++
			}
		}
		if a.Cause == CauseIntermittent && a.State == Degraded {
			if now.Sub(a.failSince) < p.SustainedOutage {
				return a, ev // still just flapping
			}
		} else if recent+1 >= p.FlapLimit {
			return a, a.move(Degraded, CauseIntermittent, now, ev)
		}
	}
	a.entries = append(a.entries, now)
	return a, a.move(Failing, cause, now, ev)
}

// move changes state and cause and announces it.
func (a *Account) move(to State, cause probe.Cause, now time.Time, ev []Event) []Event {
	from := a.State
	kind := EventTransition
	if (from == Failing || from == Offline) && (to == OK || to == Degraded) {
		kind = EventRecovery
	}
	if from != to {
		a.Since = now
	}
	a.State, a.Cause = to, cause
	if to == Failing {
		a.lastWord = now
	}
	return append(ev, a.event(kind, from, now))
}

func (a *Account) event(kind EventKind, from State, now time.Time) Event {
	e := Event{Kind: kind, Account: a.Name, Provider: a.Provider, From: from, To: a.State, Cause: a.Cause, At: now}
	if a.Last != nil {
		e.Message, e.Advice = a.Last.Message, a.Last.Advice
	}
	if a.Cause == CauseIntermittent {
		e.Message = "Sending works only some of the time: checks keep failing and recovering."
		e.Advice = []string{"Often a weak Wi-Fi or an overloaded server; if it lasts, try another network or contact the provider."}
	}
	if a.State == Paused {
		e.Message, e.Advice = "Checks paused.", nil
	}
	return e
}

// remind announces a still-failing account again after Policy.Reminder.
func (a *Account) remind(now time.Time, p Policy, ev []Event) []Event {
	if a.State != Failing || p.Reminder <= 0 || now.Sub(a.lastWord) < p.Reminder {
		return ev
	}
	a.lastWord = now
	return append(ev, a.event(EventReminder, Failing, now))
}

// resume ends a pause: back to the state before it, counts forgotten; the
// scheduler checks at once.
func (a Account) resume(now time.Time, ev []Event) (Account, []Event) {
	if a.State != Paused {
		return a, ev
	}
	to := a.beforePause
	if to == "" || to == Paused {
		to = Starting
	}
	a.pausedUntil = time.Time{}
	return a, a.move(to, a.Cause, now, ev)
}

// MorningHour is when a pause "until tomorrow" ends: the start of the next
// working day.
const MorningHour = 8

// NextMorning is the end of a pause "until tomorrow": the next MorningHour
// o'clock after now in now's time zone (today's when now is earlier).
func NextMorning(now time.Time) time.Time {
	y, m, d := now.Date()
	t := time.Date(y, m, d, MorningHour, 0, 0, 0, now.Location())
	if !t.After(now) {
		t = time.Date(y, m, d+1, MorningHour, 0, 0, 0, now.Location())
	}
	return t
}
