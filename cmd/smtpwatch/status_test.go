package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

// statusEngine stands in for the daemon's engine behind a real API server
// on a real socket: api.Engine is the seam the API declares.
type statusEngine struct {
	mu      sync.Mutex
	status  health.Status
	after   *health.Status // the status once Check has run, if set
	checks  []string
	pauses  []statusPause
	resumes []string
}

type statusPause struct {
	account string
	until   time.Time
}

func (e *statusEngine) Status() health.Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status
}

func (e *statusEngine) Subscribe(ctx context.Context) <-chan health.Event {
	ch := make(chan health.Event)
	context.AfterFunc(ctx, func() { close(ch) })
	return ch
}

func (e *statusEngine) known(account string) error {
	for _, a := range e.status.Accounts {
		if a.Name == account {
			return nil
		}
	}
	if account == "" {
		return nil
	}
	return fmt.Errorf("%w %q", api.ErrUnknownAccount, account)
}

func (e *statusEngine) Check(ctx context.Context, account string) ([]probe.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.known(account); err != nil {
		return nil, err
	}
	e.checks = append(e.checks, account)
	if e.after != nil {
		e.status = *e.after
	}
	var rs []probe.Result
	for _, a := range e.status.Accounts {
		if a.Last != nil {
			rs = append(rs, *a.Last)
		}
	}
	return rs, nil
}

func (e *statusEngine) Pause(account string, until time.Time) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.known(account); err != nil {
		return err
	}
	e.pauses = append(e.pauses, statusPause{account, until})
	return nil
}

func (e *statusEngine) Resume(account string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.known(account); err != nil {
		return err
	}
	e.resumes = append(e.resumes, account)
	return nil
}

// startDaemonAPI serves eng on a socket in a temp dir until the test ends.
func startDaemonAPI(t *testing.T, eng *statusEngine) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "smtpwatch.sock")
	ln, err := api.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- api.Serve(ctx, ln, eng, nil, nil) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("the API server did not stop within 5 s")
		}
	})
	return path
}

// runCmd runs one of the daemon commands with captured output, bounded.
func runCmd(t *testing.T, cmd func(*app, context.Context, []string) int, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{
		stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		getenv: func(string) string { return "" },
		logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code = cmd(a, ctx, args)
	return code, out.String(), errb.String()
}

// twoAccounts: Charter's password rejected since 10 minutes ago, checked
// 90 s ago and locked out; Work fine.
func twoAccounts(now time.Time) health.Status {
	charter := probe.Result{Name: "charter", Provider: "Charter", Status: probe.StatusFailing, Cause: probe.CauseAuthRejected,
		CheckedAt: now.Add(-90 * time.Second), Duration: 196 * time.Millisecond}
	work := probe.Result{Name: "work", Status: probe.StatusOK, Cause: probe.CauseOK,
		CheckedAt: now.Add(-150 * time.Second), Duration: 180 * time.Millisecond}
	return health.Status{State: health.Failing, Accounts: []health.AccountStatus{
		{Name: "charter", Provider: "Charter", State: health.Failing, Cause: probe.CauseAuthRejected, Since: now.Add(-10 * time.Minute), AuthLocked: true, Last: &charter},
		{Name: "work", State: health.OK, Cause: probe.CauseOK, Since: now.Add(-time.Hour), Last: &work},
	}}
}

func TestStatusText(t *testing.T) {
	eng := &statusEngine{status: twoAccounts(time.Now())}
	sock := startDaemonAPI(t, eng)
	code, out, errs := runCmd(t, (*app).status, "--socket", sock)
	if code != exitFailing {
		t.Errorf("exit %d, want %d (failing); stderr %s", code, exitFailing, errs)
	}
	lines := strings.Split(out, "\n")
	want := []*regexp.Regexp{
		regexp.MustCompile(`^smtpwatch: 1 of 2 accounts failing$`),
		regexp.MustCompile(`^✗ Charter — password rejected \(since (yesterday )?\d\d:\d\d, checked 1 min ago\)$`),
		regexp.MustCompile(`^    The password is not tried again until it changes`),
		regexp.MustCompile(`^    "smtpwatch status --refresh" tries it now\.$`),
		regexp.MustCompile(`^✓ work — OK, 180 ms \(checked 2 min ago\)$`),
		regexp.MustCompile(`^What to change: smtpwatch check --account charter$`),
	}
	if len(lines) < len(want) {
		t.Fatalf("output:\n%s", out)
	}
	for i, re := range want {
		if !re.MatchString(lines[i]) {
			t.Errorf("line %d: %q, want %v\nall:\n%s", i+1, lines[i], re, out)
		}
	}
}

func TestStatusJSON(t *testing.T) {
	eng := &statusEngine{status: twoAccounts(time.Now())}
	sock := startDaemonAPI(t, eng)
	code, out, _ := runCmd(t, (*app).status, "--json", "--socket", sock)
	if code != exitFailing {
		t.Errorf("exit %d, want %d", code, exitFailing)
	}
	var st health.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	if st.State != health.Failing || len(st.Accounts) != 2 || st.Accounts[0].Cause != probe.CauseAuthRejected ||
		!st.Accounts[0].AuthLocked || st.Accounts[1].Last == nil || st.Accounts[1].Last.Duration != 180*time.Millisecond {
		t.Errorf("got %+v", st)
	}
}

func TestStatusExitCodes(t *testing.T) {
	for _, tt := range []struct {
		state health.State
		code  int
	}{
		{health.OK, 0}, {health.Degraded, 1}, {health.Failing, 2},
		{health.Offline, 3}, {health.Paused, 3}, {health.Starting, 3},
	} {
		t.Run(string(tt.state), func(t *testing.T) {
			eng := &statusEngine{status: health.Status{State: tt.state, Accounts: []health.AccountStatus{{Name: "a", State: tt.state}}}}
			sock := startDaemonAPI(t, eng)
			for _, args := range [][]string{{"--socket", sock}, {"--json", "--socket", sock}} {
				if code, out, errs := runCmd(t, (*app).status, args...); code != tt.code {
					t.Errorf("%q: exit %d, want %d\n%s%s", args, code, tt.code, out, errs)
				}
			}
		})
	}
}

func TestStatusRefresh(t *testing.T) {
	now := time.Now()
	before := twoAccounts(now)
	fixed := twoAccounts(now)
	fixed.State = health.OK
	fixed.Accounts[0].State, fixed.Accounts[0].Cause, fixed.Accounts[0].AuthLocked = health.OK, probe.CauseOK, false
	eng := &statusEngine{status: before, after: &fixed}
	sock := startDaemonAPI(t, eng)

	code, out, errs := runCmd(t, (*app).status, "--refresh", "--socket", sock)
	if code != exitOK {
		t.Errorf("exit %d, want 0 after the refresh; stderr %s", code, errs)
	}
	if !strings.HasPrefix(out, "smtpwatch: sending works from all 2 accounts\n✓ Charter — OK") {
		t.Errorf("output after refresh:\n%s", out)
	}
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if len(eng.checks) != 1 || eng.checks[0] != "" {
		t.Errorf("checks %q, want one of every account", eng.checks)
	}
}

func TestStatusDaemonNotRunning(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "smtpwatch.sock")
	for _, cmd := range []struct {
		name string
		run  func(*app, context.Context, []string) int
	}{{"status", (*app).status}, {"pause", (*app).pause}, {"resume", (*app).resume}} {
		code, out, errs := runCmd(t, cmd.run, "--socket", sock)
		if code != exitUnknown || out != "" {
			t.Errorf("%s: exit %d, stdout %q; want 3 and nothing", cmd.name, code, out)
		}
		if !strings.Contains(errs, "smtpwatch daemon is not running") || !strings.Contains(errs, sock) || !strings.Contains(errs, "smtpwatch run") {
			t.Errorf("%s: stderr %q, want it to say the daemon is not running, where, and how to start it", cmd.name, errs)
		}
	}
}

func TestStatusBadFlags(t *testing.T) {
	if code, _, errs := runCmd(t, (*app).status, "--bogus"); code != exitUnknown || !strings.Contains(errs, "-bogus") {
		t.Errorf("exit %d, %q", code, errs)
	}
	if code, _, _ := runCmd(t, (*app).status, "extra"); code != exitUnknown {
		t.Errorf("extra argument: exit %d", code)
	}
	if code, _, _ := runCmd(t, (*app).status, "--help"); code != exitOK {
		t.Errorf("--help: exit %d", code)
	}
}

func TestPauseAndResume(t *testing.T) {
	eng := &statusEngine{status: twoAccounts(time.Now())}
	sock := startDaemonAPI(t, eng)
	tests := []struct {
		args []string
		out  string // a prefix
	}{
		{[]string{"--socket", sock}, `smtpwatch: paused all accounts until "smtpwatch resume"`},
		{[]string{"1h", "--account", "charter", "--socket", sock}, "smtpwatch: paused charter for 1h (until "},
		{[]string{"--socket", sock, "--account", "work", "tomorrow"}, "smtpwatch: paused work until "},
		{[]string{"--socket", sock, "2d"}, "smtpwatch: paused all accounts for 2d (until "},
	}
	start := time.Now()
	for _, tt := range tests {
		code, out, errs := runCmd(t, (*app).pause, tt.args...)
		if code != exitOK || !strings.HasPrefix(out, tt.out) {
			t.Errorf("pause %q: exit %d, %q%s; want 0 and %q", tt.args, code, out, errs, tt.out)
		}
	}
	code, out, _ := runCmd(t, (*app).resume, "--account", "charter", "--socket", sock)
	if code != exitOK || out != "smtpwatch: resumed charter\n" {
		t.Errorf("resume: %d %q", code, out)
	}
	end := time.Now()

	eng.mu.Lock()
	defer eng.mu.Unlock()
	if len(eng.pauses) != 4 {
		t.Fatalf("pauses %+v", eng.pauses)
	}
	p := eng.pauses
	if p[0].account != "" || !p[0].until.IsZero() {
		t.Errorf("no duration reached the daemon as %+v, want all until resumed", p[0])
	}
	if p[1].account != "charter" || p[1].until.Before(start.Add(time.Hour)) || p[1].until.After(end.Add(time.Hour)) {
		t.Errorf("1h reached the daemon as %+v", p[1])
	}
	if u := p[2].until.Local(); p[2].account != "work" || u.Hour() != 8 || u.Minute() != 0 || !u.After(start) || u.Sub(start) > 24*time.Hour {
		t.Errorf("tomorrow reached the daemon as %+v, want the next 08:00", p[2])
	}
	if p[3].until.Sub(start) < 48*time.Hour-time.Second || p[3].until.Sub(end) > 48*time.Hour {
		t.Errorf("2d reached the daemon as %+v", p[3])
	}
	if len(eng.resumes) != 1 || eng.resumes[0] != "charter" {
		t.Errorf("resumes %q", eng.resumes)
	}
}

func TestPauseRefusals(t *testing.T) {
	eng := &statusEngine{status: twoAccounts(time.Now())}
	sock := startDaemonAPI(t, eng)
	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{"banana"}, `"banana" is not a duration`},
		{[]string{"-5m"}, "flag provided but not defined: --5m"},
		{[]string{"0s"}, "must be positive"},
		{[]string{"1h", "2h"}, "one duration at most"},
		{[]string{"1h", "--account", "nobody"}, `unknown account "nobody"`},
	} {
		code, out, errs := runCmd(t, (*app).pause, append(tt.args, "--socket", sock)...)
		if code != exitUnknown || out != "" || !strings.Contains(errs, tt.err) {
			t.Errorf("pause %q: exit %d, stdout %q, stderr %q; want 3 and %q", tt.args, code, out, errs, tt.err)
		}
	}
	if code, _, errs := runCmd(t, (*app).resume, "--account", "nobody", "--socket", sock); code != exitUnknown || !strings.Contains(errs, `unknown account "nobody"`) {
		t.Errorf("resume nobody: %d %q", code, errs)
	}
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if len(eng.pauses) != 0 {
		t.Errorf("refused pauses reached the daemon: %+v", eng.pauses)
	}
}

func TestPauseLength(t *testing.T) {
	now := time.Date(2026, 3, 4, 14, 0, 0, 0, time.Local)
	for _, tt := range []struct {
		in    string
		d     time.Duration
		until time.Time
		bad   bool
	}{
		{in: "30m", d: 30 * time.Minute},
		{in: "1h30m", d: 90 * time.Minute},
		{in: "2d", d: 48 * time.Hour},
		{in: "Tomorrow", until: time.Date(2026, 3, 5, 8, 0, 0, 0, time.Local)},
		{in: "0d", bad: true}, {in: "400d", bad: true}, {in: "d", bad: true},
		{in: "-1h", bad: true}, {in: "", bad: true}, {in: "1.5d", bad: true},
	} {
		d, until, err := pauseLength(tt.in, now)
		if (err != nil) != tt.bad || d != tt.d || !until.Equal(tt.until) {
			t.Errorf("%q: %v %v %v", tt.in, d, until, err)
		}
	}
}

// statusText is pure: these cases run on a fixed clock.
func TestStatusTextCases(t *testing.T) {
	now := time.Date(2026, 3, 4, 14, 5, 0, 0, time.Local)
	last := func(ago time.Duration) *probe.Result {
		return &probe.Result{CheckedAt: now.Add(-ago), Duration: 40 * time.Millisecond}
	}
	tests := []struct {
		name string
		st   health.Status
		want string
	}{
		{"no accounts", health.Status{State: health.Starting}, "smtpwatch: no accounts set up\n"},
		{"one ok", health.Status{State: health.OK, Accounts: []health.AccountStatus{
			{Name: "work", State: health.OK, Cause: probe.CauseOK, Last: last(10 * time.Second)}}},
			"smtpwatch: sending works\n✓ work — OK, 40 ms (checked just now)\n"},
		{"offline", health.Status{State: health.Offline, Accounts: []health.AccountStatus{
			{Name: "work", State: health.Offline, Cause: probe.CauseOffline, Since: now.Add(-25 * time.Hour), Last: last(3 * time.Hour)}}},
			"smtpwatch: this computer is offline\n○ work — this computer is offline (since yesterday 13:05, checked 3 h ago)\n"},
		{"paused and starting", health.Status{State: health.Degraded, Accounts: []health.AccountStatus{
			{Name: "a", Provider: "Gmail", State: health.Degraded, Cause: probe.CauseCertificateExpiring, Since: now.Add(-72 * time.Hour), Last: last(3 * 24 * time.Hour)},
			{Name: "b", Provider: "Gmail", State: health.Paused, PausedUntil: time.Date(2026, 3, 5, 8, 0, 0, 0, time.Local)},
			{Name: "c", State: health.Paused},
			{Name: "d", State: health.Starting},
		}},
			"smtpwatch: 1 of 4 accounts with a warning (2 paused, 1 not checked yet)\n" +
				"! Gmail (a) — certificate expires soon (since Mar 1 14:05, checked 3 days ago)\n" +
				"‖ Gmail (b) — paused until tomorrow 08:00\n" +
				"‖ c — paused until resumed\n" +
				"… d — not checked yet\n" +
				"What to change: smtpwatch check --account a\n"},
		{"all paused", health.Status{State: health.Paused, Accounts: []health.AccountStatus{{Name: "a", State: health.Paused}, {Name: "b", State: health.Paused}}},
			"smtpwatch: all 2 accounts paused\n‖ a — paused until resumed\n‖ b — paused until resumed\n"},
		{"intermittent", health.Status{State: health.Degraded, Accounts: []health.AccountStatus{
			{Name: "a", State: health.Degraded, Cause: health.CauseIntermittent, Since: now.Add(-time.Minute)}}},
			"smtpwatch: sending works, with a warning\n! a — works only some of the time (since 14:04)\nWhat to change: smtpwatch check --account a\n"},
		// While the daemon confirms a failed check, the line says so rather
		// than "OK (checked just now)"; the state, and the exit status, stay.
		{"a failure being confirmed", health.Status{State: health.OK, Accounts: []health.AccountStatus{
			{Name: "work", State: health.OK, Cause: probe.CauseOK, Pending: probe.CauseConnectionRefused, Last: last(5 * time.Second)}}},
			"smtpwatch: sending works (checking again)\n✓ work — checking again — last check failed: connection refused (checked just now)\n"},
		{"the first check failed", health.Status{State: health.Starting, Accounts: []health.AccountStatus{
			{Name: "work", State: health.Starting, Pending: probe.CauseAuthRejected, Last: last(5 * time.Second)}}},
			"smtpwatch: first check failed, checking again\n… work — checking again — first check failed: password rejected (checked just now)\n"},
		{"a recovery being confirmed", health.Status{State: health.Failing, Accounts: []health.AccountStatus{
			{Name: "work", State: health.Failing, Cause: probe.CauseConnectionTimeout, Since: now.Add(-time.Hour), Pending: probe.CauseOK, Last: last(5 * time.Second)}}},
			"smtpwatch: sending would fail (checking again)\n✗ work — port blocked or unreachable — checking again: last check worked (since 13:05, checked just now)\nWhat to change: smtpwatch check --account work\n"},
		// An alert channel that fails says so, and how to test it; one that
		// works says nothing.
		{"an alert channel failing", health.Status{State: health.OK, Accounts: []health.AccountStatus{
			{Name: "work", State: health.OK, Cause: probe.CauseOK, Last: last(10 * time.Second)}},
			Channels: []health.ChannelStatus{
				{Name: "phone", Kind: "ntfy", Sent: 3},
				{Name: "hook", Kind: "webhook", Failing: true, Since: now.Add(-3 * time.Minute), Error: "the webhook answered 500 Internal Server Error", Dropped: 2, Queued: 1},
			}},
			"smtpwatch: sending works\n✓ work — OK, 40 ms (checked just now)\n" +
				"✗ alerts to hook (webhook) FAIL since 14:02: the webhook answered 500 Internal Server Error; 2 given up, 1 waiting\n" +
				"    Test it: smtpwatch notify test hook\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statusText(tt.st, now); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// While a failure is being confirmed, the JSON keeps the state and adds the
// cause being confirmed; the exit status follows the state.
func TestStatusJSONPending(t *testing.T) {
	now := time.Now()
	st := twoAccounts(now)
	st.State = health.OK
	st.Accounts[0].State, st.Accounts[0].Cause, st.Accounts[0].AuthLocked = health.OK, probe.CauseOK, false
	st.Accounts[0].Pending = probe.CauseConnectionRefused
	sock := startDaemonAPI(t, &statusEngine{status: st})
	code, out, _ := runCmd(t, (*app).status, "--json", "--socket", sock)
	if code != exitOK {
		t.Errorf("exit %d, want 0: the state is still ok", code)
	}
	var raw struct {
		Accounts []map[string]any `json:"accounts"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("%v in:\n%s", err, out)
	}
	if a := raw.Accounts[0]; a["state"] != "ok" || a["pending_cause"] != "connection_refused" {
		t.Errorf("charter in JSON: state %v, pending_cause %v", a["state"], a["pending_cause"])
	}
	if _, ok := raw.Accounts[1]["pending_cause"]; ok {
		t.Errorf("work has a pending_cause: %v", raw.Accounts[1])
	}
	code, out, _ = runCmd(t, (*app).status, "--socket", sock)
	if code != exitOK || !strings.Contains(out, "✓ Charter — checking again — last check failed: connection refused (checked 1 min ago)") {
		t.Errorf("text: exit %d\n%s", code, out)
	}
}
