package report

import (
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

// Every cause the probe or the state machine reports has words of its own
// in the one table: none is shown as its identifier.
func TestCauseWordsCoverEveryCause(t *testing.T) {
	causes := append([]probe.Cause{health.CauseIntermittent}, probe.AllCauses...)
	seen := map[string]probe.Cause{}
	for _, c := range causes {
		w := CauseWords(c)
		if w == "" || w == string(c) || strings.Contains(w, "_") {
			t.Errorf("cause %q reads %q: it has no words", c, w)
		}
		if other, dup := seen[w]; dup {
			t.Errorf("causes %q and %q both read %q", c, other, w)
		}
		seen[w] = c
	}
	if got := CauseWords(health.CauseIntermittent); got != "works only some of the time" {
		t.Errorf("intermittent reads %q", got)
	}
	if got := CauseWords(""); got != "unknown" {
		t.Errorf(`CauseWords("") = %q`, got)
	}
	if got := CauseWords("from_a_newer_daemon"); got != "from_a_newer_daemon" {
		t.Errorf("an unknown cause reads %q", got)
	}
}

// now is 14:05 local time on Wednesday, March 4 2026.
var now = time.Date(2026, 3, 4, 14, 5, 0, 0, time.Local)

func checked(ago, took time.Duration) *probe.Result {
	return &probe.Result{CheckedAt: now.Add(-ago), Duration: took}
}

// The words of one account, whatever shows them. The pending cases are
// the ones a person used to be told "OK (checked just now)" or "starting,
// not checked yet" while a failure was being confirmed.
func TestSummary(t *testing.T) {
	tests := []struct {
		name    string
		a       health.AccountStatus
		summary string
		latency string
		checked string
	}{
		{"ok", health.AccountStatus{State: health.OK, Cause: probe.CauseOK, Last: checked(10*time.Second, 180*time.Millisecond)},
			"OK", "180 ms", "just now"},
		{"ok, a slow check", health.AccountStatus{State: health.OK, Cause: probe.CauseOK, Last: checked(90*time.Second, 8*time.Second/3)},
			"OK", "2.7 s", "1 min ago"},
		{"failing", health.AccountStatus{State: health.Failing, Cause: probe.CauseAuthRejected, Last: checked(3*time.Minute, time.Second)},
			"password rejected", "", "3 min ago"},
		{"failing without a cause", health.AccountStatus{State: health.Failing},
			"sending would fail", "", ""},
		{"degraded: intermittent", health.AccountStatus{State: health.Degraded, Cause: health.CauseIntermittent},
			"works only some of the time", "", ""},
		{"offline", health.AccountStatus{State: health.Offline, Cause: probe.CauseOffline, Last: checked(3*time.Hour, 0)},
			"this computer is offline", "", "3 h ago"},
		{"starting", health.AccountStatus{State: health.Starting},
			"not checked yet", "", ""},
		{"paused until resumed", health.AccountStatus{State: health.Paused, Last: checked(time.Minute, time.Second)},
			"paused until resumed", "", "1 min ago"},
		{"paused until tomorrow", health.AccountStatus{State: health.Paused, PausedUntil: time.Date(2026, 3, 5, 8, 0, 0, 0, time.Local)},
			"paused until tomorrow 08:00", "", ""},
		{"ok, a failure being confirmed", health.AccountStatus{State: health.OK, Cause: probe.CauseOK, Pending: probe.CauseConnectionRefused, Last: checked(5*time.Second, 180*time.Millisecond)},
			"checking again — last check failed: connection refused", "", "just now"},
		{"degraded, a failure being confirmed", health.AccountStatus{State: health.Degraded, Cause: probe.CauseSlowResponse, Pending: probe.CauseAuthRejected},
			"checking again — last check failed: password rejected", "", ""},
		{"starting, a first failure being confirmed", health.AccountStatus{State: health.Starting, Pending: probe.CauseDNSFailure, Last: checked(2*time.Second, time.Second)},
			"checking again — first check failed: server name not found", "", "just now"},
		{"failing, a recovery being confirmed", health.AccountStatus{State: health.Failing, Cause: probe.CauseConnectionTimeout, Pending: probe.CauseOK},
			"port blocked or unreachable — checking again: last check worked", "", ""},
		{"offline, a recovery with a warning being confirmed", health.AccountStatus{State: health.Offline, Cause: probe.CauseOffline, Pending: probe.CauseCertificateExpiring},
			"this computer is offline — checking again: last check worked", "", ""},
		{"offline, the server failing once the network is back", health.AccountStatus{State: health.Offline, Cause: probe.CauseOffline, Pending: probe.CauseGreetingTimeout},
			"this computer is offline — checking again — last check failed: server not answering", "", ""},
		{"paused: nothing is being confirmed", health.AccountStatus{State: health.Paused, Pending: probe.CauseAuthRejected},
			"paused until resumed", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Summary(tt.a, now); got != tt.summary {
				t.Errorf("Summary = %q, want %q", got, tt.summary)
			}
			if got := Latency(tt.a); got != tt.latency {
				t.Errorf("Latency = %q, want %q", got, tt.latency)
			}
			if got := Checked(tt.a, now); got != tt.checked {
				t.Errorf("Checked = %q, want %q", got, tt.checked)
			}
		})
	}
}

func TestHeadline(t *testing.T) {
	acct := func(s health.State, c probe.Cause) health.AccountStatus {
		return health.AccountStatus{Name: "a", State: s, Cause: c}
	}
	pending := func(a health.AccountStatus, c probe.Cause) health.AccountStatus {
		a.Pending = c
		return a
	}
	paused := func(until time.Time) health.AccountStatus {
		return health.AccountStatus{State: health.Paused, PausedUntil: until}
	}
	ok, failing := acct(health.OK, probe.CauseOK), acct(health.Failing, probe.CauseAuthRejected)
	tests := []struct {
		name     string
		accounts []health.AccountStatus
		want     string
	}{
		{"none", nil, "no accounts set up"},
		{"one works", []health.AccountStatus{ok}, "sending works"},
		{"one works with a warning", []health.AccountStatus{acct(health.Degraded, health.CauseIntermittent)}, "sending works, with a warning"},
		{"one fails", []health.AccountStatus{failing}, "sending would fail"},
		{"one of two fails", []health.AccountStatus{failing, ok}, "1 of 2 accounts failing"},
		{"all work", []health.AccountStatus{ok, ok, ok}, "sending works from all 3 accounts"},
		{"two of three work, one paused", []health.AccountStatus{ok, ok, paused(time.Time{})}, "sending works from 2 of 3 accounts (1 paused)"},
		{"a warning among paused and unchecked", []health.AccountStatus{acct(health.Degraded, probe.CauseCertificateExpiring), paused(time.Time{}), paused(time.Time{}), acct(health.Starting, "")},
			"1 of 4 accounts with a warning (2 paused, 1 not checked yet)"},
		{"offline", []health.AccountStatus{acct(health.Offline, probe.CauseOffline), ok}, "this computer is offline"},
		{"starting", []health.AccountStatus{acct(health.Starting, "")}, "starting, not checked yet"},
		{"paused until resumed", []health.AccountStatus{paused(time.Time{})}, "paused"},
		{"all paused until 15:00", []health.AccountStatus{paused(now.Add(55 * time.Minute)), paused(now.Add(10 * time.Minute))}, "all 2 accounts paused until 15:00"},
		{"one works, a failure being confirmed", []health.AccountStatus{pending(ok, probe.CauseConnectionRefused)}, "sending works (checking again)"},
		{"the first check failed", []health.AccountStatus{pending(acct(health.Starting, ""), probe.CauseConnectionRefused)}, "first check failed, checking again"},
		{"two work, one being confirmed", []health.AccountStatus{ok, pending(ok, probe.CauseAuthRejected)}, "sending works from all 2 accounts (1 checking again)"},
		{"one fails, its recovery being confirmed", []health.AccountStatus{pending(failing, probe.CauseOK)}, "sending would fail (checking again)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := health.Status{Accounts: tt.accounts}
			if got := Headline(st, now); got != tt.want {
				t.Errorf("Headline = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDisplayNames(t *testing.T) {
	got := DisplayNames([]health.AccountStatus{
		{Name: "a", Provider: "Gmail"}, {Name: "b", Provider: "Gmail"}, {Name: "charter", Provider: "Charter"},
		{Name: "work"}, {Name: "x", Last: &probe.Result{Provider: "Yahoo"}}, {Name: "Fastmail", Provider: "Fastmail"},
	})
	want := []string{"Gmail (a)", "Gmail (b)", "Charter", "work", "Yahoo", "Fastmail"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestClock(t *testing.T) {
	for _, tt := range []struct {
		t    time.Time
		want string
	}{
		{now.Add(-3 * time.Minute), "14:02"},
		{now.Add(-25 * time.Hour), "yesterday 13:05"},
		{health.NextMorning(now), "tomorrow 08:00"},
		{now.Add(-72 * time.Hour), "Mar 1 14:05"},
		{now.AddDate(1, 0, 0), "Mar 4 2027 14:05"},
	} {
		if got := Clock(tt.t, now); got != tt.want {
			t.Errorf("Clock(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}

// A held account says how the hold ends, in the words of its cause.
func TestHeldNote(t *testing.T) {
	for _, tc := range []struct {
		cause probe.Cause
		want  string
	}{
		{probe.CauseAuthRejected, "The password is not tried again until it changes"},
		{probe.CauseOAuthSignInRequired, "until you sign in again: smtpwatch login work"},
		{probe.CauseOAuthTokenRejected, "until you sign in again: smtpwatch login work"},
		{probe.CauseSMTPAuthDisabled, "once an administrator turns\n    Authenticated SMTP on"},
	} {
		if got := HeldNote(health.AccountStatus{Name: "work", AuthLocked: true, Cause: tc.cause}); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.cause, got, tc.want)
		}
	}
	if got := HeldNote(health.AccountStatus{Name: "work", Cause: probe.CauseOAuthSignInRequired}); got != "" {
		t.Errorf("not held: %q", got)
	}
}
