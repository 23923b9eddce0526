package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/history"
	"smtpwatch/monitor/probe"
)

func testApp() (*app, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &app{
		stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		getenv: func(string) string { return "" },
		logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}, &out, &errb
}

// writeTestHistory fills <dir>/history.db as the daemon would: charter
// had its password rejected three times in the last hour and recovered,
// gmail was fine; one offline check and one check of last week.
func writeTestHistory(t *testing.T, dir string) (now time.Time, events []health.Event) {
	t.Helper()
	ctx := context.Background()
	st, err := history.Open(ctx, filepath.Join(dir, "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now = time.Now().Truncate(time.Minute)
	rec := func(name string, ago time.Duration, cause probe.Cause, d time.Duration) {
		t.Helper()
		r := probe.Result{Name: name, Server: "smtp.example.net", Port: 587, Status: cause.Status(), Cause: cause,
			CheckedAt: now.Add(-ago), Duration: d}
		if cause == probe.CauseAuthRejected {
			r.SMTP = &probe.Reply{Code: 535, EnhancedCode: "5.7.8", Message: "authentication failed"}
		}
		if err := st.Record(ctx, r, true); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 10; i++ { // 100..1000 ms
		rec("charter", time.Duration(30+i)*time.Minute, probe.CauseOK, time.Duration(i)*100*time.Millisecond)
	}
	for i := range 3 {
		rec("charter", time.Duration(20-i)*time.Minute, probe.CauseAuthRejected, 400*time.Millisecond)
	}
	rec("charter", 15*time.Minute, probe.CauseOffline, time.Second)
	rec("charter", 7*24*time.Hour, probe.CauseDNSFailure, time.Second) // before --since 24h
	rec("gmail", 5*time.Minute, probe.CauseOK, 180*time.Millisecond)
	// work: the password was rejected three hours ago and has been ever
	// since, while the connection checks every minute succeed.
	recAuth := func(name string, ago time.Duration, cause probe.Cause, auth bool) {
		t.Helper()
		r := probe.Result{Name: name, Server: "smtp.example.org", Port: 587, Status: cause.Status(), Cause: cause,
			CheckedAt: now.Add(-ago), Duration: 200 * time.Millisecond}
		if err := st.Record(ctx, r, auth); err != nil {
			t.Fatal(err)
		}
	}
	recAuth("work", 3*time.Hour, probe.CauseAuthRejected, true)
	for i := 1; i < 180; i++ {
		recAuth("work", time.Duration(180-i)*time.Minute, probe.CauseOK, false)
	}
	workEvent := health.Event{Kind: health.EventTransition, Account: "work", From: health.Starting,
		To: health.Failing, Cause: probe.CauseAuthRejected, Message: "The server rejected the password.", At: now.Add(-3 * time.Hour)}
	if err := st.RecordEvent(ctx, workEvent); err != nil {
		t.Fatal(err)
	}

	events = []health.Event{
		{Kind: health.EventTransition, Account: "charter", From: health.OK, To: health.Failing,
			Cause: probe.CauseAuthRejected, Message: "The server rejected the password.", At: now.Add(-18 * time.Minute)},
		{Kind: health.EventRecovery, Account: "charter", From: health.Failing, To: health.OK,
			Cause: probe.CauseOK, Message: "Sending works again.", At: now.Add(-10 * time.Minute)},
	}
	for _, e := range append([]health.Event{{Kind: health.EventTransition, Account: "charter", From: health.Starting,
		To: health.OK, Cause: probe.CauseOK, At: now.Add(-7 * 24 * time.Hour)}}, events...) {
		if err := st.RecordEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	return now, append([]health.Event{workEvent}, events...)
}

func TestHistoryText(t *testing.T) {
	dir := t.TempDir()
	_, events := writeTestHistory(t, dir)
	a, out, errb := testApp()
	if code := a.history(context.Background(), []string{"--state-dir", dir}); code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errb)
	}
	at := func(e health.Event) string { return e.At.Local().Format("2006-01-02 15:04") }
	// charter: ok for the whole day but the 3 min from the rejection to
	// its newest check; gmail: no verdict recorded; work: rejected the
	// whole time, though 179 of its 180 checks connected.
	want := "charter   uptime  99.8 %   13 checks (+1 offline)   p50 500 ms  p95 1.0 s  p99 1.0 s     failures: auth_rejected 3\n" +
		"gmail     uptime     -     1 check                  p50 180 ms  p95 180 ms  p99 180 ms\n" +
		"work      uptime   0.0 %   180 checks               p50 200 ms  p95 200 ms  p99 200 ms   failures: auth_rejected 1\n" +
		"\n" +
		at(events[0]) + "  work     starting → failing   password rejected\n" +
		at(events[1]) + "  charter  ok → failing         password rejected (535 5.7.8)\n" +
		at(events[2]) + "  charter  failing → ok         OK\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}

	// One account, case aside, over the week: the old DNS failure and the
	// first transition appear.
	a, out, errb = testApp()
	if code := a.history(context.Background(), []string{"--state-dir", dir, "--account", "Charter", "--since", "8d"}); code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errb)
	}
	if s := out.String(); strings.Contains(s, "gmail") || !strings.Contains(s, "14 checks") ||
		!strings.Contains(s, "auth_rejected 3, dns_failure 1") || strings.Count(s, "charter") != 4 ||
		!strings.Contains(s, "starting → ok") {
		t.Errorf("--account Charter --since 8d:\n%s", s)
	}

	a, out, _ = testApp()
	if code := a.history(context.Background(), []string{"--state-dir", dir, "--account", "nobody"}); code != exitOK ||
		out.String() != "No checks of nobody in the last 24h.\n" {
		t.Errorf("unknown account: exit %d, %q", code, out)
	}
}

func TestHistoryJSON(t *testing.T) {
	dir := t.TempDir()
	now, events := writeTestHistory(t, dir)
	a, out, errb := testApp()
	if code := a.history(context.Background(), []string{"--state-dir", dir, "--json", "--since", "1d"}); code != exitOK {
		t.Fatalf("exit %d, stderr:\n%s", code, errb)
	}
	var got struct {
		Since    time.Time         `json:"since"`
		Accounts []history.Summary `json:"accounts"`
		Events   []health.Event    `json:"events"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if d := now.Add(-24 * time.Hour).Sub(got.Since); d > time.Minute || d < -time.Minute {
		t.Errorf("since %v, want about %v", got.Since, now.Add(-24*time.Hour))
	}
	if len(got.Accounts) != 3 {
		t.Fatalf("accounts: %+v", got.Accounts)
	}
	if w := got.Accounts[2]; w.Account != "work" || w.Working != 179 || w.Probes != 180 || w.Uptime != 0 ||
		w.TimeFailing != 179*time.Minute || w.TimeWorking != 0 {
		t.Errorf("work, rejected the whole time: %+v; want 0 %% uptime, failing from the rejection to the newest check", w)
	}
	c := got.Accounts[0]
	if c.Account != "charter" || c.Probes != 13 || c.Working != 10 || c.Offline != 1 ||
		c.P50 != 500*time.Millisecond || c.Failures[probe.CauseAuthRejected] != 3 {
		t.Errorf("charter: %+v", c)
	}
	if len(got.Events) != 3 || got.Events[1].To != health.Failing || !got.Events[2].At.Equal(events[2].At) ||
		got.Events[1].Message != events[1].Message || got.Events[0].Account != "work" {
		t.Errorf("events: %+v", got.Events)
	}
	for _, key := range []string{`"uptime_percent"`, `"time_failing_ms": 10740000`, `"p95_ms": 1000`, `"failures": {`, `"kind": "recovery"`} {
		if !strings.Contains(out.String(), key) {
			t.Errorf("JSON lacks %s:\n%s", key, out)
		}
	}
}

func TestHistoryWithoutDatabase(t *testing.T) {
	dir := t.TempDir()
	a, out, errb := testApp()
	if code := a.history(context.Background(), []string{"--state-dir", dir}); code != exitUnknown {
		t.Errorf("exit %d, want %d", code, exitUnknown)
	}
	if !strings.Contains(errb.String(), "no history yet") || !strings.Contains(errb.String(), "smtpwatch run") || out.Len() > 0 {
		t.Errorf("stderr %q, stdout %q", errb, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "history.db")); err == nil {
		t.Error("history created the database")
	}
}

func TestHistoryStateDirFromConfig(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	writeTestHistory(t, state)
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("state_dir = \"state\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, out, errb := testApp()
	if code := a.history(context.Background(), []string{"--config", cfg}); code != exitOK || !strings.Contains(out.String(), "charter") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errb)
	}
}

func TestHistoryBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--since", "yesterday"},
		{"--since", "0s"},
		{"--config", filepath.Join(t.TempDir(), "missing.toml")},
		{"extra"},
	} {
		a, _, errb := testApp()
		if code := a.history(context.Background(), args); code != exitUnknown || errb.Len() == 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, errb)
		}
	}
}

// TestHistoryWhileDaemonWrites reads the database while a store still
// holds it open for writing, as `smtpwatch run` does.
func TestHistoryWhileDaemonWrites(t *testing.T) {
	dir := t.TempDir()
	writeTestHistory(t, dir)
	ctx := context.Background()
	st, err := history.Open(ctx, filepath.Join(dir, "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := probe.Result{Name: "outlook", Status: probe.StatusOK, Cause: probe.CauseOK, CheckedAt: time.Now(), Duration: time.Second}
	if err := st.Record(ctx, r, false); err != nil {
		t.Fatal(err)
	}
	a, out, errb := testApp()
	if code := a.history(ctx, []string{"--state-dir", dir}); code != exitOK || !strings.Contains(out.String(), "outlook") {
		t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s", code, out, errb)
	}
	if err := st.Record(ctx, r, false); err != nil {
		t.Errorf("the daemon cannot write after history read: %v", err)
	}
}
