package report

// The daemon's status in words: the one home of how a state, a cause and a
// check being confirmed read, for `smtpwatch status` and the tray alike
// (menu lines, tooltip, notifications). Neither keeps words of its own.

import (
	"fmt"
	"strings"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/human"
	"smtpwatch/monitor/probe"
)

// causeWords holds the words of the causes the probe does not know: the
// health machine's. The probe's own causes are said as probe.Cause.Short
// says them, the one table of those words.
var causeWords = map[probe.Cause]string{
	health.CauseIntermittent: "works only some of the time",
}

// CauseWords is the few words for a cause: "password rejected", "works
// only some of the time"; "" is "unknown". Every status line, menu line and
// notification says causes through it.
func CauseWords(c probe.Cause) string {
	if s, ok := causeWords[c]; ok {
		return s
	}
	if c == "" {
		return "unknown"
	}
	return c.Short()
}

// stateSymbol is the shape each state has in text, beside the colour the
// tray's icon gives it.
var stateSymbol = map[health.State]string{
	health.OK: "✓", health.Degraded: "!", health.Failing: "✗",
	health.Offline: "○", health.Paused: "‖", health.Starting: "…",
}

// StateSymbol is the mark of a state at the start of a line: ✓ ! ✗ ○ ‖ …
// ("…" for a state it does not know).
func StateSymbol(s health.State) string {
	if m, ok := stateSymbol[s]; ok {
		return m
	}
	return stateSymbol[health.Starting]
}

// Clock says a time relative to now, in now's time zone: "14:02" today,
// "yesterday 14:02", "tomorrow 08:00", else "Mar 4 14:02" (with the year
// when it is another one).
func Clock(t, now time.Time) string {
	t = t.In(now.Location())
	day := func(x time.Time) time.Time { return time.Date(x.Year(), x.Month(), x.Day(), 0, 0, 0, 0, time.UTC) }
	switch int(day(t).Sub(day(now)).Hours() / 24) {
	case 0:
		return t.Format("15:04")
	case -1:
		return "yesterday " + t.Format("15:04")
	case 1:
		return "tomorrow " + t.Format("15:04")
	}
	if t.Year() != now.Year() {
		return t.Format("Jan 2 2006 15:04")
	}
	return t.Format("Jan 2 15:04")
}

// DisplayNames are the accounts' names for a person, in order: the
// provider's ("Charter"), unless two accounts share it ("Gmail (work)"),
// else the account's own.
func DisplayNames(accounts []health.AccountStatus) []string {
	provider := func(a health.AccountStatus) string {
		if a.Provider != "" {
			return a.Provider
		}
		if a.Last != nil {
			return a.Last.Provider
		}
		return ""
	}
	seen := map[string]int{}
	for _, a := range accounts {
		seen[provider(a)]++
	}
	names := make([]string, len(accounts))
	for i, a := range accounts {
		switch p := provider(a); {
		case p == "" || p == a.Name:
			names[i] = a.Name
		case seen[p] > 1:
			names[i] = p + " (" + a.Name + ")"
		default:
			names[i] = p
		}
	}
	return names
}

// confirming reports whether a newer check disagrees with the account's
// state and is being confirmed (health.AccountStatus.Pending).
func confirming(a health.AccountStatus) bool {
	return a.Pending != "" && a.State != health.Paused
}

// pendingWorked reports whether the check being confirmed worked (perhaps
// with a warning).
func pendingWorked(c probe.Cause) bool {
	return c == probe.CauseOK || c.IsWarning() || c == health.CauseIntermittent
}

// Summary is an account's state in a few words, the same in a status
// line, a menu line and a tooltip:
//
//	"OK", "password rejected", "this computer is offline",
//	"paused until 15:00", "paused until resumed", "not checked yet",
//	"checking again — last check failed: connection refused",
//	"checking again — first check failed: server name not found",
//	"password rejected — checking again: last check worked".
func Summary(a health.AccountStatus, now time.Time) string {
	if confirming(a) {
		switch {
		case a.State == health.Starting:
			return "checking again — first check failed: " + CauseWords(a.Pending)
		case a.State == health.OK || a.State == health.Degraded:
			if !pendingWorked(a.Pending) {
				return "checking again — last check failed: " + CauseWords(a.Pending)
			}
		default: // failing, offline
			if pendingWorked(a.Pending) {
				return stateCause(a) + " — checking again: last check worked"
			}
			return stateCause(a) + " — checking again — last check failed: " + CauseWords(a.Pending)
		}
	}
	switch a.State {
	case health.Paused:
		if a.PausedUntil.IsZero() {
			return "paused until resumed"
		}
		return "paused until " + Clock(a.PausedUntil, now)
	case health.Starting:
		return "not checked yet"
	}
	return stateCause(a)
}

// stateCause is the words of a known state: its cause, or the state's own
// words when the cause is missing.
func stateCause(a health.AccountStatus) string {
	switch {
	case a.State == health.OK:
		return "OK"
	case a.State == health.Offline:
		return CauseWords(probe.CauseOffline)
	case a.Cause != "" && a.Cause != probe.CauseOK:
		return CauseWords(a.Cause)
	case a.State == health.Failing:
		return "sending would fail"
	case a.State == health.Degraded:
		return "works, with a warning"
	}
	return string(a.State)
}

// Latency is how long the account's last check took, "180 ms", when the
// account works and nothing is being confirmed; "" otherwise.
func Latency(a health.AccountStatus) string {
	if a.State != health.OK || confirming(a) || a.Last == nil || a.Last.Duration <= 0 {
		return ""
	}
	return human.Duration(a.Last.Duration)
}

// Checked is how long ago the account was last checked, "1 min ago"; ""
// when it never was (or is not checked: starting, or paused without a
// result).
func Checked(a health.AccountStatus, now time.Time) string {
	if a.Last == nil || a.Last.CheckedAt.IsZero() || (a.State == health.Starting && !confirming(a)) {
		return ""
	}
	return human.Ago(now.Sub(a.Last.CheckedAt))
}

// Headline is the combined state of all accounts in words, after
// "smtpwatch: " in the CLI and "smtpwatch — " in the tray:
//
//	"sending works", "sending would fail", "1 of 2 accounts failing",
//	"sending works from all 3 accounts", "this computer is offline",
//	"all 2 accounts paused until 15:00", "no accounts set up",
//	"sending works (checking again)", "1 of 4 accounts with a warning (2 paused, 1 not checked yet)".
//
// The combined state is st.State, or health.Combine's when it is "".
func Headline(st health.Status, now time.Time) string {
	n := len(st.Accounts)
	if n == 0 {
		return "no accounts set up"
	}
	state := st.State
	if state == "" {
		state = health.Combine(st.Accounts)
	}
	count := map[health.State]int{}
	pending := 0
	for _, a := range st.Accounts {
		switch {
		case confirming(a):
			pending++
		default:
			count[a.State]++
		}
	}
	counted := func(s health.State) int {
		k := 0
		for _, a := range st.Accounts {
			if a.State == s {
				k++
			}
		}
		return k
	}
	if state == health.Paused {
		head := "paused"
		if n > 1 {
			head = fmt.Sprintf("all %d accounts paused", n)
		}
		if end := PauseEnd(st); !end.IsZero() {
			head += " until " + Clock(end, now)
		}
		return head
	}
	var head string
	switch {
	case state == health.Offline:
		head = "this computer is offline"
	case state == health.Starting && pending > 0 && n == 1:
		return "first check failed, checking again"
	case state == health.Starting:
		head = "starting, not checked yet"
	case n == 1 && state == health.OK:
		head = "sending works"
	case n == 1 && state == health.Degraded:
		head = "sending works, with a warning"
	case n == 1 && state == health.Failing:
		head = "sending would fail"
	case state == health.Failing:
		head = fmt.Sprintf("%d of %d accounts failing", counted(health.Failing), n)
	case state == health.Degraded:
		head = fmt.Sprintf("%d of %d accounts with a warning", counted(health.Degraded), n)
	case state == health.OK && counted(health.OK) == n:
		head = fmt.Sprintf("sending works from all %d accounts", n)
	case state == health.OK:
		head = fmt.Sprintf("sending works from %d of %d accounts", counted(health.OK), n)
	default:
		head = string(state)
	}
	var also []string
	if n > 1 {
		if k := count[health.Paused]; k > 0 {
			also = append(also, fmt.Sprintf("%d paused", k))
		}
		if k := count[health.Starting]; k > 0 && state != health.Starting {
			also = append(also, fmt.Sprintf("%d not checked yet", k))
		}
	}
	switch {
	case pending > 0 && n == 1:
		also = append(also, "checking again")
	case pending > 0:
		also = append(also, fmt.Sprintf("%d checking again", pending))
	}
	if len(also) > 0 {
		head += " (" + strings.Join(also, ", ") + ")"
	}
	return head
}

// PauseEnd is when the paused accounts' pause ends, the latest of their
// ends; zero when one of them is paused until resumed, or none is paused.
func PauseEnd(st health.Status) time.Time {
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

// HeldNote says, for `smtpwatch status`, why an account whose credential
// was refused (AuthLocked) is not signed in again and how that ends; ""
// for an account that is not held. Lines are indented and end in a line
// break.
func HeldNote(a health.AccountStatus) string {
	if !a.AuthLocked {
		return ""
	}
	switch a.Cause {
	case probe.CauseOAuthSignInRequired, probe.CauseOAuthTokenRejected:
		return "    Nothing is sent until you sign in again: smtpwatch login " + a.Name + "\n" +
			"    (smtpwatch notices the new sign-in by itself).\n"
	case probe.CauseSMTPAuthDisabled:
		return "    Not tried again until the credential changes; once an administrator turns\n" +
			"    Authenticated SMTP on, \"smtpwatch status --refresh\" tries it now.\n"
	}
	return "    The password is not tried again until it changes, so the account is not locked;\n" +
		"    \"smtpwatch status --refresh\" tries it now.\n"
}

// NeedsSignIn reports whether the account waits for a new OAuth2 sign-in:
// it has none, the provider refused it, or the server refused its token.
// The tray offers "Sign in…" for such an account.
func NeedsSignIn(a health.AccountStatus) bool {
	switch a.Cause {
	case probe.CauseOAuthSignInRequired, probe.CauseOAuthTokenRejected:
		return a.State == health.Failing || a.State == health.Starting || a.Pending != ""
	}
	return false
}
