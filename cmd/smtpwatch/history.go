package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/history"
	"smtpwatch/monitor/paths"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/report"
)

// historyFile is the daemon's database in the state directory.
const historyFile = "history.db"

// history prints how each account has done: uptime, latency and failures
// per account, then the state changes, from the daemon's database. It
// opens the database read-only, so it is safe while the daemon writes.
func (a *app) history(ctx context.Context, args []string) int {
	var (
		account, sinceArg, configPath, stateDir string
		asJSON                                  bool
	)
	fl := a.flags("history", "history [--account NAME] [--since 24h|7d] [--json] [--config FILE] [--state-dir DIR]")
	fl.StringVar(&account, "account", "", "show only this account (`name`)")
	fl.StringVar(&sinceArg, "since", "24h", "how far back: a `duration` like 90m, 24h or 7d")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	fl.StringVar(&configPath, "config", "", "config `file` whose state_dir to read (default: the user config dir's smtpwatch/config.toml)")
	fl.StringVar(&stateDir, "state-dir", "", "read the history in this `directory` instead of the config's")
	if code, ok := parse(fl, args); !ok {
		return code
	}
	window, err := config.ParseDuration(sinceArg)
	if err != nil || window <= 0 {
		return a.fail("--since %q: want a positive duration like 90m, 24h or 7d", sinceArg)
	}
	if stateDir == "" {
		if stateDir, err = historyStateDir(configPath); err != nil {
			return a.fail("%v", err)
		}
	}
	dbPath := filepath.Join(stateDir, historyFile)
	st, err := history.OpenReadOnly(ctx, dbPath)
	if errors.Is(err, fs.ErrNotExist) {
		return a.fail("no history yet in %s: is `smtpwatch run` running?", stateDir)
	}
	if err != nil {
		return a.fail("%v", err)
	}
	defer st.Close()

	since := time.Now().Add(-window)
	sums, err := st.Summaries(ctx, account, since)
	if err != nil {
		return a.fail("%v", err)
	}
	events, err := st.Events(ctx, account, since)
	if err != nil {
		return a.fail("%v", err)
	}
	if asJSON {
		return a.historyJSON(since, sums, events)
	}
	// The SMTP reply that explains each change to a failing state, from
	// the check at that moment.
	replies := make([]string, len(events))
	for i, e := range events {
		if e.To != health.Failing {
			continue
		}
		r, ok, err := st.ResultAt(ctx, e.Account, e.At)
		if err != nil {
			return a.fail("%v", err)
		}
		if ok && r.SMTP != nil && r.Cause == e.Cause {
			replies[i] = smtpCodes(*r.SMTP)
		}
	}
	writeHistory(a.stdout, account, sinceArg, sums, events, replies)
	return exitOK
}

// historyStateDir is the state directory of the config at path ("" for the
// default config), or the OS default when the config sets none or the
// default config file does not exist.
func historyStateDir(path string) (string, error) {
	explicit := path != ""
	if !explicit {
		p, err := config.DefaultPath()
		if err != nil {
			return paths.StateDir()
		}
		path = p
	}
	cfg, err := config.Load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		return paths.StateDir()
	case err != nil:
		return "", err
	case cfg.StateDir != "":
		return cfg.StateDir, nil
	}
	return paths.StateDir()
}

func (a *app) historyJSON(since time.Time, sums []history.Summary, events []health.Event) int {
	if sums == nil {
		sums = []history.Summary{}
	}
	if events == nil {
		events = []health.Event{}
	}
	out := struct {
		Since    time.Time         `json:"since"`
		Accounts []history.Summary `json:"accounts"`
		Events   []health.Event    `json:"events"`
	}{since, sums, events}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return a.fail("%v", err)
	}
	return exitOK
}

// writeHistory prints one line per account, then the changes, newest last:
//
//	charter   uptime 99.2 %   127 checks   p50 180 ms  p95 420 ms  p99 1.2 s   failures: auth_rejected 3
//
// Uptime is the share of the time the account's health said sending works
// (history.Summary): a password rejected the whole time is 0 % however
// many connection checks succeed.
//
//	2026-11-28 14:02  charter  ok → failing   password rejected (535 5.7.8)
func writeHistory(w io.Writer, account, window string, sums []history.Summary, events []health.Event, replies []string) {
	if len(sums) == 0 && len(events) == 0 {
		if account != "" {
			fmt.Fprintf(w, "No checks of %s in the last %s.\n", account, window)
		} else {
			fmt.Fprintf(w, "No checks in the last %s.\n", window)
		}
		return
	}
	var buf bytes.Buffer
	defer func() {
		// tabwriter pads the cell before an empty last one.
		for _, line := range strings.SplitAfter(buf.String(), "\n") {
			io.WriteString(w, strings.TrimRight(line, " \n")+strings.Repeat("\n", strings.Count(line, "\n")))
		}
	}()
	tw := tabwriter.NewWriter(&buf, 0, 0, 3, ' ', 0)
	for _, s := range sums {
		uptime := "uptime     -  " // no verdict in the window: offline, paused or starting
		if s.Known() {
			uptime = fmt.Sprintf("uptime %5.1f %%", s.Uptime)
		}
		checks := fmt.Sprintf("%d checks", s.Probes)
		if s.Probes == 1 {
			checks = "1 check"
		}
		if s.Offline > 0 {
			checks += fmt.Sprintf(" (+%d offline)", s.Offline)
		}
		latency := "p50 -  p95 -  p99 -"
		if s.Working > 0 {
			latency = fmt.Sprintf("p50 %s  p95 %s  p99 %s", humanDuration(s.P50), humanDuration(s.P95), humanDuration(s.P99))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Account, uptime, checks, latency, failureList(s.Failures))
	}
	tw.Flush()
	if len(events) == 0 {
		return
	}
	fmt.Fprintln(&buf)
	tw = tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	for i, e := range events {
		change := fmt.Sprintf("%s → %s", e.From, e.To)
		if e.Kind == health.EventReminder {
			change = "still " + string(e.To)
		}
		why := report.CauseWords(e.Cause)
		if replies[i] != "" {
			why += " (" + replies[i] + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s \t%s\n", e.At.Local().Format("2006-01-02 15:04"), e.Account, change, why)
	}
	tw.Flush()
}

// failureList is "failures: auth_rejected 3, dns_failure 1", most frequent
// first; "" when none.
func failureList(f map[probe.Cause]int) string {
	if len(f) == 0 {
		return ""
	}
	causes := make([]probe.Cause, 0, len(f))
	for c := range f {
		causes = append(causes, c)
	}
	sort.Slice(causes, func(i, j int) bool {
		if f[causes[i]] != f[causes[j]] {
			return f[causes[i]] > f[causes[j]]
		}
		return causes[i] < causes[j]
	})
	parts := make([]string, len(causes))
	for i, c := range causes {
		parts[i] = fmt.Sprintf("%s %d", c, f[c])
	}
	return "failures: " + strings.Join(parts, ", ")
}

// humanDuration is "180 ms" below a second, "1.2 s" above.
func humanDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// smtpCodes is "535 5.7.8", the codes of a reply without its text.
func smtpCodes(r probe.Reply) string {
	if r.EnhancedCode != "" {
		return fmt.Sprintf("%d %s", r.Code, r.EnhancedCode)
	}
	return fmt.Sprint(r.Code)
}
