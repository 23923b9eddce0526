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
	// the first failure. A login the server refused (rejected, or refused
	// for now) is never confirmed: confirming would mean logging in again,
	// which could lock the account or hammer a throttled server, so it
	// fails at once and the verdict is held (see Account.AuthLocked and
	// Account.AuthRetryAt).
	FailureThreshold int
	// SuccessThreshold is how many working checks in a row bring a failing
	// account back; below 1 counts as 1. After the first, the scheduler
	// re-checks seconds later. Offline accounts come back on the first
	// working check: the server was never at fault.
	SuccessThreshold int
	// FlapLimit and FlapWindow soften recoveries of an account that keeps
	// flipping: when it recovers from its FlapLimit-th entry into failing
	// within FlapWindow, it lands in degraded ("intermittent") rather than
	// ok, and stays there until FlapWindow passes without a failure. Flap
	// detection never softens a failure: a confirmed run of failures is
	// failing whatever happened before, and announced as such. 0 disables.
	FlapLimit  int
	FlapWindow time.Duration
	// AuthInterval is the wait before the first login after a temporary
	// login refusal; each further refusal in a row doubles it, up to
	// AuthBackoffMax. 0 means DefaultAuthInterval.
	AuthInterval time.Duration
	// AuthBackoffMax caps the wait between logins after temporary
	// refusals. 0 means DefaultAuthBackoffMax.
	AuthBackoffMax time.Duration
	// Reminder is how often a still-failing account is announced again;
	// 0 means never.
	Reminder time.Duration
	// Grace follows a wake from sleep or a network change: failures in it
	// do not count, since the network is still coming up.
	Grace time.Duration
}

// Defaults of the login back-off.
const (
	DefaultAuthInterval   = 15 * time.Minute
	DefaultAuthBackoffMax = 4 * time.Hour
)

// DefaultPolicy is the policy of a config that sets nothing.
func DefaultPolicy() Policy {
	return Policy{
		FailureThreshold: 2, SuccessThreshold: 2, // 5 s and 15 s confirmations
		FlapLimit: 3, FlapWindow: time.Hour,
		AuthInterval: DefaultAuthInterval, AuthBackoffMax: DefaultAuthBackoffMax,
		Reminder: 4 * time.Hour, Grace: 2 * time.Minute,
	}
}

// Backoff is how long the scheduler waits before logging in again after
// the n-th temporary login refusal in a row (n >= 1): AuthInterval,
// doubled for each refusal after the first, at most AuthBackoffMax. With
// the defaults: 15 min, 30 min, 1 h, 2 h, then 4 h.
func (p Policy) Backoff(n int) time.Duration {
	base, ceiling := p.AuthInterval, p.AuthBackoffMax
	if base <= 0 {
		base = DefaultAuthInterval
	}
	if ceiling <= 0 {
		ceiling = DefaultAuthBackoffMax
	}
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, max(ceiling, base))
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
	// InputRestore brings back the login verdict a previous run of the
	// daemon held: Result is its last login (a rejection of the same
	// credential, or a temporary refusal) as history kept it, Refusals the
	// temporary refusals in a row it ended. A rejection is held again; a
	// temporary refusal only while its back-off, counted from
	// Result.CheckedAt, has not run out (the count is kept either way, so
	// the next refusal waits longer). Other results are ignored.
	InputRestore
)

// Input is one thing that happened to an account.
type Input struct {
	Kind   InputKind
	Result probe.Result // InputResult, InputRestore
	// Auth is set when the probe tried to log in (not a connectivity-only
	// probe).
	Auth  bool
	Until time.Time // InputPause
	// Refusals is the number of temporary login refusals in a row that
	// ended with Result (InputRestore).
	Refusals int
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
	// a login verdict is held, when it is that login's result.
	Last *probe.Result

	// hold is the cause of the login verdict that stands while checks that
	// do not log in go on — a rejection of the credential or a temporary
	// refusal — "" when none; heldBy is the result that said so. It ends
	// only when a login gets another answer (a rejection: only a login
	// that gets through). authBlocked stops AUTH until the credential
	// changes; refusals counts temporary refusals in a row, and retryAt is
	// when the scheduler may log in again after the last one.
	hold        probe.Cause
	heldBy      *probe.Result
	authBlocked bool
	refusals    int
	retryAt     time.Time
	// loginFail: the newest failed result was a failed login (the probe
	// reached AUTH and it failed), so confirmations may log in.
	loginFail bool
	// fails, offlines and goods (working: ok or degraded) count results of
	// each kind in a row; warns counts degraded results and clean ok ones
	// in a row.
	fails, offlines, goods, warns, clean int
	lastFailure                          time.Time
	entries                              []time.Time // entries into failing within the flap window
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

// AuthRetryAt is when the scheduler may log in again after temporary
// login refusals; zero when there were none since the last other answer to
// a login. Before it, only a check the user asks for logs in.
func (a Account) AuthRetryAt() time.Time { return a.retryAt }

// Held is the cause of the login verdict the account is held at (see
// InputRestore, AuthLocked, AuthRetryAt), "" when none: checks that do not
// log in cannot change the state meanwhile.
func (a Account) Held() probe.Cause { return a.hold }

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

// ConfirmingLogin reports whether what is being confirmed (Confirming > 0)
// is a failed login: only then may confirmation re-checks log in. Other
// failures are confirmed by checks that do not log in, so that a
// connection problem never costs a login attempt a minute.
func (a Account) ConfirmingLogin() bool {
	return a.Confirming() > 0 && a.offlines == 0 && a.loginFail
}

// PausedUntil is the end of a pause; zero when not paused or paused until
// resumed.
func (a Account) PausedUntil() time.Time { return a.pausedUntil }

// Status is the account as the daemon reports it.
func (a Account) Status() AccountStatus {
	st := AccountStatus{
		Name: a.Name, Provider: a.Provider, State: a.State, Cause: a.Cause, Since: a.Since,
		PausedUntil: a.pausedUntil, AuthLocked: a.AuthLocked(), Last: a.Last, Pending: a.pending(),
	}
	if a.hold != "" && !a.authBlocked && !a.retryAt.IsZero() {
		st.AuthRetryAt = a.retryAt
	}
	return st
}

// pending is the cause of a newer check that disagrees with State and is
// not a verdict yet (see AccountStatus.Pending).
func (a Account) pending() probe.Cause {
	switch {
	case a.State == Paused || a.Last == nil:
		return ""
	case a.fails > 0 && a.State != Failing:
		return a.Last.Cause
	case a.offlines > 0 && a.State != Offline:
		return probe.CauseOffline
	case a.goods > 0 && a.State == Failing:
		return probe.CauseOK
	case a.State != Failing && a.State != Offline &&
		(a.Last.Status == probe.StatusFailing || a.Last.Status == probe.StatusOffline):
		// A failure in the grace period after a wake: not counted, and the
		// next check will tell.
		return a.Last.Cause
	}
	return ""
}

// loginReached reports whether the probe got as far as the login: it ran
// the AUTH phase, so the server answered the credential one way or
// another (or the probe refused to send it).
func loginReached(in Input) bool {
	_, ok := in.Result.Phase(probe.PhaseAuth)
	return in.Auth && ok
}

// temporaryRefusal reports whether the server refused the login for now:
// a 4xx answer to AUTH (auth_temporary_failure: 454, 421 4.7.0, no answer
// in time) or a rate limit, before the credential was accepted.
func temporaryRefusal(in Input) bool {
	c := in.Result.Cause
	return loginReached(in) && !in.Result.AuthVerified &&
		(c == probe.CauseAuthTemporaryFailure || c == probe.CauseRateLimited)
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
	case InputRestore:
		return a.restore(in, now, p)
	}

	// InputResult.
	r := in.Result
	if a.State == Paused {
		return a, nil // a check finished after the pause began
	}
	if a.Provider == "" {
		a.Provider = r.Provider
	}
	temporary := temporaryRefusal(in)
	if loginReached(in) && !temporary {
		// Any other answer to a login ends the back-off.
		a.refusals, a.retryAt = 0, time.Time{}
	}
	switch {
	case in.Auth && r.Cause.IsCredentialRejection():
		// Fail at once: a confirmation would send the rejected password again.
		a.hold, a.heldBy, a.Last, a.authBlocked = r.Cause, &r, &r, true
		return a.held(now, p, ev)
	case temporary:
		// Fail at once, and back off: the server asked us to come back later.
		a.refusals++
		a.retryAt = now.Add(p.Backoff(a.refusals))
		a.hold, a.heldBy, a.Last = r.Cause, &r, &r
		return a.held(now, p, ev)
	case a.hold != "" && !a.authBlocked && loginReached(in) && r.Status == probe.StatusFailing:
		// A temporary refusal is over: the login got another answer, which
		// stands on its own.
		a.hold, a.heldBy = "", nil
	case a.hold != "" && r.Status != probe.StatusOffline && !(in.Auth && r.Status != probe.StatusFailing):
		// A login verdict is held: what checks that do not log in find
		// does not change it; only a login that gets through (or the
		// network vanishing) does. Back from offline, the verdict stands
		// again.
		if a.State != Failing {
			a.Last = a.heldBy
			a.fails, a.offlines = 0, 0
			return a, a.move(Failing, a.hold, now, ev)
		}
		return a, a.remind(now, p, ev)
	case in.Auth && a.hold != "" && r.Status != probe.StatusFailing && r.Status != probe.StatusOffline:
		// A login got through after a refusal: the user fixed the
		// credential, or the server is back, and one good login is proof
		// enough.
		a.hold, a.heldBy, a.authBlocked = "", nil, false
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
	a.fails++
	a.lastFailure = now
	ph, reached := r.Phase(probe.PhaseAuth)
	a.loginFail = in.Auth && reached && !ph.OK
	return a.fail(r.Cause, now, p, ev, false)
}

// held moves to failing at once with the login verdict just held.
func (a Account) held(now time.Time, p Policy, ev []Event) (Account, []Event) {
	a.goods, a.offlines, a.warns, a.clean = 0, 0, 0, 0
	a.fails++
	a.loginFail = true
	return a.fail(a.hold, now, p, ev, true)
}

// restore handles InputRestore.
func (a Account) restore(in Input, now time.Time, p Policy) (Account, []Event) {
	r := in.Result
	if a.State == Paused {
		return a, nil
	}
	switch {
	case r.Cause.IsCredentialRejection():
		a.hold, a.heldBy, a.Last, a.authBlocked = r.Cause, &r, &r, true
		return a.held(now, p, nil)
	case r.Cause == probe.CauseAuthTemporaryFailure || r.Cause == probe.CauseRateLimited:
		a.refusals = max(in.Refusals, 1)
		a.retryAt = r.CheckedAt.Add(p.Backoff(a.refusals))
		if !a.retryAt.After(now) {
			return a, nil // the back-off ran out while the daemon was away
		}
		a.hold, a.heldBy, a.Last = r.Cause, &r, &r
		return a.held(now, p, nil)
	}
	return a, nil
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
		if a.goods < p.SuccessThreshold {
			return a, ev
		}
		if a.flapping(now, p) {
			// The third outage within the window (by default): working
			// again, but not to be trusted yet.
			return a, a.move(Degraded, CauseIntermittent, now, ev)
		}
		return a, a.move(to, cause, now, ev)
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

// flapping reports whether the account entered failing FlapLimit times or
// more within FlapWindow before now.
func (a Account) flapping(now time.Time, p Policy) bool {
	if p.FlapLimit <= 0 {
		return false
	}
	recent := 0
	for _, t := range a.entries {
		if now.Sub(t) < p.FlapWindow {
			recent++
		}
	}
	return recent >= p.FlapLimit
}

// fail handles a failed result, moving to failing once the streak is long
// enough, or at once when immediate. A confirmed streak is failing
// whatever came before: flap detection only softens recoveries.
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
	if !immediate {
		// Entries older than the window no longer count; keep the list short.
		kept := a.entries[:0]
		for _, t := range a.entries {
			if now.Sub(t) < p.FlapWindow {
				kept = append(kept, t)
			}
		}
		a.entries = append(kept, now)
	}
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
		e.Message = "Sending works again, but it keeps failing and recovering."
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
