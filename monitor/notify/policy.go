package notify

import (
	"slices"
	"sort"
	"strings"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

// The policy's defaults.
const (
	// RateLimit: at most one notification per account in this time,
	// recoveries and reminders aside. A change held back by it is not lost:
	// it is said when the time is up if the account is still in that state.
	RateLimit = 15 * time.Minute
	// CoalesceWindow is how long the first notification waits for others
	// to join it. Accounts failing "together" (the network of a laptop, a
	// provider with two accounts) hear of it in one probe round: the
	// engine probes every account on the same schedule and the checks end
	// within a second or two of each other. 2 s is short enough that no
	// one notices the wait.
	CoalesceWindow = 2 * time.Second
	// ExpiringEvery: an expiring certificate is announced at most
	// this often per account.
	ExpiringEvery = 24 * time.Hour
	// MaxBody bounds a notification's body: the notification servers show
	// a few lines; the full report is one click away.
	MaxBody = 360
)

// The urgencies of health.Notification.
const (
	UrgencyLow    = "low"
	UrgencyNormal = "normal"
)

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

// CauseSignInRequired is the probe cause of an account whose OAuth
// sign-in must be done again; its failures are TopicSignIn.
const CauseSignInRequired probe.Cause = "oauth_sign_in_required"

// Item is one announcement the policy decided on: what it announces and
// the event that made it.
type Item struct {
	kind  noteKind
	Event health.Event
}

// Topic is what the item is about, for the on = [...] of a channel.
func (it Item) Topic() health.Topic {
	switch it.kind {
	case kindFailing, kindReminder:
		if it.Event.Cause == CauseSignInRequired {
			return health.TopicSignIn
		}
		return health.TopicFailing
	case kindOffline:
		return health.TopicOffline
	case kindExpiring:
		return health.TopicExpiring
	case kindRecovered:
		return health.TopicRecovered
	case kindConfig:
		return health.TopicConfigError
	}
	return ""
}

// told is what the policy remembers of one account.
type told struct {
	// last is what the person last heard: failing, offline, reminder,
	// recovered, expiring; kindNone when nothing since start.
	last     noteKind
	lastSent time.Time // last notification about it, recoveries aside
	expiring time.Time // last "certificate expires" notification
	owed     *Item     // held back by the rate limit
}

// Policy decides which events become notifications, once for every
// channel. It is pure: time comes in as arguments, decisions go out as
// values; the Dispatcher's loop calls it and hands what Flush returns to
// the channels, each composing its words with Batch.Compose. The zero
// value is not usable; use NewPolicy.
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
type Policy struct {
	RateLimit     time.Duration
	Coalesce      time.Duration
	ExpiringEvery time.Duration
	// Loc is the time zone of the times in the texts; nil means local.
	Loc *time.Location

	accounts  map[string]*told
	queue     []Item
	windowEnd time.Time
	configMsg string // the last config error said, and when
	configAt  time.Time
}

// NewPolicy is a policy with the default timings and nothing said yet.
func NewPolicy() *Policy {
	return &Policy{
		RateLimit: RateLimit, Coalesce: CoalesceWindow, ExpiringEvery: ExpiringEvery,
		accounts: map[string]*told{},
	}
}

func (p *Policy) account(name string) *told {
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

// Observe takes one event from the engine at now. Notification events
// (the policy's own output) are ignored.
func (p *Policy) Observe(e health.Event, now time.Time) {
	kind := classify(e)
	if kind == kindConfig {
		if e.Message == p.configMsg && now.Sub(p.configAt) < p.RateLimit {
			return
		}
		p.enqueue(Item{kind, e}, now)
		return
	}
	if e.Kind == health.EventNotification {
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
		p.enqueue(Item{kind, e}, now)
		return
	case kindExpiring:
		if !t.expiring.IsZero() && now.Sub(t.expiring) < p.ExpiringEvery {
			return
		}
	}
	// A recovery still in the window was only a moment's: never said.
	p.queue = slices.DeleteFunc(p.queue, func(q Item) bool {
		return q.kind == kindRecovered && strings.EqualFold(q.Event.Account, e.Account)
	})
	if p.replace(e.Account, Item{kind, e}) {
		return
	}
	if kind != kindReminder && !t.lastSent.IsZero() && now.Sub(t.lastSent) < p.RateLimit {
		t.owed = &Item{kind, e}
		return
	}
	p.enqueue(Item{kind, e}, now)
}

// CatchUp takes a status snapshot of accounts whose changes the policy may
// not have heard of (a dispatcher that starts after the engine). An
// account that is already failing, offline or degraded by an expiring
// certificate is announced as if that change had just come, unless an
// event about it has arrived already.
func (p *Policy) CatchUp(st health.Status, now time.Time) {
	for _, a := range st.Accounts {
		if a.State != health.Failing && a.State != health.Offline && a.State != health.Degraded {
			continue
		}
		t := p.account(a.Name)
		if t.last != kindNone || t.owed != nil || slices.ContainsFunc(p.queue, func(q Item) bool {
			return strings.EqualFold(q.Event.Account, a.Name)
		}) {
			continue // heard of already
		}
		p.Observe(statusEvent(a), now)
	}
}

// statusEvent is the transition that brought the account where st says
// it is.
func statusEvent(a health.AccountStatus) health.Event {
	e := health.Event{
		Kind: health.EventTransition, Account: a.Name, Provider: a.Provider,
		From: health.Starting, To: a.State, Cause: a.Cause, At: a.Since,
	}
	if a.Last != nil {
		e.Message, e.Advice = a.Last.Message, a.Last.Advice
	}
	return e
}

func (p *Policy) enqueue(n Item, now time.Time) {
	if len(p.queue) == 0 {
		p.windowEnd = now.Add(p.Coalesce)
	}
	p.queue = append(p.queue, n)
}

// replace puts n in place of a queued announcement about the same account,
// recoveries aside; it reports whether there was one.
func (p *Policy) replace(account string, n Item) bool {
	for i, q := range p.queue {
		if q.kind != kindRecovered && q.kind != kindConfig && strings.EqualFold(q.Event.Account, account) {
			p.queue[i] = n
			return true
		}
	}
	return false
}

// unqueue drops the queued announcements about account and reports whether
// there were any.
func (p *Policy) unqueue(account string) bool {
	kept, dropped := p.queue[:0], false
	for _, q := range p.queue {
		if q.kind != kindConfig && strings.EqualFold(q.Event.Account, account) {
			dropped = true
			continue
		}
		kept = append(kept, q)
	}
	p.queue = kept
	return dropped
}

// Next is when Flush next has something to do; zero for nothing.
func (p *Policy) Next() time.Time {
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

// Batch is what one Flush decided to say: the announcements of one
// coalescing window, the time and the status they were decided with.
// Compose turns it into words.
type Batch struct {
	Items  []Item
	At     time.Time
	Status health.Status
	// Loc is the time zone of the times in the texts; nil means local.
	Loc *time.Location
}

// Empty reports whether there is nothing to say.
func (b Batch) Empty() bool { return len(b.Items) == 0 }

// Flush returns the announcements due at now, and counts them as said
// (for every channel: the policy decides once). st is the newest status
// snapshot: it says whether checks are paused (then what waits is
// dropped: it would be stale by the end of the pause), whether a change
// held back by the rate limit still holds, and how many days an expiring
// certificate has left.
func (p *Policy) Flush(now time.Time, st health.Status) Batch {
	if allPaused(st) {
		p.queue, p.windowEnd = nil, time.Time{}
		for _, t := range p.accounts {
			t.owed = nil
		}
		return Batch{}
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
		return Batch{}
	}
	queue := p.queue
	p.queue, p.windowEnd = nil, time.Time{}
	p.said(queue, now)
	return Batch{Items: queue, At: now, Status: st, Loc: p.Loc}
}

// said remembers what a flushed window says.
func (p *Policy) said(queue []Item, now time.Time) {
	for _, n := range queue {
		if n.kind == kindConfig {
			p.configMsg, p.configAt = n.Event.Message, now
			continue
		}
		t := p.account(n.Event.Account)
		t.last = n.kind
		if n.kind != kindRecovered {
			t.lastSent = now
		}
		if n.kind == kindExpiring {
			t.expiring = now
		}
	}
}

// stillHolds reports whether an announcement is still true of the
// account in st.
func stillHolds(n Item, st health.Status) bool {
	a, ok := findAccount(st, n.Event.Account)
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
