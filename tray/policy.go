package tray

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/report"
)

// The policy's defaults.
const (
	// rateLimit: at most one notification per account in this time,
	// recoveries and reminders aside. A change held back by it is not lost:
	// it is said when the time is up if the account is still in that state.
	rateLimit = 15 * time.Minute
	// coalesceWindow is how long the first notification waits for others
	// to join it. Accounts failing "together" (the network of a laptop, a
	// provider with two accounts) hear of it in one probe round: the
	// engine probes every account on the same schedule and the checks end
	// within a second or two of each other. 2 s is short enough that no
	// one notices the wait.
	coalesceWindow = 2 * time.Second
	// expiringEvery: an expiring certificate is announced at most
	// this often per account.
	expiringEvery = 24 * time.Hour
	// maxBody bounds a notification's body: the notification servers show
	// a few lines; the full report is one click away.
	maxBody = 360
)

// urgency is the freedesktop urgency of a notification.
type urgency byte

// The urgencies.
const (
	urgencyLow    urgency = 0
	urgencyNormal urgency = 1
)

// notification is one desktop notification, in words a person reads once.
type notification struct {
	Title string
	Body  string
	// Icon is the state whose icon goes with it.
	Icon health.State
	// Key names what the notification is about ("account:charter",
	// "offline", "config", "accounts"): a later one with the same key may
	// replace it on screen.
	Key     string
	Urgency urgency
}

// noteKind is what a notification announces.
type noteKind int

const (
	kindNone noteKind = iota
	kindFailing
	kindOffline
	kindExpiring
	kindReminder
	kindRecovered
	kindConfig
)

// pending is an announcement waiting in the coalescing window, or held
// back by the rate limit.
type pending struct {
	kind noteKind
	ev   health.Event
}

// told is what the policy remembers of one account.
type told struct {
	// last is what the person last heard: failing, offline, reminder,
	// recovered, expiring; kindNone when nothing since start.
	last     noteKind
	lastSent time.Time // last notification about it, recoveries aside
	expiring time.Time // last "certificate expires" notification
	owed     *pending  // held back by the rate limit
}

// policy decides which events become notifications and what they say. It
// is pure: time comes in as arguments, notifications go out as values; the
// event loop calls it and delivers what Flush returns. The zero value is
// not usable; use newPolicy.
//
// Rules:
//   - Notified: a transition to failing (from starting too), to offline, to
//     degraded for an expiring certificate (at most once per
//     ExpiringEvery), a recovery (back to ok or degraded from failing or
//     offline), a reminder, a config error.
//   - Silent: starting→ok and every other move between working states; any
//     event into or out of paused; everything while every account is
//     paused (the status given to Flush says so: the daemon holds the
//     pause, whoever asked for it); a recovery the person never heard the
//     failure of.
//   - At most one per account per RateLimit, recoveries and reminders
//     aside; a change held back is said at the end of that time if the
//     account is still in that state (the status snapshot given to Flush).
//   - Announcements within Coalesce of the first one go out together:
//     several accounts failing at once make one notification, several
//     offline ones make "This computer is offline" once.
//   - A failure that recovers within the coalescing window is never said,
//     nor is a recovery that fails again within it.
type policy struct {
	RateLimit     time.Duration
	Coalesce      time.Duration
	ExpiringEvery time.Duration
	// Loc is the time zone of the times in the texts; nil means local.
	Loc *time.Location

	accounts  map[string]*told
	queue     []pending
	windowEnd time.Time
	configMsg string // the last config error said, and when
	configAt  time.Time
}

func newPolicy() *policy {
	return &policy{
		RateLimit: rateLimit, Coalesce: coalesceWindow, ExpiringEvery: expiringEvery,
		accounts: map[string]*told{},
	}
}

func (p *policy) account(name string) *told {
	key := strings.ToLower(name)
	t, ok := p.accounts[key]
	if !ok {
		t = &told{}
		p.accounts[key] = t
	}
	return t
}

// classify says what an event announces, kindNone for a silent one.
func classify(e health.Event) noteKind {
	switch e.Kind {
	case health.EventConfigError:
		return kindConfig
	case health.EventReminder:
		return kindReminder
	case health.EventRecovery:
		return kindRecovered
	case health.EventTransition:
		switch e.To {
		case health.Failing:
			return kindFailing
		case health.Offline:
			return kindOffline
		case health.Degraded:
			if e.Cause == probe.CauseCertificateExpiring {
				return kindExpiring
			}
		}
	}
	return kindNone
}

// Observe takes one event from the source at now.
func (p *policy) Observe(e health.Event, now time.Time) {
	kind := classify(e)
	if kind == kindConfig {
		if e.Message == p.configMsg && now.Sub(p.configAt) < p.RateLimit {
			return
		}
		p.enqueue(pending{kind, e}, now)
		return
	}
	t := p.account(e.Account)
	if e.From == health.Paused || e.To == health.Paused {
		t.owed = nil
		p.unqueue(e.Account)
		return
	}
	switch kind {
	case kindNone:
		return
	case kindRecovered:
		t.owed = nil
		unsaid := p.unqueue(e.Account)
		switch t.last {
		case kindFailing, kindOffline, kindReminder:
		case kindNone:
			if unsaid {
				return // the failure was never said; neither is its end
			}
		default:
			return // the person last heard that it works
		}
		p.enqueue(pending{kind, e}, now)
		return
	case kindExpiring:
		if !t.expiring.IsZero() && now.Sub(t.expiring) < p.ExpiringEvery {
			return
		}
	}
	// A recovery still in the window was only a moment's: never said.
	p.queue = slices.DeleteFunc(p.queue, func(q pending) bool {
		return q.kind == kindRecovered && strings.EqualFold(q.ev.Account, e.Account)
	})
	if p.replace(e.Account, pending{kind, e}) {
		return
	}
	if kind != kindReminder && !t.lastSent.IsZero() && now.Sub(t.lastSent) < p.RateLimit {
		t.owed = &pending{kind, e}
		return
	}
	p.enqueue(pending{kind, e}, now)
}

// CatchUp takes the first status snapshot the tray gets. An account that
// is already failing, offline or degraded by an expiring certificate when
// the tray starts has changed before the tray could hear of it — the tray
// client of a daemon that runs since boot, or a first check that ended
// before the tray had subscribed to events — and is announced as if that
// change had just come, unless an event about it has arrived already.
func (p *policy) CatchUp(st health.Status, now time.Time) {
	for _, a := range st.Accounts {
		if a.State != health.Failing && a.State != health.Offline && a.State != health.Degraded {
			continue
		}
		t := p.account(a.Name)
		if t.last != kindNone || t.owed != nil || slices.ContainsFunc(p.queue, func(q pending) bool {
			return strings.EqualFold(q.ev.Account, a.Name)
		}) {
			continue // heard of already
		}
		e := health.Event{
			Kind: health.EventTransition, Account: a.Name, Provider: a.Provider,
			From: health.Starting, To: a.State, Cause: a.Cause, At: a.Since,
		}
		if a.Last != nil {
			e.Message, e.Advice = a.Last.Message, a.Last.Advice
		}
		p.Observe(e, now)
	}
}

func (p *policy) enqueue(n pending, now time.Time) {
	if len(p.queue) == 0 {
		p.windowEnd = now.Add(p.Coalesce)
	}
	p.queue = append(p.queue, n)
}

// replace puts n in place of a queued announcement about the same account,
// recoveries aside; it reports whether there was one.
func (p *policy) replace(account string, n pending) bool {
	for i, q := range p.queue {
		if q.kind != kindRecovered && q.kind != kindConfig && strings.EqualFold(q.ev.Account, account) {
			p.queue[i] = n
			return true
		}
	}
	return false
}

// unqueue drops the queued announcements about account and reports whether
// there were any.
func (p *policy) unqueue(account string) bool {
	kept, dropped := p.queue[:0], false
	for _, q := range p.queue {
		if q.kind != kindConfig && strings.EqualFold(q.ev.Account, account) {
			dropped = true
			continue
		}
		kept = append(kept, q)
	}
	p.queue = kept
	return dropped
}

// Next is when Flush next has something to do; zero for nothing.
func (p *policy) Next() time.Time {
	var next time.Time
	earlier := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	if len(p.queue) > 0 {
		earlier(p.windowEnd)
	}
	for _, t := range p.accounts {
		if t.owed != nil {
			earlier(t.lastSent.Add(p.RateLimit))
		}
	}
	return next
}

// Flush returns the notifications due at now. st is the newest status
// snapshot: it says whether checks are paused (then what waits is dropped:
// it would be stale by the end of the pause), whether a change held back
// by the rate limit still holds, and how many days an expiring certificate
// has left.
func (p *policy) Flush(now time.Time, st health.Status) []notification {
	if allPaused(st) {
		p.queue, p.windowEnd = nil, time.Time{}
		for _, t := range p.accounts {
			t.owed = nil
		}
		return nil
	}
	names := make([]string, 0, len(p.accounts))
	for name := range p.accounts {
		names = append(names, name)
	}
	sort.Strings(names) // a stable order for the texts
	for _, name := range names {
		t := p.accounts[name]
		if t.owed == nil || now.Before(t.lastSent.Add(p.RateLimit)) {
			continue
		}
		owed := *t.owed
		t.owed = nil
		if stillHolds(owed, st) {
			if len(p.queue) == 0 {
				p.windowEnd = now
			}
			p.queue = append(p.queue, owed)
		}
	}
	if len(p.queue) == 0 || now.Before(p.windowEnd) {
		return nil
	}
	queue := p.queue
	p.queue, p.windowEnd = nil, time.Time{}
	return p.compose(queue, now, st)
}

// stillHolds reports whether a held-back announcement is still true of the
// account in st.
func stillHolds(n pending, st health.Status) bool {
	a, ok := findAccount(st, n.ev.Account)
	if !ok {
		return false
	}
	switch n.kind {
	case kindFailing, kindReminder:
		return a.State == health.Failing
	case kindOffline:
		return a.State == health.Offline
	case kindExpiring:
		return a.State == health.Degraded && a.Cause == probe.CauseCertificateExpiring
	}
	return false
}

// allPaused reports whether the status has accounts and all are paused.
func allPaused(st health.Status) bool {
	state := st.State
	if state == "" {
		state = health.Combine(st.Accounts)
	}
	return state == health.Paused
}

func findAccount(st health.Status, name string) (health.AccountStatus, bool) {
	for _, a := range st.Accounts {
		if strings.EqualFold(a.Name, name) {
			return a, true
		}
	}
	return health.AccountStatus{}, false
}

// compose turns the announcements of one window into notifications and
// remembers what was said.
func (p *policy) compose(queue []pending, now time.Time, st health.Status) []notification {
	var failing, offline, recovered, expiring []pending
	var config *pending
	for i, n := range queue {
		switch n.kind {
		case kindFailing, kindReminder:
			failing = append(failing, n)
		case kindOffline:
			offline = append(offline, n)
		case kindRecovered:
			recovered = append(recovered, n)
		case kindExpiring:
			expiring = append(expiring, n)
		case kindConfig:
			config = &queue[i] // the newest error stands for the others
		}
	}
	var out []notification
	said := func(ns []pending) {
		for _, n := range ns {
			t := p.account(n.ev.Account)
			t.last = n.kind
			if n.kind != kindRecovered {
				t.lastSent = now
			}
			if n.kind == kindExpiring {
				t.expiring = now
			}
		}
	}
	if len(failing) > 0 {
		out = append(out, p.failingNote(failing))
		said(failing)
	}
	if len(offline) > 0 {
		out = append(out, notification{
			Title: "This computer is offline", Body: "Mail can't be sent until the network is back.",
			Icon: health.Offline, Key: "offline", Urgency: urgencyNormal,
		})
		said(offline)
	}
	for _, n := range expiring {
		out = append(out, expiringNote(n, st))
	}
	said(expiring)
	if len(recovered) > 0 {
		out = append(out, p.recoveredNote(recovered))
		said(recovered)
	}
	if config != nil {
		out = append(out, notification{
			Title: "smtpwatch's settings have an error", Body: body(config.ev.Message, config.ev.Advice),
			Icon: health.Degraded, Key: "config", Urgency: urgencyNormal,
		})
		p.configMsg, p.configAt = config.ev.Message, now
	}
	return out
}

func (p *policy) failingNote(ns []pending) notification {
	if len(ns) == 1 {
		n := ns[0]
		title := "Mail from " + eventName(n.ev) + " can't be sent"
		if n.kind == kindReminder {
			title = "Mail from " + eventName(n.ev) + " still can't be sent"
		}
		return notification{
			Title: title, Body: body(n.ev.Message, n.ev.Advice),
			Icon: health.Failing, Key: "account:" + strings.ToLower(n.ev.Account), Urgency: urgencyNormal,
		}
	}
	var names, lines []string
	for _, n := range ns {
		names = append(names, eventName(n.ev))
		lines = append(lines, eventName(n.ev)+": "+report.CauseWords(n.ev.Cause)+".")
	}
	lines = append(lines, "Open the smtpwatch menu for what to change.")
	return notification{
		Title: "Mail from " + list(names) + " can't be sent", Body: truncate(strings.Join(lines, "\n"), maxBody),
		Icon: health.Failing, Key: "accounts", Urgency: urgencyNormal,
	}
}

func (p *policy) recoveredNote(ns []pending) notification {
	var names []string
	latest := ns[0].ev.At
	for _, n := range ns {
		names = append(names, eventName(n.ev))
		if n.ev.At.After(latest) {
			latest = n.ev.At
		}
	}
	key := "accounts"
	if len(ns) == 1 {
		key = "account:" + strings.ToLower(ns[0].ev.Account)
	}
	loc := p.Loc
	if loc == nil {
		loc = time.Local
	}
	icon := health.OK
	for _, n := range ns {
		if n.ev.To == health.Degraded {
			icon = health.Degraded
		}
	}
	return notification{
		Title: "Mail from " + list(names) + " works again",
		Body:  "Sending has worked since " + latest.In(loc).Format("15:04") + ".",
		Icon:  icon, Key: key, Urgency: urgencyLow,
	}
}

func expiringNote(n pending, st health.Status) notification {
	title := eventName(n.ev) + "'s certificate expires soon"
	if a, ok := findAccount(st, n.ev.Account); ok && a.Last != nil && a.Last.TLS != nil {
		switch d := a.Last.TLS.DaysLeft; {
		case d <= 0:
			title = eventName(n.ev) + "'s certificate expires today"
		case d == 1:
			title = eventName(n.ev) + "'s certificate expires tomorrow"
		default:
			title = fmt.Sprintf("%s's certificate expires in %d days", eventName(n.ev), d)
		}
	}
	return notification{
		Title: title,
		Body:  "Sending still works; your provider must renew it. Nothing to do unless it stops.",
		Icon:  health.Degraded, Key: "account:" + strings.ToLower(n.ev.Account), Urgency: urgencyLow,
	}
}

// eventName is the provider's display name in an event, else the account's.
func eventName(e health.Event) string {
	if e.Provider != "" {
		return e.Provider
	}
	return e.Account
}

// body is the cause in plain words and the first thing to do.
func body(message string, advice []string) string {
	s := strings.TrimSpace(message)
	if len(advice) > 0 {
		if s != "" {
			s += " "
		}
		s += strings.TrimSpace(advice[0])
	}
	return truncate(s, maxBody)
}

// list is "Charter", "Charter and Work", "Charter, Work and Gmail", or "4
// accounts".
func list(names []string) string {
	switch n := len(names); {
	case n == 1:
		return names[0]
	case n <= 3:
		return strings.Join(names[:n-1], ", ") + " and " + names[n-1]
	default:
		return fmt.Sprintf("%d accounts", n)
	}
}

// signInFailed is the notification of a "Sign in…" that did not complete:
// a person who clicked it waits for the browser, and must hear why not.
func signInFailed(account string, err error) notification {
	return notification{
		Title: "Signing " + account + " in did not complete",
		Body:  truncate(firstLine(err.Error()), maxBody),
		Icon:  health.Failing, Key: "signin:" + strings.ToLower(account), Urgency: urgencyNormal,
	}
}
