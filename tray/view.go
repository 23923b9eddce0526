package tray

import (
	"fmt"
	"strings"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/human"
	"smtpwatch/monitor/probe"
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
	// PauseLabel is the label of the "Pause notifications" submenu: it
	// says until when while everything is paused.
	PauseLabel string
	// CanResume shows "Resume notifications": something is paused.
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
)

// The prefixes of the menu lines, one per state: shape, not only colour.
var statePrefix = map[health.State]string{
	health.OK:       "✓",
	health.Degraded: "!",
	health.Failing:  "✗",
	health.Offline:  "○",
	health.Paused:   "‖",
	health.Starting: "…",
}

// view is the pure function from a status snapshot at now to what the tray
// shows. It never fails: an empty status is "no accounts set up".
func view(st health.Status, now time.Time) trayView {
	state := st.State
	if state == "" {
		state = health.Combine(st.Accounts)
	}
	v := trayView{Icon: state}
	tip := []string{"smtpwatch — " + headline(st, state, now)}
	if len(st.Accounts) == 0 {
		v.Lines = []menuLine{{
			Text:   "No accounts yet — open the settings to add one",
			Action: actionSettings,
		}}
	}
	paused := 0
	for _, a := range st.Accounts {
		name := displayName(a)
		what := accountSummary(a, now)
		tipLine := name + ": " + what
		if when := checkedAgo(a, now); when != "" {
			tipLine += " (" + when + ")"
		}
		tip = append(tip, tipLine)
		v.Lines = append(v.Lines, menuLine{
			Text:    prefix(a.State) + " " + name + " — " + shortState(a, now),
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
		v.PauseLabel = pausedLabel(pauseEnd(st), now)
	}
	v.Tooltip = strings.Join(tip, "\n")
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

// headline is the combined state in words, after "smtpwatch — ".
func headline(st health.Status, state health.State, now time.Time) string {
	n := len(st.Accounts)
	count := func(s health.State) int {
		k := 0
		for _, a := range st.Accounts {
			if a.State == s {
				k++
			}
		}
		return k
	}
	if n == 0 {
		return "no accounts set up"
	}
	switch state {
	case health.OK:
		if n == 1 {
			return "sending works"
		}
		if count(health.OK) < n {
			return "sending works" // the others are paused or being checked
		}
		return fmt.Sprintf("sending works from all %d accounts", n)
	case health.Degraded:
		if n == 1 {
			return "sending works, with a warning"
		}
		return fmt.Sprintf("%d of %d accounts with a warning", count(health.Degraded), n)
	case health.Failing:
		if n == 1 {
			return "sending fails"
		}
		return fmt.Sprintf("%d of %d accounts failing", count(health.Failing), n)
	case health.Offline:
		return "this computer is offline"
	case health.Paused:
		return "paused" + until(st, now)
	}
	return "checking…"
}

// pauseLabel is the pause submenu's label when nothing is paused.
const pauseLabel = "Pause notifications"

// pausedLabel is the pause submenu's label while everything is paused
// until end (zero: until resumed).
func pausedLabel(end, now time.Time) string {
	if end.IsZero() {
		return "Notifications paused"
	}
	return "Notifications paused until " + clock(end, now)
}

// pauseEnd is the latest end of the paused accounts' pauses; zero when one
// of them is paused until resumed, or none is paused.
func pauseEnd(st health.Status) time.Time {
	var end time.Time
	for _, a := range st.Accounts {
		if a.State != health.Paused {
			continue
		}
		if a.PausedUntil.IsZero() {
			return time.Time{}
		}
		if a.PausedUntil.After(end) {
			end = a.PausedUntil
		}
	}
	return end
}

// until is " until 15:04" for the end of the paused accounts' pause, ""
// when it has none.
func until(st health.Status, now time.Time) string {
	if end := pauseEnd(st); !end.IsZero() {
		return " until " + clock(end, now)
	}
	return ""
}

// clock is "15:04" for a time today, "Mon 15:04" for another day.
func clock(t, now time.Time) string {
	t = t.In(now.Location())
	y1, m1, d1 := t.Date()
	y2, m2, d2 := now.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return t.Format("15:04")
	}
	return t.Format("Mon 15:04")
}

func prefix(s health.State) string {
	if p, ok := statePrefix[s]; ok {
		return p
	}
	return statePrefix[health.Starting]
}

// displayName is the provider's name ("Charter"), else the account's.
func displayName(a health.AccountStatus) string {
	if a.Provider != "" {
		return a.Provider
	}
	if a.Last != nil && a.Last.Provider != "" {
		return a.Last.Provider
	}
	return a.Name
}

// shortState is the few words of a menu line: "password rejected", "OK".
func shortState(a health.AccountStatus, now time.Time) string {
	switch a.State {
	case health.Starting:
		return "checking…"
	case health.Paused:
		if a.PausedUntil.IsZero() {
			return "paused"
		}
		return "paused until " + clock(a.PausedUntil, now)
	case health.Offline:
		return "this computer is offline"
	case health.OK:
		return "OK"
	}
	return causeWords(a.Cause)
}

// accountSummary is the tooltip's words for an account: shortState, with
// the check's duration when it works.
func accountSummary(a health.AccountStatus, now time.Time) string {
	s := shortState(a, now)
	if a.State == health.OK && a.Last != nil && a.Last.Duration > 0 {
		s += ", " + ms(a.Last.Duration)
	}
	return s
}

func causeWords(c probe.Cause) string {
	switch c {
	case health.CauseIntermittent:
		return "works only some of the time"
	case "":
		return "unknown"
	}
	return c.Short()
}

func ms(d time.Duration) string {
	if d < time.Millisecond {
		return "<1 ms"
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

// checkedAgo is when the account's result was checked, "3 min ago"; ""
// when it never was.
func checkedAgo(a health.AccountStatus, now time.Time) string {
	if a.Last == nil || a.Last.CheckedAt.IsZero() {
		return ""
	}
	return human.Ago(now.Sub(a.Last.CheckedAt))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// truncate cuts s to at most n runes, ending in "…" when cut; n <= 0
// means no limit.
func truncate(s string, n int) string {
	if n <= 0 {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
