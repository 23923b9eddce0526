package tray

import (
	"strings"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/human"
	"smtpwatch/monitor/report"
)

// trayView is everything the tray shows, decided by view from a status
// snapshot; the platform adapter only draws it.
type trayView struct {
	// Icon is the health state whose icon is shown (icons.Tray).
	Icon health.State
	// Tooltip is the combined state on the first line, then one line per
	// account: "Charter: password rejected (3 min ago)".
	Tooltip string
	// Lines are the account lines at the top of the menu.
	Lines []menuLine
	// PauseLabel is the label of the "Pause checks" submenu: it says until
	// when while every account is paused.
	PauseLabel string
	// CanResume shows "Resume checks": some account is paused.
	CanResume bool
	// Checking is set while a "Check now" runs.
	Checking bool
}

// menuLine is one menu line.
type menuLine struct {
	// Text is the label: "✗ Charter — password rejected".
	Text string
	// Tooltip adds the details some platforms show on hover.
	Tooltip string
	// Account is the account the line stands for; "" for a notice.
	Account string
	// Action is what clicking the line does.
	Action lineAction
}

// lineAction is what clicking a menu line does.
type lineAction int

// The actions of a line.
const (
	actionNone     lineAction = iota // a disabled notice
	actionReport                     // open the account's full report
	actionSettings                   // open the settings file
	actionSignIn                     // run the account's OAuth2 sign-in
)

// view is the pure function from a status snapshot at now to what the tray
// shows. It never fails: an empty status is "no accounts set up". Every
// word comes from monitor/report, as `smtpwatch status` says it; whether
// checks are paused comes from the status alone, so that a pause or a
// resume from the command line shows here too.
func view(st health.Status, now time.Time) trayView {
	state := st.State
	if state == "" {
		state = health.Combine(st.Accounts)
	}
	v := trayView{Icon: state}
	tip := []string{"smtpwatch — " + report.Headline(st, now)}
	if len(st.Accounts) == 0 {
		v.Lines = []menuLine{{
			Text:   "No accounts yet — open the settings to add one",
			Action: actionSettings,
		}}
	}
	names := report.DisplayNames(st.Accounts)
	paused := 0
	for i, a := range st.Accounts {
		summary := report.Summary(a, now)
		tipLine := names[i] + ": " + summary
		if l := report.Latency(a); l != "" {
			tipLine += ", " + l
		}
		if when := report.Checked(a, now); when != "" {
			tipLine += " (" + when + ")"
		}
		tip = append(tip, tipLine)
		v.Lines = append(v.Lines, menuLine{
			Text:    report.StateSymbol(a.State) + " " + names[i] + " — " + summary,
			Tooltip: tipLine,
			Account: a.Name,
			Action:  actionReport,
		})
		if a.State == health.Paused {
			paused++
		}
	}
	v.CanResume = paused > 0
	v.PauseLabel = pauseLabel
	if paused > 0 && paused == len(st.Accounts) {
		v.PauseLabel = pausedLabel(report.PauseEnd(st), now)
	}
	v.Tooltip = strings.Join(tip, "\n")
	return v
}

// signInLabel is the menu line under an account that waits for an OAuth2
// sign-in (report.NeedsSignIn); signingInLabel while one runs.
func signInLabel(name string) string { return "Sign in to " + name + "…" }
func signingInLabel(name string) string {
	return "Signing in to " + name + "… (see your browser)"
}

// withSignIn adds a "Sign in…" line under each account of st that waits
// for an OAuth2 sign-in and that can (nil can: every one), for a tray that
// can run one; busy names the accounts whose sign-in runs now (their line
// says so, disabled).
func withSignIn(v trayView, st health.Status, busy map[string]bool, can func(string) bool) trayView {
	var lines []menuLine
	names := report.DisplayNames(st.Accounts)
	for _, l := range v.Lines {
		lines = append(lines, l)
		for i, a := range st.Accounts {
			if l.Account != a.Name || l.Action != actionReport || !report.NeedsSignIn(a) || (can != nil && !can(a.Name)) {
				continue
			}
			sl := menuLine{Text: signInLabel(names[i]), Tooltip: "Open the browser to sign " + a.Name + " in again (smtpwatch login " + a.Name + ")",
				Account: a.Name, Action: actionSignIn}
			if busy[a.Name] {
				sl.Text, sl.Action = signingInLabel(names[i]), actionNone
			}
			lines = append(lines, sl)
		}
	}
	v.Lines = lines
	return v
}

// disconnectedView is what the tray shows while the source cannot be
// reached (the tray client without its daemon).
func disconnectedView(err error) trayView {
	return trayView{
		Icon:       health.Starting,
		PauseLabel: pauseLabel,
		Tooltip:    "smtpwatch — not connected to the smtpwatch service\n" + firstLine(err.Error()),
		Lines: []menuLine{{
			Text:    "Not connected to the smtpwatch service",
			Tooltip: firstLine(err.Error()),
		}},
	}
}

// The labels of the pause entries: a pause stops the daemon's checks, and
// with them its alarms, as `smtpwatch pause` does.
const (
	pauseLabel  = "Pause checks"  // the submenu, while checks run
	resumeLabel = "Resume checks" // shown while some account is paused
)

// pausedLabel is the pause submenu's label while every account is paused
// until end (zero: until resumed).
func pausedLabel(end, now time.Time) string {
	if end.IsZero() {
		return "Checks paused"
	}
	return "Checks paused until " + report.Clock(end, now)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// truncate is human.Truncate.
func truncate(s string, n int) string { return human.Truncate(s, n) }
