package notify

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/human"
	"smtpwatch/monitor/report"
)

// Filter is the part of the decisions a channel takes: the accounts (nil:
// all) and the topics (nil: all). Config errors belong to no account and
// pass every account filter.
type Filter struct {
	Accounts []string
	Topics   []health.Topic
}

// All is the filter of the desktop: everything.
var All = Filter{}

// Takes reports whether the filter lets the item through.
func (f Filter) Takes(it Item) bool {
	if f.Topics != nil && !slices.Contains(f.Topics, it.Topic()) {
		return false
	}
	if f.Accounts == nil || it.kind == kindConfig {
		return true
	}
	return slices.ContainsFunc(f.Accounts, func(a string) bool { return strings.EqualFold(a, it.Event.Account) })
}

// Compose turns the part of b that f takes into notifications, in the
// order failing, offline, expiring, recovered, config error: accounts
// failing together make one notification, offline ones one "This computer
// is offline", recoveries one. IDs are left zero for the caller.
func (b Batch) Compose(f Filter) []health.Notification {
	var failing, offline, recovered, expiring []Item
	var config *Item
	for i, n := range b.Items {
		if !f.Takes(n) {
			continue
		}
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
			config = &b.Items[i] // the newest error stands for the others
		}
	}
	var out []health.Notification
	if len(failing) > 0 {
		out = append(out, failingNote(failing))
	}
	if len(offline) > 0 {
		out = append(out, health.Notification{
			Topic: health.TopicOffline,
			Title: "This computer is offline", Body: "Mail can't be sent until the network is back.",
			Icon: health.Offline, Key: "offline", Urgency: UrgencyNormal, Events: events(offline),
		})
	}
	for _, n := range expiring {
		out = append(out, expiringNote(n, b.Status))
	}
	if len(recovered) > 0 {
		out = append(out, recoveredNote(recovered, b.Loc))
	}
	if config != nil {
		out = append(out, health.Notification{
			Topic: health.TopicConfigError,
			Title: "smtpwatch's settings have an error", Body: body(config.Event.Message, config.Event.Advice),
			Icon: health.Degraded, Key: "config", Urgency: UrgencyNormal, Events: events([]Item{*config}),
		})
	}
	return out
}

func events(ns []Item) []health.Event {
	out := make([]health.Event, len(ns))
	for i, n := range ns {
		out[i] = n.Event
	}
	return out
}

func failingNote(ns []Item) health.Notification {
	topic := health.TopicSignIn
	for _, n := range ns {
		if n.Topic() != health.TopicSignIn {
			topic = health.TopicFailing
		}
	}
	if len(ns) == 1 {
		n := ns[0]
		title := "Mail from " + eventName(n.Event) + " can't be sent"
		if n.kind == kindReminder {
			title = "Mail from " + eventName(n.Event) + " still can't be sent"
		}
		return health.Notification{
			Topic: topic, Title: title, Body: body(n.Event.Message, n.Event.Advice),
			Icon: health.Failing, Key: "account:" + strings.ToLower(n.Event.Account), Urgency: UrgencyNormal,
			Events: events(ns),
		}
	}
	var names, lines []string
	for _, n := range ns {
		names = append(names, eventName(n.Event))
		lines = append(lines, eventName(n.Event)+": "+report.CauseWords(n.Event.Cause)+".")
	}
	lines = append(lines, "Open the smtpwatch menu for what to change.")
	return health.Notification{
		Topic: topic, Title: "Mail from " + list(names) + " can't be sent", Body: human.Truncate(strings.Join(lines, "\n"), MaxBody),
		Icon: health.Failing, Key: "accounts", Urgency: UrgencyNormal, Events: events(ns),
	}
}

func recoveredNote(ns []Item, loc *time.Location) health.Notification {
	var names []string
	latest := ns[0].Event.At
	for _, n := range ns {
		names = append(names, eventName(n.Event))
		if n.Event.At.After(latest) {
			latest = n.Event.At
		}
	}
	key := "accounts"
	if len(ns) == 1 {
		key = "account:" + strings.ToLower(ns[0].Event.Account)
	}
	if loc == nil {
		loc = time.Local
	}
	icon := health.OK
	for _, n := range ns {
		if n.Event.To == health.Degraded {
			icon = health.Degraded
		}
	}
	return health.Notification{
		Topic: health.TopicRecovered,
		Title: "Mail from " + list(names) + " works again",
		Body:  "Sending has worked since " + latest.In(loc).Format("15:04") + ".",
		Icon:  icon, Key: key, Urgency: UrgencyLow, Events: events(ns),
	}
}

func expiringNote(n Item, st health.Status) health.Notification {
	title := eventName(n.Event) + "'s certificate expires soon"
	if a, ok := findAccount(st, n.Event.Account); ok && a.Last != nil && a.Last.TLS != nil {
		switch d := a.Last.TLS.DaysLeft; {
		case d <= 0:
			title = eventName(n.Event) + "'s certificate expires today"
		case d == 1:
			title = eventName(n.Event) + "'s certificate expires tomorrow"
		default:
			title = fmt.Sprintf("%s's certificate expires in %d days", eventName(n.Event), d)
		}
	}
	return health.Notification{
		Topic: health.TopicExpiring,
		Title: title,
		Body:  "Sending still works; your provider must renew it. Nothing to do unless it stops.",
		Icon:  health.Degraded, Key: "account:" + strings.ToLower(n.Event.Account), Urgency: UrgencyLow,
		Events: events([]Item{n}),
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
	return human.Truncate(s, MaxBody)
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

// TestNotification is what `smtpwatch notify test` sends through a
// channel.
func TestNotification(channel string, now time.Time) health.Notification {
	return health.Notification{
		Topic: health.TopicTest, Title: "smtpwatch test notification",
		Body: "If you read this, smtpwatch's alerts reach you through " + channel + " (sent " + now.Format("15:04:05") + ").",
		Icon: health.OK, Key: "test", Urgency: UrgencyLow,
	}
}
