package main

// `smtpwatch status`, `pause` and `resume` ask the running daemon, over its
// local API (monitor/api), instead of probing themselves.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/paths"
	"smtpwatch/monitor/report"
)

const (
	apiTimeout     = 10 * time.Second // one status, pause or resume request
	refreshTimeout = 3 * time.Minute  // status --refresh waits for the checks themselves
)

// socketFlag adds --socket to a daemon command's flags.
func socketFlag(fl *flag.FlagSet) *string {
	return fl.String("socket", "", "`path` of the daemon's API socket (default: smtpwatch.sock in the per-user runtime directory)")
}

// daemonClient is a client of the daemon at socket, or at the default path.
func daemonClient(socket string) (*api.Client, error) {
	socket, err := resolveSocket(socket)
	if err != nil {
		return nil, err
	}
	return api.NewClient(socket), nil
}

// resolveSocket is the --socket value, or the default path when it is "".
func resolveSocket(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	p, err := paths.SocketPath()
	if err != nil {
		return "", fmt.Errorf("finding the daemon's socket: %w", err)
	}
	return p, nil
}

// daemonFail reports an error from the daemon, with what to do when it is
// not running.
func (a *app) daemonFail(err error) int {
	if errors.Is(err, api.ErrNotRunning) {
		return a.fail("%v.\nStart it with \"smtpwatch run\" (or install it: \"smtpwatch service install\"); \"smtpwatch check\" works without it.", err)
	}
	return a.fail("%v", err)
}

// status prints the daemon's view of every account: a headline, then one
// line per account. The exit status follows the combined state: 0 ok,
// 1 degraded, 2 failing, 3 anything else (offline, paused, starting, or the
// daemon could not be asked).
func (a *app) status(ctx context.Context, args []string) int {
	fl := a.flags("status", "status [--json] [--refresh] [--socket PATH]")
	asJSON := fl.Bool("json", false, "print the daemon's status as JSON")
	refresh := fl.Bool("refresh", false, "check every account now and wait for the results; this also retries a rejected password")
	socket := socketFlag(fl)
	if code, ok := parse(fl, args); !ok {
		return code
	}
	c, err := daemonClient(*socket)
	if err != nil {
		return a.fail("%v", err)
	}
	defer c.Close()
	if *refresh {
		rctx, cancel := context.WithTimeout(ctx, refreshTimeout)
		_, err := c.Check(rctx, "")
		cancel()
		if err != nil {
			return a.daemonFail(err)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	st, err := c.Status(sctx)
	if err != nil {
		return a.daemonFail(err)
	}
	if st.State == "" {
		st.State = health.Combine(st.Accounts)
	}
	if st.Accounts == nil {
		st.Accounts = []health.AccountStatus{}
	}
	if *asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(st)
	} else {
		_, err = io.WriteString(a.stdout, statusText(st, time.Now()))
	}
	if err != nil {
		return a.fail("%v", err)
	}
	return stateExit(st.State)
}

// stateExit is the exit status for a combined state.
func stateExit(s health.State) int {
	switch s {
	case health.OK:
		return exitOK
	case health.Degraded:
		return exitDegraded
	case health.Failing:
		return exitFailing
	}
	return exitUnknown
}

// statusText is the human form of the status at time now; its words are
// report's, the same as the tray's:
//
//	smtpwatch: 1 of 2 accounts failing
//	✗ Charter — password rejected (since 14:02, checked 1 min ago)
//	✓ Work — OK, 180 ms (checked 2 min ago)
func statusText(st health.Status, now time.Time) string {
	var b strings.Builder
	b.WriteString("smtpwatch: " + report.Headline(st, now) + "\n")
	names := report.DisplayNames(st.Accounts)
	var attention []string
	for i, acc := range st.Accounts {
		b.WriteString(accountLine(acc, names[i], now) + "\n")
		if note := report.HeldNote(acc); note != "" {
			b.WriteString(note)
		}
		if acc.State == health.Failing || acc.State == health.Degraded {
			attention = append(attention, acc.Name)
		}
	}
	if len(attention) > 0 {
		b.WriteString("What to change: smtpwatch check --account " + strings.Join(attention, ",") + "\n")
	}
	for _, c := range st.Channels {
		if line := channelLine(c, now); line != "" {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// channelLine says an alert channel that fails, "" for one that works:
//
//	✗ alerts to hook (webhook) FAIL since 14:02: connection refused; 2 given up, 1 waiting
func channelLine(c health.ChannelStatus, now time.Time) string {
	if !c.Failing {
		return ""
	}
	line := fmt.Sprintf("%s alerts to %s (%s) FAIL since %s: %s", report.StateSymbol(health.Failing), c.Name, c.Kind, report.Clock(c.Since, now), c.Error)
	var notes []string
	if c.Dropped > 0 {
		notes = append(notes, fmt.Sprintf("%d given up", c.Dropped))
	}
	if c.Queued > 0 {
		notes = append(notes, fmt.Sprintf("%d waiting", c.Queued))
	}
	if len(notes) > 0 {
		line += "; " + strings.Join(notes, ", ")
	}
	return line + "\n    Test it: smtpwatch notify test " + c.Name
}

// accountLine is one account: symbol, name, what is true of it, since
// when, last check.
func accountLine(a health.AccountStatus, name string, now time.Time) string {
	what := report.Summary(a, now)
	if l := report.Latency(a); l != "" {
		what += ", " + l
	}
	var notes []string
	switch a.State {
	case health.OK, health.Paused, health.Starting:
	default:
		if !a.Since.IsZero() {
			notes = append(notes, "since "+report.Clock(a.Since, now))
		}
	}
	if ago := report.Checked(a, now); ago != "" && a.State != health.Paused {
		notes = append(notes, "checked "+ago)
	}
	line := fmt.Sprintf("%s %s — %s", report.StateSymbol(a.State), name, what)
	if len(notes) > 0 {
		line += " (" + strings.Join(notes, ", ") + ")"
	}
	return line
}

// pause suspends checks and alarms: `smtpwatch pause [DURATION] [--account
// NAME]`. DURATION is a Go duration ("30m", "1h30m"), whole days ("2d"),
// or "tomorrow": until the next local 08:00 (today's, when run before
// 08:00). Without one, the pause lasts until `smtpwatch resume`.
func (a *app) pause(ctx context.Context, args []string) int {
	fl := a.flags("pause", "pause [DURATION | tomorrow] [--account NAME] [--socket PATH]")
	account := fl.String("account", "", "pause only the account `NAME` (default: all)")
	socket := socketFlag(fl)
	pos, code, ok := parseWithArgs(fl, args)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		return a.fail("pause: one duration at most, got %q", pos)
	}
	now := time.Now()
	var until time.Time
	var d time.Duration
	if len(pos) == 1 {
		var err error
		if d, until, err = pauseLength(pos[0], now); err != nil {
			return a.fail("pause: %v", err)
		}
	}
	c, err := daemonClient(*socket)
	if err != nil {
		return a.fail("%v", err)
	}
	defer c.Close()
	rctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	if !until.IsZero() {
		err = c.PauseUntil(rctx, *account, until)
	} else {
		err = c.Pause(rctx, *account, d)
	}
	if err != nil {
		return a.daemonFail(err)
	}
	who := "all accounts"
	if *account != "" {
		who = *account
	}
	switch {
	case !until.IsZero():
		fmt.Fprintf(a.stdout, "smtpwatch: paused %s until %s\n", who, report.Clock(until, now))
	case d > 0:
		fmt.Fprintf(a.stdout, "smtpwatch: paused %s for %s (until %s)\n", who, pos[0], report.Clock(now.Add(d), now))
	default:
		fmt.Fprintf(a.stdout, "smtpwatch: paused %s until \"smtpwatch resume\"\n", who)
	}
	return exitOK
}

// pauseLength reads pause's DURATION: a duration, or the time "tomorrow"
// means.
func pauseLength(s string, now time.Time) (time.Duration, time.Time, error) {
	if strings.EqualFold(s, "tomorrow") {
		return 0, health.NextMorning(now), nil
	}
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		if n, nerr := strconv.Atoi(days); nerr == nil && n > 0 && n <= 366 {
			d, err = time.Duration(n)*24*time.Hour, nil
		}
	}
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("%q is not a duration: use e.g. 30m, 2h, 2d or tomorrow", s)
	}
	if d <= 0 {
		return 0, time.Time{}, fmt.Errorf("%q: the duration must be positive", s)
	}
	return d, time.Time{}, nil
}

// resume ends a pause: `smtpwatch resume [--account NAME]`.
func (a *app) resume(ctx context.Context, args []string) int {
	fl := a.flags("resume", "resume [--account NAME] [--socket PATH]")
	account := fl.String("account", "", "resume only the account `NAME` (default: all)")
	socket := socketFlag(fl)
	if code, ok := parse(fl, args); !ok {
		return code
	}
	c, err := daemonClient(*socket)
	if err != nil {
		return a.fail("%v", err)
	}
	defer c.Close()
	rctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	if err := c.Resume(rctx, *account); err != nil {
		return a.daemonFail(err)
	}
	who := "all accounts"
	if *account != "" {
		who = *account
	}
	fmt.Fprintf(a.stdout, "smtpwatch: resumed %s\n", who)
	return exitOK
}

// parseWithArgs parses flags that may come before, between or after
// positional arguments, and returns the positional ones; like parse, it
// returns false (after printing why) on bad flags or a request for help.
func parseWithArgs(fl *flag.FlagSet, args []string) ([]string, int, bool) {
	var pos []string
	for {
		err := fl.Parse(args)
		if err != nil || fl.NArg() == 0 {
			code, ok := parsed(fl, err, false)
			return pos, code, ok
		}
		pos = append(pos, fl.Arg(0))
		args = fl.Args()[1:]
	}
}
