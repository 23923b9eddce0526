package tray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/notify"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/report"
)

// The events the engine publishes, as health.Next makes them.
const (
	rejectedMsg = "Your password was rejected by the server (535 5.7.8 Authentication credentials invalid)."
	rejectedFix = "Re-enter the password for me@charter.net (smtpwatch password set charter)."
)

// coalesceWindow is how long the daemon's policy waits before it says
// anything.
const coalesceWindow = notify.CoalesceWindow

func transition(account, provider string, from, to health.State, cause probe.Cause) health.Event {
	e := health.Event{Kind: health.EventTransition, Account: account, Provider: provider, From: from, To: to, Cause: cause, At: time.Now()}
	if cause == probe.CauseAuthRejected {
		e.Message, e.Advice = rejectedMsg, []string{rejectedFix}
	}
	if (from == health.Failing || from == health.Offline) && (to == health.OK || to == health.Degraded) {
		e.Kind = health.EventRecovery
	}
	return e
}

// fakeSource is a Source whose status, events and controls the test
// drives. Like the daemon, it runs the notification policy
// (notify.Dispatcher) on the events it emits and puts the decided
// notifications on its event stream, with the standing ones first for a
// new subscription.
type fakeSource struct {
	mu        sync.Mutex
	st        health.Status
	stErr     error
	statuses  int
	eventsErr error
	subs      int
	cur       chan health.Event
	checks    []string
	checkGate chan struct{} // when set, Check waits for it
	results   []probe.Result
	pauses    []time.Time
	resumes   int

	disp *notify.Dispatcher
	in   chan health.Event // to the dispatcher
}

// run starts the source's dispatcher until ctx ends.
func (f *fakeSource) run(ctx context.Context) {
	f.in = make(chan health.Event, 64)
	f.disp = notify.New(notify.Options{Status: f.status, Announce: f.announce}, nil)
	go f.disp.Run(ctx, f.in)
}

func (f *fakeSource) status() health.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

// announce puts a decided notification on the current subscription, as
// the engine's broadcaster does (dropped without one).
func (f *fakeSource) announce(e health.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cur != nil {
		f.cur <- e
	}
}

func (f *fakeSource) Status(context.Context) (health.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses++
	return f.st, f.stErr
}

func (f *fakeSource) Events(ctx context.Context) (<-chan health.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs++
	if f.eventsErr != nil {
		return nil, f.eventsErr
	}
	f.cur = make(chan health.Event, 64)
	for _, e := range f.disp.Standing(f.st) {
		f.cur <- e
	}
	return f.cur, nil
}

func (f *fakeSource) Check(ctx context.Context, account string) ([]probe.Result, error) {
	f.mu.Lock()
	f.checks = append(f.checks, account)
	gate := f.checkGate
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.results, nil
}

// PauseUntil pauses every account, as the engine does: the status says so
// from then on.
func (f *fakeSource) PauseUntil(_ context.Context, account string, until time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pauses = append(f.pauses, until)
	f.st = pausedUntil(f.st, until)
	return nil
}

// Resume ends the pause: the accounts are back to what they were (in these
// tests: working).
func (f *fakeSource) Resume(context.Context, string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resumes++
	f.st = okStatus()
	return nil
}

// pausedUntil is st with every account paused until until (zero: until
// resumed), as the daemon reports it.
func pausedUntil(st health.Status, until time.Time) health.Status {
	st.State = health.Paused
	st.Accounts = slices.Clone(st.Accounts)
	for i := range st.Accounts {
		st.Accounts[i].State, st.Accounts[i].PausedUntil = health.Paused, until
	}
	return st
}

func (f *fakeSource) set(st health.Status, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st, f.stErr = st, err
}

// emit hands an event to the daemon's policy and to the current
// subscriber.
func (f *fakeSource) emit(e health.Event) {
	f.in <- e
	f.mu.Lock()
	ch := f.cur
	f.mu.Unlock()
	ch <- e
}

// goAway ends the current subscription, as a daemon that stops does.
func (f *fakeSource) goAway() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.cur)
	f.cur = nil
}

func (f *fakeSource) count() (statuses, subs int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.statuses, f.subs
}

type fakeUI struct {
	mu    sync.Mutex
	views []trayView
}

func (u *fakeUI) apply(v trayView) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.views = append(u.views, v)
}

func (u *fakeUI) last() trayView {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.views) == 0 {
		return trayView{}
	}
	return u.views[len(u.views)-1]
}

type fakeNotifier struct {
	mu    sync.Mutex
	notes []notification
}

func (n *fakeNotifier) Notify(_ context.Context, note notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notes = append(n.notes, note)
	return nil
}

func (n *fakeNotifier) titles() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, note := range n.notes {
		out = append(out, note.Title)
	}
	return out
}

type opener struct {
	mu     sync.Mutex
	opened []string
}

func (o *opener) open(path string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.opened = append(o.opened, path)
	return nil
}

func (o *opener) paths() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.opened)
}

// harness runs an app's loop in a synctest bubble.
type harness struct {
	t      *testing.T
	src    *fakeSource
	ui     *fakeUI
	notes  *fakeNotifier
	opener *opener
	app    *app
	clicks chan click
	cancel context.CancelFunc
	done   chan error
	dir    string
}

func start(t *testing.T, st health.Status) *harness {
	return startWith(t, st, nil)
}

// startWith is start with the options changed by opts first.
func startWith(t *testing.T, st health.Status, opts func(*Options)) *harness {
	h := &harness{
		t: t, src: &fakeSource{st: st}, ui: &fakeUI{}, notes: &fakeNotifier{}, opener: &opener{},
		clicks: make(chan click), done: make(chan error, 1), dir: t.TempDir(),
	}
	o := Options{
		Source: h.src, ConfigPath: filepath.Join(h.dir, "config", "config.toml"),
		LogPath: filepath.Join(h.dir, "smtpwatch.log"), StateDir: filepath.Join(h.dir, "state"),
	}
	if opts != nil {
		opts(&o)
	}
	h.app = newApp(o, slog.New(slog.DiscardHandler), h.ui, h.notes, h.opener.open)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.src.run(ctx)
	go func() { h.done <- h.app.run(ctx, h.clicks) }()
	synctest.Wait()
	return h
}

func (h *harness) click(c click) {
	h.clicks <- c
	synctest.Wait()
}

func (h *harness) stop() {
	h.cancel()
	if err := <-h.done; err != nil {
		h.t.Errorf("run: %v", err)
	}
}

// wait lets d of fake time pass and everything settle.
func wait(d time.Duration) {
	time.Sleep(d)
	synctest.Wait()
}

func okStatus() health.Status {
	return health.Status{State: health.OK, Accounts: []health.AccountStatus{{
		Name: "charter", Provider: "Charter", State: health.OK, Cause: probe.CauseOK,
		Last: &probe.Result{Name: "charter", Provider: "Charter", Server: "smtp.charter.net", Port: 587, Security: probe.SecurityStartTLS,
			Status: probe.StatusOK, Cause: probe.CauseOK, Message: "Sending works.", CheckedAt: time.Now(), Duration: 180 * time.Millisecond},
	}}}
}

func failingStatusNow() health.Status {
	st := okStatus()
	st.State = health.Failing
	a := &st.Accounts[0]
	a.State, a.Cause = health.Failing, probe.CauseAuthRejected
	last := *a.Last
	last.Status, last.Cause, last.Message, last.Advice = probe.StatusFailing, probe.CauseAuthRejected, rejectedMsg, []string{rejectedFix}
	a.Last = &last
	return st
}

func TestAppShowsStatusAndNotifiesOnTransitions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, okStatus())
		defer h.stop()
		if v := h.ui.last(); v.Icon != health.OK || !strings.HasPrefix(v.Tooltip, "smtpwatch — sending works\nCharter: OK, 180 ms (just now)") {
			t.Fatalf("first view: %+v", v)
		}

		h.src.set(failingStatusNow(), nil)
		h.src.emit(transition("charter", "Charter", health.OK, health.Failing, probe.CauseAuthRejected))
		synctest.Wait()
		if v := h.ui.last(); v.Icon != health.Failing || v.Lines[0].Text != "✗ Charter — password rejected" {
			t.Fatalf("after the event: %+v", v)
		}
		if got := h.notes.titles(); len(got) != 0 {
			t.Fatalf("notified within the coalescing window: %q", got)
		}
		wait(coalesceWindow)
		if got := h.notes.titles(); !slices.Equal(got, []string{"Mail from Charter can't be sent"}) {
			t.Fatalf("notifications %q", got)
		}

		// The poll keeps "N min ago" true without any event.
		before, _ := h.src.count()
		wait(3 * pollEvery)
		if after, _ := h.src.count(); after < before+3 {
			t.Errorf("status fetched %d times in 3 polls", after-before)
		}
		if v := h.ui.last(); !strings.Contains(v.Tooltip, "Charter: password rejected (1 min ago)") {
			t.Errorf("tooltip after 90 s: %q", v.Tooltip)
		}
	})
}

func TestAppCheckNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, okStatus())
		defer h.stop()
		gate := make(chan struct{})
		h.src.checkGate = gate
		h.click(click{kind: clickCheck})
		if v := h.ui.last(); !v.Checking {
			t.Fatalf("not checking: %+v", v)
		}
		h.click(click{kind: clickCheck}) // a second click while one runs does nothing
		if h.src.checks == nil || len(h.src.checks) != 1 || h.src.checks[0] != "" {
			t.Fatalf("checks %q, want one of every account", h.src.checks)
		}
		statuses, _ := h.src.count()
		close(gate)
		synctest.Wait()
		if v := h.ui.last(); v.Checking {
			t.Fatalf("still checking: %+v", v)
		}
		if after, _ := h.src.count(); after <= statuses {
			t.Error("no status refresh after the check")
		}
	})
}

func TestAppOpensReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := failingStatusNow()
		st.Accounts = append(st.Accounts, health.AccountStatus{Name: "work", State: health.Starting})
		h := start(t, st)
		defer h.stop()
		h.click(click{kind: clickLine, line: 0})
		want := filepath.Join(h.dir, "state", "report-charter.txt")
		if got := h.opener.paths(); !slices.Equal(got, []string{want}) {
			t.Fatalf("opened %q, want %q", got, want)
		}
		b, err := os.ReadFile(want)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"Charter (smtp.charter.net:587, STARTTLS) — sending mail will FAIL", "Your password was rejected", "→ Re-enter the password", "smtpwatch check --config "} {
			if !strings.Contains(string(b), s) {
				t.Errorf("report lacks %q:\n%s", s, b)
			}
		}
		if fi, err := os.Stat(want); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("report mode: %v %v", fi.Mode(), err)
		}

		// An account never checked is checked first.
		h.src.results = []probe.Result{{Name: "work", Server: "mail.work.example", Port: 465, Security: probe.SecurityTLS, Status: probe.StatusOK, Cause: probe.CauseOK}}
		h.click(click{kind: clickLine, line: 1})
		if !slices.Equal(h.src.checks, []string{"work"}) {
			t.Errorf("checks %q", h.src.checks)
		}
		if got := h.opener.paths(); len(got) != 2 || filepath.Base(got[1]) != "report-work.txt" {
			t.Errorf("opened %q", got)
		}
		h.click(click{kind: clickLine, line: 7}) // gone since: nothing happens
	})
}

func TestAppOpensSettingsAndLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, health.Status{})
		defer h.stop()
		if v := h.ui.last(); len(v.Lines) != 1 || v.Lines[0].Action != actionSettings {
			t.Fatalf("view without accounts: %+v", v)
		}
		h.click(click{kind: clickLine, line: 0})
		cfg := filepath.Join(h.dir, "config", "config.toml")
		b, err := os.ReadFile(cfg)
		if err != nil || string(b) != config.Template {
			t.Fatalf("settings not created from the template: %v", err)
		}
		os.WriteFile(cfg, []byte("# mine\n"), 0o600)
		h.click(click{kind: clickSettings})
		if b, _ := os.ReadFile(cfg); string(b) != "# mine\n" {
			t.Error("existing settings overwritten")
		}
		h.click(click{kind: clickLog})
		want := []string{cfg, cfg, filepath.Join(h.dir, "smtpwatch.log")}
		if got := h.opener.paths(); !slices.Equal(got, want) {
			t.Errorf("opened %q, want %q", got, want)
		}
	})
}

// "Pause checks" from the menu pauses the daemon; the menu then says what
// the daemon's status says. Nothing is notified while every account is
// paused; "Resume checks" resumes the daemon.
func TestAppPauseAndResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, okStatus())
		defer h.stop()
		at := time.Now()
		h.click(click{kind: clickPauseHour})
		if !slices.Equal(h.src.pauses, []time.Time{at.Add(time.Hour)}) {
			t.Fatalf("source paused %v", h.src.pauses)
		}
		v := h.ui.last()
		if want := pausedLabel(at.Add(time.Hour), at); v.PauseLabel != want || !v.CanResume || v.Icon != health.Paused {
			t.Fatalf("paused view: %q resume %v icon %s, want %q", v.PauseLabel, v.CanResume, v.Icon, want)
		}
		if !strings.HasPrefix(v.PauseLabel, "Checks paused until ") {
			t.Errorf("pause label %q does not say that checks are paused", v.PauseLabel)
		}
		h.src.emit(health.Event{Kind: health.EventConfigError, Message: "config.toml:3: interval: too short"})
		wait(time.Minute)
		if got := h.notes.titles(); len(got) != 0 {
			t.Fatalf("notified while paused: %q", got)
		}
		h.click(click{kind: clickResume})
		if h.src.resumes != 1 {
			t.Fatalf("resumes %d", h.src.resumes)
		}
		if v := h.ui.last(); v.PauseLabel != pauseLabel || v.CanResume || v.Icon != health.OK {
			t.Fatalf("resumed view: %+v", v)
		}
		h.src.set(failingStatusNow(), nil)
		h.src.emit(transition("charter", "Charter", health.OK, health.Failing, probe.CauseAuthRejected))
		wait(coalesceWindow)
		if got := h.notes.titles(); len(got) != 1 {
			t.Fatalf("after resume: %q", got)
		}

		h.click(click{kind: clickPauseTomorrow})
		if got := h.src.pauses[len(h.src.pauses)-1]; !got.Equal(health.NextMorning(time.Now())) {
			t.Errorf("paused until %v", got)
		}
	})
}

// A pause and a resume made elsewhere (`smtpwatch pause` and `smtpwatch
// resume` in a terminal, another tray) show in the menu: the tray keeps no
// pause of its own. With the daemon's event, at once; without one, by the
// next poll.
func TestAppFollowsPausesFromElsewhere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, okStatus())
		defer h.stop()
		until := time.Now().Add(2 * time.Hour)
		h.src.set(pausedUntil(okStatus(), until), nil)
		h.src.emit(transition("charter", "Charter", health.OK, health.Paused, probe.CauseOK))
		synctest.Wait()
		if v := h.ui.last(); v.PauseLabel != pausedLabel(until, time.Now()) || !v.CanResume || v.Lines[0].Text != "‖ Charter — paused until "+report.Clock(until, time.Now()) {
			t.Fatalf("view after a pause from the command line: %+v", v)
		}
		h.src.set(okStatus(), nil) // resumed, and the event lost
		wait(pollEvery)
		if v := h.ui.last(); v.PauseLabel != pauseLabel || v.CanResume || v.Icon != health.OK {
			t.Fatalf("view after a resume from the command line: %+v", v)
		}
		if h.src.resumes != 0 || len(h.src.pauses) != 0 {
			t.Errorf("the tray paused %v or resumed %d itself", h.src.pauses, h.src.resumes)
		}
	})
}

// A pause the tray asked for that the daemon ended early (a resume from
// elsewhere) is over in the menu too, not an hour later.
func TestAppPauseEndedByTheDaemon(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, okStatus())
		defer h.stop()
		h.click(click{kind: clickPauseHour})
		if v := h.ui.last(); !v.CanResume {
			t.Fatalf("not paused: %+v", v)
		}
		h.src.set(okStatus(), nil)
		wait(pollEvery)
		if v := h.ui.last(); v.PauseLabel != pauseLabel || v.CanResume {
			t.Errorf("view 30 s after the daemon resumed: %q resume %v", v.PauseLabel, v.CanResume)
		}
	})
}

func TestAppFollowsASourceThatComesAndGoes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, okStatus())
		defer h.stop()
		if _, subs := h.src.count(); subs != 1 {
			t.Fatalf("subscriptions %d", subs)
		}
		// The daemon stops: the stream ends, the status fails.
		h.src.set(health.Status{}, errors.New("the smtpwatch daemon is not running"))
		h.src.mu.Lock()
		h.src.eventsErr = errors.New("the smtpwatch daemon is not running")
		h.src.mu.Unlock()
		h.src.goAway()
		synctest.Wait()
		if v := h.ui.last(); !strings.HasPrefix(v.Tooltip, "smtpwatch — not connected") {
			t.Fatalf("view without the daemon: %+v", v)
		}
		// Retries back off: 1 s, 2 s, 4 s, 8 s... at most 30 s apart.
		wait(1 * time.Second)
		_, subs := h.src.count()
		wait(2*time.Second + 4*time.Second)
		_, subs2 := h.src.count()
		if subs2-subs != 2 {
			t.Errorf("%d subscriptions in the next 6 s, want 2", subs2-subs)
		}
		wait(10 * time.Minute)
		_, subs3 := h.src.count()
		if n := subs3 - subs2; n < 18 || n > 22 {
			t.Errorf("%d subscriptions in 10 minutes, want about 20 (every 30 s)", n)
		}
		// It comes back.
		h.src.set(okStatus(), nil)
		h.src.mu.Lock()
		h.src.eventsErr = nil
		h.src.mu.Unlock()
		wait(backoffMax)
		if v := h.ui.last(); v.Icon != health.OK {
			t.Fatalf("view after the daemon came back: %+v", v)
		}
		h.src.emit(transition("charter", "Charter", health.OK, health.Failing, probe.CauseAuthRejected))
		wait(coalesceWindow)
		if got := h.notes.titles(); len(got) != 1 {
			t.Errorf("notifications after reconnecting: %q", got)
		}
	})
}

func TestAppQuit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, okStatus())
		h.clicks <- click{kind: clickQuit}
		if err := <-h.done; err != nil {
			t.Errorf("run after Quit: %v", err)
		}
		h.cancel()
	})
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{
		"charter": "charter", "Work.Mail_2-x": "Work.Mail_2-x", "../etc/passwd": "_etc_passwd", "": "account", "a b": "a_b",
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAppCatchesUpAtStart: the account failed before the tray subscribed to
// events (the daemon's first check was quicker than the tray, or the tray
// client starts at login beside a daemon that runs since boot). No event
// ever comes; the first status says it, and the person hears it once.
func TestAppCatchesUpAtStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, failingStatusNow())
		defer h.stop()
		wait(coalesceWindow + time.Second)
		if got := h.notes.titles(); len(got) != 1 || got[0] != "Mail from Charter can't be sent" {
			t.Fatalf("notifications %q, want the failure said once", got)
		}
		wait(pollEvery + time.Second) // more statuses: nothing more to say
		if got := h.notes.titles(); len(got) != 1 {
			t.Errorf("notifications %q after more statuses", got)
		}
	})
}

// A notification the stream gives again — a replay to a new subscription
// naming what it repeats — is shown once: not again when the tray showed
// what it repeats, once when it did not.
func TestAppShowsAReplayOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, okStatus())
		defer h.stop()
		note := func(id uint64, replay bool, covers ...uint64) health.Event {
			return health.Event{Kind: health.EventNotification, Notification: &health.Notification{
				ID: id, Title: fmt.Sprintf("note %d", id), Replay: replay, Covers: covers, Urgency: "normal"}}
		}
		h.src.emit(note(7, false))
		h.src.emit(note(7, false))        // the same one again
		h.src.emit(note(8, true, 7))      // a replay of 7
		h.src.emit(note(9, true, 5))      // a replay of one never seen
		h.src.emit(note(10, true, 5))     // a second replay of it
		h.src.emit(note(11, true, 12, 7)) // repeats 7 among others
		synctest.Wait()
		if got := h.notes.titles(); !slices.Equal(got, []string{"note 7", "note 9"}) {
			t.Errorf("shown %q, want note 7 and note 9 once each", got)
		}
	})
}
