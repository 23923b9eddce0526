package tray

import (
	"errors"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

// now is a fixed "now" for the tests: 14:20 UTC on a Tuesday.
var now = time.Date(2026, 3, 10, 14, 20, 0, 0, time.UTC)

func result(cause probe.Cause, checkedAgo, took time.Duration) *probe.Result {
	return &probe.Result{Cause: cause, Status: cause.Status(), CheckedAt: now.Add(-checkedAgo), Duration: took}
}

func acct(name, provider string, s health.State, c probe.Cause, last *probe.Result) health.AccountStatus {
	return health.AccountStatus{Name: name, Provider: provider, State: s, Cause: c, Last: last}
}

func confirming(a health.AccountStatus, c probe.Cause) health.AccountStatus {
	a.Pending = c
	return a
}

func TestView(t *testing.T) {
	charterRejected := acct("charter", "Charter", health.Failing, probe.CauseAuthRejected, result(probe.CauseAuthRejected, 3*time.Minute, 196*time.Millisecond))
	workOK := acct("work", "", health.OK, probe.CauseOK, result(probe.CauseOK, time.Minute, 180*time.Millisecond))
	paused := func(a health.AccountStatus, until time.Time) health.AccountStatus {
		a.State, a.PausedUntil = health.Paused, until
		return a
	}
	tests := []struct {
		name      string
		st        health.Status
		icon      health.State
		tooltip   string
		lines     []string
		actions   []lineAction
		pause     string
		canResume bool
	}{{
		name:    "no accounts",
		st:      health.Status{State: health.Starting},
		icon:    health.Starting,
		tooltip: "smtpwatch — no accounts set up",
		lines:   []string{"No accounts yet — open the settings to add one"},
		actions: []lineAction{actionSettings},
		pause:   pauseLabel,
	}, {
		name:    "one account works",
		st:      health.Status{State: health.OK, Accounts: []health.AccountStatus{workOK}},
		icon:    health.OK,
		tooltip: "smtpwatch — sending works\nwork: OK, 180 ms (1 min ago)",
		lines:   []string{"✓ work — OK"},
		actions: []lineAction{actionReport},
		pause:   pauseLabel,
	}, {
		name:    "all of several work",
		st:      health.Status{State: health.OK, Accounts: []health.AccountStatus{workOK, acct("home", "Gmail", health.OK, probe.CauseOK, result(probe.CauseOK, 10*time.Second, 0))}},
		icon:    health.OK,
		tooltip: "smtpwatch — sending works from all 2 accounts\nwork: OK, 180 ms (1 min ago)\nGmail: OK (just now)",
		lines:   []string{"✓ work — OK", "✓ Gmail — OK"},
		actions: []lineAction{actionReport, actionReport},
		pause:   pauseLabel,
	}, {
		name:    "one of two failing (UX.md)",
		st:      health.Status{State: health.Failing, Accounts: []health.AccountStatus{charterRejected, workOK}},
		icon:    health.Failing,
		tooltip: "smtpwatch — 1 of 2 accounts failing\nCharter: password rejected (3 min ago)\nwork: OK, 180 ms (1 min ago)",
		lines:   []string{"✗ Charter — password rejected", "✓ work — OK"},
		actions: []lineAction{actionReport, actionReport},
		pause:   pauseLabel,
	}, {
		name:    "the only account failing",
		st:      health.Status{State: health.Failing, Accounts: []health.AccountStatus{charterRejected}},
		icon:    health.Failing,
		tooltip: "smtpwatch — sending would fail\nCharter: password rejected (3 min ago)",
		lines:   []string{"✗ Charter — password rejected"},
		actions: []lineAction{actionReport},
		pause:   pauseLabel,
	}, {
		name: "a warning",
		st: health.Status{State: health.Degraded, Accounts: []health.AccountStatus{
			acct("charter", "Charter", health.Degraded, probe.CauseCertificateExpiring, result(probe.CauseCertificateExpiring, 2*time.Hour, 0)), workOK}},
		icon:    health.Degraded,
		tooltip: "smtpwatch — 1 of 2 accounts with a warning\nCharter: certificate expires soon (2 h ago)\nwork: OK, 180 ms (1 min ago)",
		lines:   []string{"! Charter — certificate expires soon", "✓ work — OK"},
		actions: []lineAction{actionReport, actionReport},
		pause:   pauseLabel,
	}, {
		name: "intermittent",
		st: health.Status{State: health.Degraded, Accounts: []health.AccountStatus{
			acct("charter", "Charter", health.Degraded, health.CauseIntermittent, result(probe.CauseOK, 3*24*time.Hour, 0))}},
		icon:    health.Degraded,
		tooltip: "smtpwatch — sending works, with a warning\nCharter: works only some of the time (3 days ago)",
		lines:   []string{"! Charter — works only some of the time"},
		actions: []lineAction{actionReport},
		pause:   pauseLabel,
	}, {
		name: "offline",
		st: health.Status{State: health.Offline, Accounts: []health.AccountStatus{
			acct("charter", "Charter", health.Offline, probe.CauseOffline, result(probe.CauseOffline, 0, 0)),
			acct("work", "", health.Offline, probe.CauseOffline, nil)}},
		icon:    health.Offline,
		tooltip: "smtpwatch — this computer is offline\nCharter: this computer is offline (just now)\nwork: this computer is offline",
		lines:   []string{"○ Charter — this computer is offline", "○ work — this computer is offline"},
		actions: []lineAction{actionReport, actionReport},
		pause:   pauseLabel,
	}, {
		name:    "starting",
		st:      health.Status{State: health.Starting, Accounts: []health.AccountStatus{acct("charter", "Charter", health.Starting, "", nil)}},
		icon:    health.Starting,
		tooltip: "smtpwatch — starting, not checked yet\nCharter: not checked yet",
		lines:   []string{"… Charter — not checked yet"},
		actions: []lineAction{actionReport},
		pause:   pauseLabel,
	}, {
		name: "all paused for an hour",
		st: health.Status{State: health.Paused, Accounts: []health.AccountStatus{
			paused(charterRejected, now.Add(40*time.Minute)), paused(workOK, now.Add(40*time.Minute))}},
		icon:      health.Paused,
		tooltip:   "smtpwatch — all 2 accounts paused until 15:00\nCharter: paused until 15:00 (3 min ago)\nwork: paused until 15:00 (1 min ago)",
		lines:     []string{"‖ Charter — paused until 15:00", "‖ work — paused until 15:00"},
		actions:   []lineAction{actionReport, actionReport},
		pause:     "Checks paused until 15:00",
		canResume: true,
	}, {
		name:      "paused until tomorrow",
		st:        health.Status{State: health.Paused, Accounts: []health.AccountStatus{paused(workOK, health.NextMorning(now))}},
		icon:      health.Paused,
		tooltip:   "smtpwatch — paused until tomorrow 08:00\nwork: paused until tomorrow 08:00 (1 min ago)",
		lines:     []string{"‖ work — paused until tomorrow 08:00"},
		actions:   []lineAction{actionReport},
		pause:     "Checks paused until tomorrow 08:00",
		canResume: true,
	}, {
		name:      "paused until resumed",
		st:        health.Status{State: health.Paused, Accounts: []health.AccountStatus{paused(workOK, time.Time{})}},
		icon:      health.Paused,
		tooltip:   "smtpwatch — paused\nwork: paused until resumed (1 min ago)",
		lines:     []string{"‖ work — paused until resumed"},
		actions:   []lineAction{actionReport},
		pause:     "Checks paused",
		canResume: true,
	}, {
		name:      "one of two paused: the other one decides",
		st:        health.Status{State: health.Failing, Accounts: []health.AccountStatus{charterRejected, paused(workOK, time.Time{})}},
		icon:      health.Failing,
		tooltip:   "smtpwatch — 1 of 2 accounts failing (1 paused)\nCharter: password rejected (3 min ago)\nwork: paused until resumed (1 min ago)",
		lines:     []string{"✗ Charter — password rejected", "‖ work — paused until resumed"},
		actions:   []lineAction{actionReport, actionReport},
		pause:     pauseLabel,
		canResume: true,
	}, {
		// The same words as `smtpwatch status` (TestStatusTextCases in
		// cmd/smtpwatch): one home for them, monitor/report.
		name: "a failure being confirmed",
		st: health.Status{State: health.OK, Accounts: []health.AccountStatus{
			confirming(acct("work", "", health.OK, probe.CauseOK, result(probe.CauseOK, 5*time.Second, 180*time.Millisecond)), probe.CauseConnectionRefused)}},
		icon:    health.OK,
		tooltip: "smtpwatch — sending works (checking again)\nwork: checking again — last check failed: connection refused (just now)",
		lines:   []string{"✓ work — checking again — last check failed: connection refused"},
		actions: []lineAction{actionReport},
		pause:   pauseLabel,
	}, {
		name: "the first check failed",
		st: health.Status{State: health.Starting, Accounts: []health.AccountStatus{
			confirming(acct("work", "", health.Starting, "", result(probe.CauseAuthRejected, 5*time.Second, 0)), probe.CauseAuthRejected)}},
		icon:    health.Starting,
		tooltip: "smtpwatch — first check failed, checking again\nwork: checking again — first check failed: password rejected (just now)",
		lines:   []string{"… work — checking again — first check failed: password rejected"},
		actions: []lineAction{actionReport},
		pause:   pauseLabel,
	}, {
		name: "a recovery being confirmed",
		st: health.Status{State: health.Failing, Accounts: []health.AccountStatus{
			confirming(acct("work", "", health.Failing, probe.CauseConnectionTimeout, result(probe.CauseConnectionTimeout, 5*time.Second, 0)), probe.CauseOK)}},
		icon:    health.Failing,
		tooltip: "smtpwatch — sending would fail (checking again)\nwork: port blocked or unreachable — checking again: last check worked (just now)",
		lines:   []string{"✗ work — port blocked or unreachable — checking again: last check worked"},
		actions: []lineAction{actionReport},
		pause:   pauseLabel,
	}, {
		name:    "the combined state is computed when missing",
		st:      health.Status{Accounts: []health.AccountStatus{charterRejected, workOK}},
		icon:    health.Failing,
		tooltip: "smtpwatch — 1 of 2 accounts failing\nCharter: password rejected (3 min ago)\nwork: OK, 180 ms (1 min ago)",
		lines:   []string{"✗ Charter — password rejected", "✓ work — OK"},
		actions: []lineAction{actionReport, actionReport},
		pause:   pauseLabel,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := view(tc.st, now)
			if v.Icon != tc.icon {
				t.Errorf("icon %q, want %q", v.Icon, tc.icon)
			}
			if v.Tooltip != tc.tooltip {
				t.Errorf("tooltip:\n%s\nwant:\n%s", v.Tooltip, tc.tooltip)
			}
			var lines []string
			var actions []lineAction
			for _, l := range v.Lines {
				lines = append(lines, l.Text)
				actions = append(actions, l.Action)
			}
			if strings.Join(lines, "|") != strings.Join(tc.lines, "|") {
				t.Errorf("lines %q, want %q", lines, tc.lines)
			}
			if len(actions) != len(tc.actions) {
				t.Fatalf("actions %v, want %v", actions, tc.actions)
			}
			for i := range actions {
				if actions[i] != tc.actions[i] {
					t.Errorf("actions %v, want %v", actions, tc.actions)
				}
			}
			if v.PauseLabel != tc.pause || v.CanResume != tc.canResume {
				t.Errorf("pause %q resume %v, want %q %v", v.PauseLabel, v.CanResume, tc.pause, tc.canResume)
			}
		})
	}
}

func TestViewLinesNameTheirAccount(t *testing.T) {
	v := view(health.Status{Accounts: []health.AccountStatus{
		acct("charter", "Charter", health.OK, probe.CauseOK, nil), acct("work", "", health.OK, probe.CauseOK, nil),
	}}, now)
	if v.Lines[0].Account != "charter" || v.Lines[1].Account != "work" {
		t.Errorf("accounts %q %q", v.Lines[0].Account, v.Lines[1].Account)
	}
	if v.Lines[0].Tooltip != "Charter: OK" {
		t.Errorf("line tooltip %q", v.Lines[0].Tooltip)
	}
}

func TestDisconnectedView(t *testing.T) {
	v := disconnectedView(errors.New("the smtpwatch daemon is not running\n(no socket)"))
	if v.Icon != health.Starting {
		t.Errorf("icon %q", v.Icon)
	}
	want := "smtpwatch — not connected to the smtpwatch service\nthe smtpwatch daemon is not running"
	if v.Tooltip != want {
		t.Errorf("tooltip %q, want %q", v.Tooltip, want)
	}
	if len(v.Lines) != 1 || v.Lines[0].Action != actionNone || v.PauseLabel != pauseLabel {
		t.Errorf("lines %+v pause %q", v.Lines, v.PauseLabel)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"smtpwatch", 0, "smtpwatch"},
		{"smtpwatch", 9, "smtpwatch"},
		{"smtpwatch", 5, "smtp…"},
		{"✗ Charter — password rejected", 11, "✗ Charter …"},
	} {
		if got := truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}
