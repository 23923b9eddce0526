// Package health turns probe results into an account's health: a pure
// state machine (Next) with hysteresis, confirmation, flap detection,
// lockout protection, reminders and a grace period after sleep or a network
// change, plus the status snapshot the daemon reports.
package health

import (
	"errors"
	"time"

	"smtpwatch/monitor/probe"
)

// State is an account's health, or the combined health of all accounts.
type State string

// The states. Paused accounts are left out of the combined state.
const (
	Starting State = "starting" // not yet known
	OK       State = "ok"
	Degraded State = "degraded" // works, with a warning
	Failing  State = "failing"  // sending would fail
	Offline  State = "offline"  // this computer has no network
	Paused   State = "paused"   // checks and alarms suspended by the user
)

// States lists every state, in the order the tray and metrics use.
var States = []State{Starting, OK, Degraded, Failing, Offline, Paused}

// severity ranks states for Combine: worse is higher.
func (s State) severity() int {
	switch s {
	case OK:
		return 1
	case Degraded:
		return 2
	case Offline:
		return 3
	case Failing:
		return 4
	}
	return 0 // starting, paused
}

// ErrUnknownAccount is returned by the daemon's controls for an account
// name the config lacks.
var ErrUnknownAccount = errors.New("unknown account")

// CauseIntermittent is the health cause of an account whose checks keep
// flipping between working and failing; it is reported as degraded. It
// only ever softens a recovery (see Policy.FlapLimit): a failure that
// lasts is failing whatever came before.
const CauseIntermittent probe.Cause = "intermittent"

// EventKind says what an Event announces.
type EventKind string

// The event kinds.
const (
	// EventTransition: the state changed (not to a working state from a
	// failing or offline one: that is EventRecovery).
	EventTransition EventKind = "transition"
	// EventRecovery: back to ok or degraded from failing or offline.
	EventRecovery EventKind = "recovery"
	// EventReminder: still failing, Policy.Reminder after the last word.
	EventReminder EventKind = "reminder"
	// EventConfigError: the config file changed but could not be loaded;
	// the daemon keeps its last good config. Account is "".
	EventConfigError EventKind = "config_error"
)

// Event is something a person may need to hear about.
type Event struct {
	Kind    EventKind `json:"kind"`
	Account string    `json:"account"`
	// Provider is the display name for notifications ("Charter").
	Provider string      `json:"provider,omitempty"`
	From     State       `json:"from"`
	To       State       `json:"to"`
	Cause    probe.Cause `json:"cause"`
	Message  string      `json:"message"`
	Advice   []string    `json:"advice,omitempty"`
	At       time.Time   `json:"at"`
	// Notification is set for EventNotification.
	Notification *Notification `json:"notification,omitempty"`
}

// AccountStatus is one account as the daemon reports it.
type AccountStatus struct {
	Name     string      `json:"name"`
	Provider string      `json:"provider,omitempty"`
	State    State       `json:"state"`
	Cause    probe.Cause `json:"cause"`
	// Since is when the account entered State.
	Since time.Time `json:"since"`
	// PausedUntil is set while the account is paused; zero means "until
	// resumed" when State is Paused.
	PausedUntil time.Time `json:"paused_until,omitzero"`
	// AuthLocked is set after the server rejected the credential: no AUTH
	// is tried again until the credential changes or a check is asked for.
	AuthLocked bool `json:"auth_locked,omitempty"`
	// AuthRetryAt is set while a temporary login refusal (454, 421 4.7.0,
	// a rate limit) is held: the daemon does not log in again before this
	// time unless a check is asked for. State is failing with the refusal
	// as Cause meanwhile; checks that do not log in do not change it.
	AuthRetryAt time.Time `json:"auth_retry_at,omitzero"`
	// Last is the result that explains State, as `check --json` prints it.
	Last *probe.Result `json:"last,omitempty"`
	// Pending is set while a newer check disagrees with State and is being
	// confirmed by quick re-checks: the cause of the failure not yet
	// confirmed (State ok, degraded or starting), or probe.CauseOK for a
	// recovery not yet confirmed (State failing or offline). "" when
	// nothing is being confirmed. Status words must say "checking again —
	// last check failed: CAUSE" rather than the bare State.
	Pending probe.Cause `json:"pending_cause,omitempty"`
}

// Status is the daemon's snapshot: the combined state and every account.
type Status struct {
	State    State           `json:"state"`
	Accounts []AccountStatus `json:"accounts"`
	// Channels are the alert channels ([[notify]] tables), when the
	// config has any.
	Channels []ChannelStatus `json:"channels,omitempty"`
}

// Combine is the state the tray shows: the worst account, paused ones
// aside; paused when every account is paused; starting when there are no
// accounts or none is known yet.
func Combine(accounts []AccountStatus) State {
	worst, paused := Starting, 0
	for _, a := range accounts {
		if a.State == Paused {
			paused++
			continue
		}
		if a.State.severity() > worst.severity() || (worst == Starting && a.State != Starting) {
			worst = a.State
		}
	}
	if len(accounts) > 0 && paused == len(accounts) {
		return Paused
	}
	return worst
}

// EventNotification carries a notification the daemon decided to give
// (Event.Notification): the words a person reads, once, whatever channel
// they arrive by. The tray shows them; webhooks receive the same object.
const EventNotification EventKind = "notification"

// Topic is what a notification is about; [[notify]] tables choose topics
// with on = [...].
type Topic string

// The topics.
const (
	TopicFailing   Topic = "failing"   // sending would fail (and reminders of it)
	TopicOffline   Topic = "offline"   // this computer is offline
	TopicRecovered Topic = "recovered" // sending works again
	TopicExpiring  Topic = "expiring"  // the server's certificate expires soon
	// TopicSignIn: the account's OAuth sign-in must be done again (the
	// probe cause oauth_sign_in_required); said like a failure, chosen
	// apart.
	TopicSignIn      Topic = "sign_in_required"
	TopicConfigError Topic = "config_error" // the config file could not be loaded
	TopicTest        Topic = "test"         // `smtpwatch notify test`
)

// Topics lists the topics a [[notify]] table may choose, in the order
// the docs give them.
var Topics = []Topic{TopicFailing, TopicOffline, TopicRecovered, TopicExpiring, TopicSignIn, TopicConfigError}

// Notification is a decided notification: what the notification policy
// (monitor/notify) chose to say, in words, with the events it announces.
// The same decision goes to every channel; a channel that takes only some
// accounts or topics gets its words composed from its part alone.
type Notification struct {
	// ID identifies the notification within the daemon's run (a retried
	// delivery keeps it). IDs start at a random number: two runs do not
	// share them.
	ID    uint64 `json:"id"`
	Topic Topic  `json:"topic"`
	Title string `json:"title"`
	Body  string `json:"body"`
	// Icon is the state whose icon goes with it.
	Icon State `json:"icon"`
	// Key names what it is about ("account:charter", "offline",
	// "accounts", "config"): a later one with the same key may replace it
	// on screen.
	Key string `json:"key"`
	// Urgency is "low" (recoveries, certificates) or "normal".
	Urgency string `json:"urgency"`
	// Events are the events it announces, one per account (none for a
	// test).
	Events []Event `json:"events,omitempty"`
	// Replay marks a notification given again to a subscriber that came
	// after it was first given (the tray client of a daemon that runs
	// since boot); Covers lists the IDs of the notifications it repeats,
	// so that a subscriber that saw one of them can skip it.
	Replay bool     `json:"replay,omitempty"`
	Covers []uint64 `json:"covers,omitempty"`
}

// ChannelStatus is one alert channel ([[notify]] table) as the daemon
// reports it.
type ChannelStatus struct {
	Name string `json:"name"`
	// Kind is the service: "ntfy", "smtp", "webhook"...
	Kind string `json:"kind"`
	// Failing is set while the last attempt to deliver failed; Since is
	// when the failures began, Error what the last one said (never a
	// secret of the channel's URL).
	Failing bool      `json:"failing"`
	Since   time.Time `json:"since,omitzero"`
	Error   string    `json:"error,omitempty"`
	// Sent and Dropped count notifications delivered and given up since
	// the daemon started; Queued are waiting.
	Sent     int       `json:"sent"`
	Dropped  int       `json:"dropped"`
	Queued   int       `json:"queued"`
	LastSent time.Time `json:"last_sent,omitzero"`
}
