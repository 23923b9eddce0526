package notify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

// now is when the scenarios start.
var now = time.Date(2026, 3, 10, 14, 20, 0, 0, time.UTC)

// The events the engine publishes, as health.Next makes them.
const (
	rejectedMsg = "Your password was rejected by the server (535 5.7.8 Authentication credentials invalid)."
	rejectedFix = "Re-enter the password for me@charter.net (smtpwatch password set charter)."
	refusedMsg  = "The server smtp.work.example refused the connection on port 587: nothing accepts mail there."
	refusedFix  = "Check the port in your mail program: mail programs use 587 (STARTTLS) or 465 (SSL/TLS)."
)

func transition(account, provider string, from, to health.State, cause probe.Cause) health.Event {
	e := health.Event{Kind: health.EventTransition, Account: account, Provider: provider, From: from, To: to, Cause: cause}
	switch cause {
	case probe.CauseAuthRejected:
		e.Message, e.Advice = rejectedMsg, []string{rejectedFix, "If you changed it on the Charter website recently, use the new one."}
	case probe.CauseConnectionRefused:
		e.Message, e.Advice = refusedMsg, []string{refusedFix}
	}
	if (from == health.Failing || from == health.Offline) && (to == health.OK || to == health.Degraded) {
		e.Kind = health.EventRecovery
	}
	return e
}

func reminder(account, provider string) health.Event {
	e := transition(account, provider, health.Failing, health.Failing, probe.CauseAuthRejected)
	e.Kind = health.EventReminder
	return e
}

// step happens at a time after the start of a scenario: an event (or
// nothing), then a Flush, whose notifications must be want (titles, and
// bodies where given as "title / body").
type step struct {
	at     time.Duration
	event  *health.Event
	status health.Status // the snapshot Flush sees
	want   []string
}

func ev(e health.Event) *health.Event { return &e }

func failingStatus(names ...string) health.Status {
	var st health.Status
	for _, n := range names {
		st.Accounts = append(st.Accounts, health.AccountStatus{Name: n, State: health.Failing})
	}
	return st
}

// pausedStatus is the daemon's status with every named account paused
// until resumed.
func pausedStatus(names ...string) health.Status {
	st := health.Status{State: health.Paused}
	for _, n := range names {
		st.Accounts = append(st.Accounts, health.AccountStatus{Name: n, State: health.Paused})
	}
	return st
}

var configError = health.Event{Kind: health.EventConfigError, Message: "config.toml:3: interval: too short"}

func TestPolicy(t *testing.T) {
	charterFails := transition("charter", "Charter", health.OK, health.Failing, probe.CauseAuthRejected)
	charterBack := transition("charter", "Charter", health.Failing, health.OK, probe.CauseOK)
	workFails := transition("work", "", health.OK, health.Failing, probe.CauseConnectionRefused)
	charterTitle := "Mail from Charter can't be sent / " + rejectedMsg + " " + rejectedFix
	expiringStatus := health.Status{Accounts: []health.AccountStatus{{
		Name: "charter", State: health.Degraded, Cause: probe.CauseCertificateExpiring,
		Last: &probe.Result{TLS: &probe.TLSInfo{DaysLeft: 5}},
	}}}
	tests := []struct {
		name  string
		steps []step
	}{{
		name: "start-up when all is well is silent",
		steps: []step{
			{at: 0, event: ev(transition("charter", "Charter", health.Starting, health.OK, probe.CauseOK))},
			{at: 0, event: ev(transition("work", "", health.Starting, health.Degraded, probe.CauseSlowResponse))},
			{at: time.Minute},
		},
	}, {
		name: "start-up failing is said, after the coalescing window",
		steps: []step{
			{at: 0, event: ev(transition("charter", "Charter", health.Starting, health.Failing, probe.CauseAuthRejected))},
			{at: time.Second},
			{at: 2 * time.Second, want: []string{charterTitle}},
			{at: time.Hour},
		},
	}, {
		name: "start-up offline is said",
		steps: []step{
			{at: 0, event: ev(transition("charter", "Charter", health.Starting, health.Offline, probe.CauseOffline))},
			{at: 2 * time.Second, want: []string{"This computer is offline / Mail can't be sent until the network is back."}},
		},
	}, {
		name: "two accounts failing together make one notification",
		steps: []step{
			{at: 0, event: ev(charterFails)},
			{at: 1500 * time.Millisecond, event: ev(workFails)},
			{at: 2 * time.Second, want: []string{"Mail from Charter and work can't be sent / Charter: password rejected.\nwork: connection refused.\nOpen the smtpwatch menu for what to change."}},
		},
	}, {
		name: "four accounts failing together",
		steps: []step{
			{at: 0, event: ev(transition("a", "", health.OK, health.Failing, probe.CauseDNSFailure))},
			{at: 0, event: ev(transition("b", "", health.OK, health.Failing, probe.CauseDNSFailure))},
			{at: 0, event: ev(transition("c", "", health.OK, health.Failing, probe.CauseDNSFailure))},
			{at: 0, event: ev(transition("d", "", health.OK, health.Failing, probe.CauseDNSFailure))},
			{at: 2 * time.Second, want: []string{"Mail from 4 accounts can't be sent"}},
		},
	}, {
		name: "accounts failing apart make two notifications",
		steps: []step{
			{at: 0, event: ev(charterFails)},
			{at: 2 * time.Second, want: []string{"Mail from Charter can't be sent"}},
			{at: 3 * time.Second, event: ev(workFails)},
			{at: 5 * time.Second, want: []string{"Mail from work can't be sent / " + refusedMsg + " " + refusedFix}},
		},
	}, {
		name: "offline accounts make one notification",
		steps: []step{
			{at: 0, event: ev(transition("charter", "Charter", health.OK, health.Offline, probe.CauseOffline))},
			{at: 0, event: ev(transition("work", "", health.OK, health.Offline, probe.CauseOffline))},
			{at: 2 * time.Second, want: []string{"This computer is offline"}},
		},
	}, {
		name: "recovery",
		steps: []step{
			{at: 0, event: ev(charterFails)},
			{at: 2 * time.Second, want: []string{"Mail from Charter can't be sent"}},
			{at: 10 * time.Minute, event: ev(charterBack)},
			{at: 10*time.Minute + 2*time.Second, want: []string{"Mail from Charter works again / Sending has worked since 14:30."}},
		},
	}, {
		name: "recovery from offline",
		steps: []step{
			{at: 0, event: ev(transition("charter", "Charter", health.OK, health.Offline, probe.CauseOffline))},
			{at: 2 * time.Second, want: []string{"This computer is offline"}},
			{at: time.Minute, event: ev(transition("charter", "Charter", health.Offline, health.OK, probe.CauseOK))},
			{at: time.Minute + 2*time.Second, want: []string{"Mail from Charter works again"}},
		},
	}, {
		name: "a failure that ends within the window is never said",
		steps: []step{
			{at: 0, event: ev(charterFails)},
			{at: time.Second, event: ev(charterBack)},
			{at: 2 * time.Second},
			{at: time.Hour},
		},
	}, {
		name: "a new cause within 15 minutes waits, and is said if it still holds",
		steps: []step{
			{at: 0, event: ev(charterFails)},
			{at: 2 * time.Second, want: []string{"Mail from Charter can't be sent / " + rejectedMsg + " " + rejectedFix}},
			{at: 5 * time.Minute, event: ev(transition("charter", "Charter", health.Failing, health.Failing, probe.CauseConnectionRefused))},
			{at: 15 * time.Minute, status: failingStatus("charter")},
			{at: 15*time.Minute + 2*time.Second, status: failingStatus("charter"), want: []string{"Mail from Charter can't be sent / " + refusedMsg + " " + refusedFix}},
		},
	}, {
		name: "a held-back change that no longer holds is dropped",
		steps: []step{
			{at: 0, event: ev(charterFails)},
			{at: 2 * time.Second, want: []string{"Mail from Charter can't be sent"}},
			{at: 5 * time.Minute, event: ev(transition("charter", "Charter", health.Failing, health.Offline, probe.CauseOffline))},
			{at: 20 * time.Minute, status: failingStatus("charter")}, // offline no more
		},
	}, {
		name: "recoveries are not rate-limited; a failure right after one waits",
		steps: []step{
			{at: 0, event: ev(charterFails)},
			{at: 2 * time.Second, want: []string{"Mail from Charter can't be sent"}},
			{at: time.Minute, event: ev(charterBack)},
			{at: time.Minute + 2*time.Second, want: []string{"Mail from Charter works again"}},
			{at: 2 * time.Minute, event: ev(charterFails)},
			{at: 10 * time.Minute, status: failingStatus("charter")},
			{at: 15*time.Minute + 2*time.Second, status: failingStatus("charter"), want: []string{"Mail from Charter can't be sent"}},
		},
	}, {
		name: "a failure held back and over before it was said: no recovery either",
		steps: []step{
			{at: 0, event: ev(charterFails)},
			{at: 2 * time.Second, want: []string{"Mail from Charter can't be sent"}},
			{at: time.Minute, event: ev(charterBack)},
			{at: time.Minute + 2*time.Second, want: []string{"Mail from Charter works again"}},
			{at: 2 * time.Minute, event: ev(charterFails)},
			{at: 3 * time.Minute, event: ev(charterBack)},
			{at: time.Hour},
		},
	}, {
		name: "expiring certificate: at most daily",
		steps: []step{
			{at: 0, event: ev(transition("charter", "Charter", health.OK, health.Degraded, probe.CauseCertificateExpiring))},
			{at: 2 * time.Second, status: expiringStatus, want: []string{"Charter's certificate expires in 5 days / Sending still works; your provider must renew it. Nothing to do unless it stops."}},
			{at: time.Hour, event: ev(transition("charter", "Charter", health.Degraded, health.OK, probe.CauseOK))},
			{at: 2 * time.Hour, event: ev(transition("charter", "Charter", health.OK, health.Degraded, probe.CauseCertificateExpiring))},
			{at: 3 * time.Hour},
			{at: 25 * time.Hour, event: ev(transition("charter", "Charter", health.OK, health.Degraded, probe.CauseCertificateExpiring))},
			{at: 25*time.Hour + 2*time.Second, want: []string{"Charter's certificate expires soon"}},
		},
	}, {
		name: "other warnings are silent",
		steps: []step{
			{at: 0, event: ev(transition("charter", "Charter", health.OK, health.Degraded, probe.CauseSlowResponse))},
			{at: time.Second, event: ev(transition("work", "", health.OK, health.Degraded, health.CauseIntermittent))},
			{at: time.Hour},
		},
	}, {
		name: "reminders come as they come",
		steps: []step{
			{at: 0, event: ev(charterFails)},
			{at: 2 * time.Second, want: []string{"Mail from Charter can't be sent"}},
			{at: 4 * time.Hour, event: ev(reminder("charter", "Charter"))},
			{at: 4*time.Hour + 2*time.Second, want: []string{"Mail from Charter still can't be sent / " + rejectedMsg + " " + rejectedFix}},
			{at: 4*time.Hour + 10*time.Minute, event: ev(reminder("charter", "Charter"))},
			{at: 4*time.Hour + 11*time.Minute, want: []string{"Mail from Charter still can't be sent"}},
		},
	}, {
		// The daemon holds the pause, whoever asked for it (the menu or
		// "smtpwatch pause"): the status says every account is paused.
		name: "while every account is paused nothing is said, after it is again",
		steps: []step{
			{at: 0, event: ev(transition("charter", "Charter", health.OK, health.Paused, probe.CauseOK)), status: pausedStatus("charter")},
			{at: time.Minute, event: ev(configError), status: pausedStatus("charter")},
			{at: 2 * time.Minute, status: pausedStatus("charter")},
			{at: time.Hour, event: ev(transition("charter", "Charter", health.Paused, health.OK, probe.CauseOK))},
			{at: time.Hour + time.Minute, event: ev(charterFails)},
			{at: time.Hour + time.Minute + 2*time.Second, want: []string{"Mail from Charter can't be sent"}},
		},
	}, {
		name: "what waits when every account is paused is dropped",
		steps: []step{
			{at: 0, event: ev(configError)},
			{at: 0, event: ev(workFails)},
			{at: time.Second, event: ev(transition("charter", "Charter", health.OK, health.Paused, probe.CauseOK))},
			{at: 2 * time.Second, status: pausedStatus("charter", "work")},
			{at: time.Hour},
		},
	}, {
		name: "one account paused: the others are still said",
		steps: []step{
			{at: 0, event: ev(transition("charter", "Charter", health.OK, health.Paused, probe.CauseOK))},
			{at: time.Second, event: ev(workFails)},
			{at: 3 * time.Second, status: health.Status{Accounts: []health.AccountStatus{{Name: "charter", State: health.Paused}, {Name: "work", State: health.Failing}}},
				want: []string{"Mail from work can't be sent"}},
		},
	}, {
		name: "paused accounts are silent; their recovery after resume is said",
		steps: []step{
			{at: 0, event: ev(charterFails)},
			{at: 2 * time.Second, want: []string{"Mail from Charter can't be sent"}},
			{at: time.Minute, event: ev(transition("charter", "Charter", health.Failing, health.Paused, probe.CauseAuthRejected))},
			{at: time.Hour, event: ev(transition("charter", "Charter", health.Paused, health.Failing, probe.CauseAuthRejected))},
			{at: time.Hour + 2*time.Second},
			{at: 2 * time.Hour, event: ev(charterBack)},
			{at: 2*time.Hour + 2*time.Second, want: []string{"Mail from Charter works again"}},
		},
	}, {
		name: "config errors: once per message",
		steps: []step{
			{at: 0, event: &health.Event{Kind: health.EventConfigError, Message: "config.toml:3: interval: too short", Advice: []string{"Fix the file; smtpwatch reloads it when it is saved."}}},
			{at: 2 * time.Second, want: []string{"smtpwatch's settings have an error / config.toml:3: interval: too short Fix the file; smtpwatch reloads it when it is saved."}},
			{at: time.Minute, event: &health.Event{Kind: health.EventConfigError, Message: "config.toml:3: interval: too short"}},
			{at: 2 * time.Minute},
			{at: 3 * time.Minute, event: &health.Event{Kind: health.EventConfigError, Message: "config.toml:9: port: out of range"}},
			{at: 3*time.Minute + 2*time.Second, want: []string{"smtpwatch's settings have an error / config.toml:9: port: out of range"}},
		},
	}, {
		name: "a recovery that fails again within the window is never said",
		steps: []step{
			{at: 0, event: ev(charterFails)},
			{at: 2 * time.Second, want: []string{"Mail from Charter can't be sent"}},
			{at: time.Hour, event: ev(charterBack)},
			{at: time.Hour + time.Second, event: ev(charterFails)},
			{at: time.Hour + 2*time.Second},
			{at: time.Hour + 3*time.Second, want: []string{"Mail from Charter can't be sent"}},
		},
	}, {
		name: "failing and recovered in one window are two notifications",
		steps: []step{
			{at: 0, event: ev(charterFails)},
			{at: 2 * time.Second, want: []string{"Mail from Charter can't be sent"}},
			{at: time.Hour, event: ev(charterBack)},
			{at: time.Hour + time.Second, event: ev(workFails)},
			{at: time.Hour + 2*time.Second, want: []string{"Mail from work can't be sent", "Mail from Charter works again"}},
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPolicy()
			p.Loc = time.UTC
			start := now
			for i, s := range tc.steps {
				at := start.Add(s.at)
				if s.event != nil {
					e := *s.event
					e.At = at
					p.Observe(e, at)
				}
				got := p.Flush(at, s.status).Compose(All)
				if err := match(got, s.want); err != nil {
					t.Fatalf("step %d (at +%v): %v", i, s.at, err)
				}
			}
		})
	}
}

// match compares notifications with "title" or "title / body" strings.
func match(got []health.Notification, want []string) error {
	var g []string
	for _, n := range got {
		g = append(g, n.Title+" / "+n.Body)
	}
	if len(got) != len(want) {
		return fmt.Errorf("got %q, want %q", g, want)
	}
	for i, w := range want {
		title, body, hasBody := strings.Cut(w, " / ")
		if got[i].Title != title || (hasBody && got[i].Body != body) {
			return fmt.Errorf("got %q, want %q", g, want)
		}
	}
	return nil
}

func TestPolicyNotificationDetails(t *testing.T) {
	p := NewPolicy()
	p.Loc = time.UTC
	p.Observe(transition("charter", "Charter", health.OK, health.Failing, probe.CauseAuthRejected), now)
	p.Observe(transition("work", "", health.OK, health.Offline, probe.CauseOffline), now)
	got := p.Flush(now.Add(CoalesceWindow), health.Status{}).Compose(All)
	if len(got) != 2 {
		t.Fatalf("got %+v", got)
	}
	if n := got[0]; n.Icon != health.Failing || n.Key != "account:charter" || n.Urgency != UrgencyNormal {
		t.Errorf("failing: %+v", n)
	}
	if n := got[1]; n.Icon != health.Offline || n.Key != "offline" || n.Urgency != UrgencyNormal {
		t.Errorf("offline: %+v", n)
	}
	back := transition("charter", "Charter", health.Failing, health.Degraded, probe.CauseCertificateExpiring)
	back.At = now.Add(time.Hour)
	p.Observe(back, back.At)
	got = p.Flush(back.At.Add(CoalesceWindow), health.Status{}).Compose(All)
	if len(got) != 1 || got[0].Icon != health.Degraded || got[0].Urgency != UrgencyLow || got[0].Key != "account:charter" {
		t.Errorf("recovered: %+v", got)
	}
}

func TestPolicyNext(t *testing.T) {
	p := NewPolicy()
	if !p.Next().IsZero() {
		t.Fatalf("Next of an idle policy: %v", p.Next())
	}
	p.Observe(transition("charter", "Charter", health.OK, health.Failing, probe.CauseAuthRejected), now)
	if got, want := p.Next(), now.Add(CoalesceWindow); !got.Equal(want) {
		t.Errorf("Next = %v, want the end of the window %v", got, want)
	}
	p.Flush(now.Add(CoalesceWindow), health.Status{})
	p.Observe(transition("charter", "Charter", health.Failing, health.Failing, probe.CauseDNSFailure), now.Add(time.Minute))
	if got, want := p.Next(), now.Add(CoalesceWindow+RateLimit); !got.Equal(want) {
		t.Errorf("Next = %v, want the end of the rate limit %v", got, want)
	}
}

func TestBodyIsBounded(t *testing.T) {
	long := strings.Repeat("word ", 200)
	b := body(long, []string{"advice"})
	if n := len([]rune(b)); n != MaxBody || !strings.HasSuffix(b, "…") {
		t.Errorf("body of %d runes: %q", n, b)
	}
	if got := body("Message.", nil); got != "Message." {
		t.Errorf("body without advice: %q", got)
	}
}

// The first status the tray gets may show a change it never heard of: the
// daemon (or its first check) was quicker than the tray's subscription.
// CatchUp says it once; an account heard of already, a working one and a
// paused one are not said again.
func TestPolicyCatchUp(t *testing.T) {
	rejected := &probe.Result{Message: rejectedMsg, Advice: []string{rejectedFix}}
	st := health.Status{Accounts: []health.AccountStatus{
		{Name: "charter", Provider: "Charter", State: health.Failing, Cause: probe.CauseAuthRejected, Last: rejected},
		{Name: "cert", Provider: "Cert", State: health.Degraded, Cause: probe.CauseCertificateExpiring},
		{Name: "slow", State: health.Degraded, Cause: probe.CauseSlowResponse},
		{Name: "work", State: health.OK},
		{Name: "held", State: health.Paused},
		{Name: "told", Provider: "Told", State: health.Failing, Cause: probe.CauseConnectionRefused},
	}}
	p := NewPolicy()
	// The event about "told" came before the first status.
	p.Observe(transition("told", "Told", health.Starting, health.Failing, probe.CauseConnectionRefused), now)
	p.CatchUp(st, now)
	var titles []string
	for _, n := range p.Flush(now.Add(CoalesceWindow), st).Compose(All) {
		titles = append(titles, n.Title)
		if strings.HasPrefix(n.Title, "Mail from Charter") && !strings.Contains(n.Body, "rejected") {
			t.Errorf("the failing account's notification lacks the cause: %q", n.Body)
		}
	}
	want := []string{"Mail from Told and Charter can't be sent", "Cert's certificate expires soon"}
	if strings.Join(titles, " | ") != strings.Join(want, " | ") {
		t.Errorf("notifications %q, want %q", titles, want)
	}
	// A second look at the same status says nothing more.
	p.CatchUp(st, now.Add(time.Minute))
	if got := p.Flush(now.Add(time.Minute+CoalesceWindow), st).Compose(All); len(got) != 0 {
		t.Errorf("CatchUp again: %+v", got)
	}
}

// One decision, composed per channel: a channel takes only its accounts
// and topics, and its words speak of them alone; config errors reach
// every account filter; an OAuth sign-in is its own topic, said like a
// failure.
func TestComposeFilters(t *testing.T) {
	signIn := transition("gmail", "Gmail", health.OK, health.Failing, CauseSignInRequired)
	signIn.Message, signIn.Advice = "Gmail asks you to sign in again.", []string{"Run: smtpwatch login gmail"}
	p := NewPolicy()
	p.Loc = time.UTC
	p.Observe(transition("charter", "Charter", health.OK, health.Failing, probe.CauseAuthRejected), now)
	p.Observe(transition("work", "", health.OK, health.Offline, probe.CauseOffline), now)
	p.Observe(signIn, now)
	p.Observe(configError, now)
	b := p.Flush(now.Add(CoalesceWindow), health.Status{})
	for _, tc := range []struct {
		name string
		f    Filter
		want []string
	}{
		{"all", All, []string{"Mail from Charter and Gmail can't be sent", "This computer is offline", "smtpwatch's settings have an error"}},
		{"charter", Filter{Accounts: []string{"CHARTER"}}, []string{"Mail from Charter can't be sent / " + rejectedMsg + " " + rejectedFix, "smtpwatch's settings have an error"}},
		{"sign-in only", Filter{Topics: []health.Topic{health.TopicSignIn}}, []string{"Mail from Gmail can't be sent / Gmail asks you to sign in again. Run: smtpwatch login gmail"}},
		{"failing only", Filter{Topics: []health.Topic{health.TopicFailing}}, []string{"Mail from Charter can't be sent"}},
		{"work, recoveries", Filter{Accounts: []string{"work"}, Topics: []health.Topic{health.TopicRecovered}}, nil},
		{"offline for gmail", Filter{Accounts: []string{"gmail"}, Topics: []health.Topic{health.TopicOffline}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := match(b.Compose(tc.f), tc.want); err != nil {
				t.Error(err)
			}
		})
	}
	notes := b.Compose(Filter{Topics: []health.Topic{health.TopicSignIn}})
	if notes[0].Topic != health.TopicSignIn || len(notes[0].Events) != 1 || notes[0].Events[0].Account != "gmail" {
		t.Errorf("sign-in notification: %+v", notes[0])
	}
	if n := b.Compose(All)[0]; n.Topic != health.TopicFailing || len(n.Events) != 2 {
		t.Errorf("failing and sign-in together: %+v", n)
	}
	// Decided once: a second Compose says the same, a second Flush nothing.
	if err := match(b.Compose(All), []string{"Mail from Charter and Gmail can't be sent", "This computer is offline", "smtpwatch's settings have an error"}); err != nil {
		t.Error(err)
	}
	if again := p.Flush(now.Add(time.Minute), health.Status{}); !again.Empty() {
		t.Errorf("flushed twice: %+v", again)
	}
}
