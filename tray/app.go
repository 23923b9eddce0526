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
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/human"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/report"
)

// Timings of the event loop.
const (
	// pollEvery refreshes the status without an event, so that "checked 3
	// min ago" stays true and a lost event costs at most this long.
	pollEvery = 30 * time.Second
	// backoffMin and backoffMax bound the wait before subscribing to the
	// source's events again after it went away (the tray client whose
	// daemon restarts).
	backoffMin = time.Second
	backoffMax = 30 * time.Second
	// callTimeout bounds a status fetch, a pause or a resume; checkTimeout
	// a "Check now" (a probe has its own 30 s timeout); signInTimeout a
	// sign-in, where a person types a password.
	callTimeout   = 10 * time.Second
	checkTimeout  = 2 * time.Minute
	signInTimeout = 10 * time.Minute
	// notifyQueue is how many notifications may wait for delivery.
	notifyQueue = 16
)

// clickKind is which menu entry was clicked.
type clickKind int

const (
	clickLine          clickKind = iota // an account line; click.line says which
	clickCheck                          // "Check now"
	clickPauseHour                      // "Pause checks" ▸ "1 hour"
	clickPauseTomorrow                  // "Pause checks" ▸ "Until tomorrow"
	clickResume                         // "Resume checks"
	clickSettings                       // "Open settings"
	clickLog                            // "Open log"
	clickQuit                           // "Quit"
	clickDashboard                      // "Open dashboard"
)

// click is one click on the menu.
type click struct {
	kind clickKind
	line int // index into View.Lines for clickLine
}

// ui draws views; the systray adapter is the real one. apply is called
// from the event loop's goroutine only.
type ui interface {
	apply(v trayView)
}

// app is the event loop and what it acts on. Everything but the fields
// under "loop state" is set before run and not changed after.
type app struct {
	src    Source
	log    *slog.Logger
	ui     ui
	notify notifier
	// open shows a file in the system's default viewer (xdg-open, open,
	// cmd /c start); tests record instead.
	open       func(path string) error
	now        func() time.Time
	configPath string
	logPath    string
	stateDir   string
	poll       time.Duration
	signIn     func(ctx context.Context, account string, open func(string) error) error
	canSignIn  func(account string) bool
	// dashboard gives a link to the dashboard; nil when there is none.
	dashboard func(ctx context.Context) (string, error)

	// loop state: touched by run's goroutine only
	told      shownIDs // notifications shown, by ID
	status    health.Status
	statusErr error
	have      bool // a status has arrived
	shown     trayView
	checking  bool
	signingIn map[string]bool // accounts whose sign-in runs
	quit      bool            // the person picked Quit

	wg      sync.WaitGroup
	refresh chan struct{} // asks the fetcher for a new status; holds one request
	done    chan actionDone
}

type actionDone struct {
	what    string
	account string // for "sign in"
	err     error
}

type statusResult struct {
	st  health.Status
	err error
}

func newApp(o Options, log *slog.Logger, u ui, n notifier, open func(string) error) *app {
	return &app{
		src: o.Source, log: log, ui: u, notify: n, open: open, now: time.Now,
		configPath: o.ConfigPath, logPath: o.LogPath, stateDir: o.StateDir, poll: pollEvery, signIn: o.SignIn, canSignIn: o.CanSignIn,
		dashboard: o.Dashboard, signingIn: map[string]bool{},
		refresh: make(chan struct{}, 1), done: make(chan actionDone, 8),
	}
}

// run is the event loop: it selects on ctx, the source's events, status
// snapshots, the poll and the clicks, until ctx ends or the person picks
// Quit. The notifications come decided, as "notification" events of the
// source's stream (the daemon's notification policy, monitor/notify,
// decides for every channel at once): the tray shows each once. Slow work
// (status fetches, checks, pauses, reports, notification delivery) runs on
// other goroutines that report back here; run returns once they are all
// gone.
func (a *app) run(ctx context.Context, clicks <-chan click) error {
	ctx, cancel := context.WithCancel(ctx)
	defer func() {
		cancel()
		a.wg.Wait()
	}()
	events := make(chan health.Event, 64)
	statuses := make(chan statusResult)
	notes := make(chan notification, notifyQueue)
	a.spawn(func() { a.watchEvents(ctx, events) })
	a.spawn(func() { a.fetchStatus(ctx, statuses) })
	a.spawn(func() { a.deliver(ctx, notes) })

	poll := time.NewTicker(a.poll)
	defer poll.Stop()
	a.requestRefresh()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-events:
			if e.Kind == health.EventNotification {
				a.notice(e, notes)
				continue
			}
			a.log.Debug("tray: event", "kind", e.Kind, "account", e.Account, "from", e.From, "to", e.To, "cause", e.Cause)
			a.requestRefresh()
		case r := <-statuses:
			if r.err != nil && a.statusErr == nil {
				a.log.Warn("tray: cannot get the status", "err", r.err)
			} else if r.err == nil && a.statusErr != nil {
				a.log.Info("tray: connected to the smtpwatch service again")
			}
			a.statusErr = r.err
			if r.err == nil {
				a.status, a.have = r.st, true
			}
			a.render()
		case <-poll.C:
			a.requestRefresh()
		case d := <-a.done:
			if d.what == "check" {
				a.checking = false
				a.render()
			}
			if d.what == "sign in" {
				delete(a.signingIn, d.account)
				a.render()
				if d.err != nil && ctx.Err() == nil {
					select {
					case notes <- signInFailed(d.account, d.err):
					default:
					}
				}
			}
			if d.err != nil && ctx.Err() == nil {
				a.log.Warn("tray: "+d.what, "err", d.err)
			}
			a.requestRefresh()
		case c := <-clicks:
			a.onClick(ctx, c)
			if a.quit {
				return nil
			}
		}
	}
}

// notice hands a decided notification to delivery, unless it was shown:
// a replay (a new subscription's catch-up) is skipped when any
// notification it repeats was shown here already.
func (a *app) notice(e health.Event, notes chan<- notification) {
	n := e.Notification
	if n == nil || a.told.has(n.ID) {
		return
	}
	seen := slices.ContainsFunc(n.Covers, a.told.has)
	a.told.add(n.ID)
	for _, id := range n.Covers {
		a.told.add(id)
	}
	if seen {
		return
	}
	select {
	case notes <- fromDecision(*n):
	default:
		a.log.Warn("tray: notification dropped: too many waiting", "title", n.Title)
	}
}

// findAccount is the named account in st.
func findAccount(st health.Status, name string) (health.AccountStatus, bool) {
	for _, a := range st.Accounts {
		if strings.EqualFold(a.Name, name) {
			return a, true
		}
	}
	return health.AccountStatus{}, false
}

// render draws the newest status.
func (a *app) render() {
	now := a.now()
	var v trayView
	switch {
	case a.statusErr != nil:
		v = disconnectedView(a.statusErr)
	case !a.have:
		v = trayView{Icon: health.Starting, Tooltip: "smtpwatch — starting…", PauseLabel: pauseLabel}
	default:
		v = view(a.status, now)
		if a.signIn != nil {
			v = withSignIn(v, a.status, a.signingIn, a.canSignIn)
		}
	}
	v.Checking = a.checking
	a.shown = v
	a.ui.apply(v)
}

func (a *app) onClick(ctx context.Context, c click) {
	now := a.now()
	switch c.kind {
	case clickQuit:
		a.log.Info("tray: quit from the menu")
		a.quit = true
	case clickCheck:
		if a.checking {
			return
		}
		a.checking = true
		a.render()
		a.do(ctx, "check", checkTimeout, func(ctx context.Context) error {
			_, err := a.src.Check(ctx, "")
			return err
		})
	case clickPauseHour, clickPauseTomorrow:
		until := now.Add(time.Hour)
		if c.kind == clickPauseTomorrow {
			until = health.NextMorning(now)
		}
		a.log.Info("tray: pausing checks", "until", until)
		a.do(ctx, "pause", callTimeout, func(ctx context.Context) error { return a.src.PauseUntil(ctx, "", until) })
	case clickResume:
		a.log.Info("tray: resuming checks")
		a.do(ctx, "resume", callTimeout, func(ctx context.Context) error { return a.src.Resume(ctx, "") })
	case clickSettings:
		a.do(ctx, "open settings", callTimeout, func(context.Context) error { return a.openSettings() })
	case clickLog:
		a.do(ctx, "open log", callTimeout, func(context.Context) error { return a.open(a.logPath) })
	case clickDashboard:
		if a.dashboard == nil {
			return
		}
		a.do(ctx, "open dashboard", callTimeout, func(ctx context.Context) error {
			u, err := a.dashboard(ctx)
			if err != nil {
				return err
			}
			return a.open(u)
		})
	case clickLine:
		if c.line < 0 || c.line >= len(a.shown.Lines) {
			return
		}
		switch l := a.shown.Lines[c.line]; l.Action {
		case actionSignIn:
			a.startSignIn(ctx, l.Account)
		case actionSettings:
			a.do(ctx, "open settings", callTimeout, func(context.Context) error { return a.openSettings() })
		case actionReport:
			acct, _ := findAccount(a.status, l.Account)
			acct.Name = l.Account
			a.do(ctx, "report", checkTimeout, func(ctx context.Context) error { return a.openReport(ctx, acct) })
		}
	}
}

// startSignIn runs the account's OAuth2 sign-in off the loop, then checks
// the account, so that the icon turns as soon as the sign-in is kept. One
// sign-in per account at a time; its line says it runs.
func (a *app) startSignIn(ctx context.Context, account string) {
	if a.signIn == nil || a.signingIn[account] {
		return
	}
	a.signingIn[account] = true
	a.render()
	a.log.Info("tray: signing in", "account", account)
	a.spawn(func() {
		sctx, cancel := context.WithTimeout(ctx, signInTimeout)
		err := a.signIn(sctx, account, a.open)
		if err == nil {
			a.log.Info("tray: signed in; checking", "account", account)
			_, err = a.src.Check(sctx, account)
		}
		cancel()
		select {
		case a.done <- actionDone{what: "sign in", account: account, err: err}:
		case <-ctx.Done():
		}
	})
}

// openSettings writes the commented template if the config file is
// missing, then opens it.
func (a *app) openSettings() error {
	if a.configPath == "" {
		return errors.New("no settings file known")
	}
	created, err := config.WriteTemplate(a.configPath)
	if err != nil {
		return err
	}
	if created {
		a.log.Info("tray: wrote the settings template", "file", a.configPath)
	}
	return a.open(a.configPath)
}

// openReport writes the account's full report (its last result, or a new
// check when it has none) to the state dir and opens it.
func (a *app) openReport(ctx context.Context, acct health.AccountStatus) error {
	var r probe.Result
	if acct.Last != nil {
		r = *acct.Last
	} else {
		rs, err := a.src.Check(ctx, acct.Name)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return fmt.Errorf("no result for %s", acct.Name)
		}
		r = rs[0]
	}
	path, err := a.writeReport(r)
	if err != nil {
		return err
	}
	return a.open(path)
}

// writeReport writes StateDir/report-NAME.txt, the text `smtpwatch check`
// prints, and returns its path.
func (a *app) writeReport(r probe.Result) (string, error) {
	var b strings.Builder
	rerun := func(r probe.Result) string {
		cmd := "smtpwatch check"
		if def, err := config.DefaultPath(); err == nil && a.configPath != "" && a.configPath != def {
			cmd += " --config " + quoteArg(a.configPath)
		}
		return cmd + " --account " + r.Name + " --json"
	}
	if err := report.Text(&b, []probe.Result{r}, report.TextOptions{Rerun: rerun}); err != nil {
		return "", err
	}
	if !r.CheckedAt.IsZero() {
		fmt.Fprintf(&b, "\n  Checked %s (%s).\n", r.CheckedAt.Local().Format("2006-01-02 15:04:05"), human.Ago(a.now().Sub(r.CheckedAt)))
	}
	dir := a.stateDir
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	path := filepath.Join(dir, "report-"+fileName(r.Name)+".txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return path, nil
}

// fileName keeps the letters, digits, ".", "_" and "-" of an account name
// (all a config allows) and replaces anything else.
func fileName(name string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			return r
		case r == '.':
			return r
		}
		return '_'
	}, name)
	s = strings.TrimLeft(s, ".")
	if s == "" {
		s = "account"
	}
	return s
}

func quoteArg(s string) string {
	if strings.ContainsAny(s, " \t\"'") {
		return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
	}
	return s
}

// spawn runs fn on a goroutine that run waits for.
func (a *app) spawn(fn func()) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		fn()
	}()
}

// do runs an action off the loop, bounded by timeout, and reports back.
func (a *app) do(ctx context.Context, what string, timeout time.Duration, fn func(context.Context) error) {
	a.spawn(func() {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := fn(actx)
		cancel()
		select {
		case a.done <- actionDone{what: what, err: err}:
		case <-ctx.Done():
		}
	})
}

func (a *app) requestRefresh() {
	select {
	case a.refresh <- struct{}{}:
	default: // one is pending already
	}
}

// fetchStatus gets a snapshot each time one is requested.
func (a *app) fetchStatus(ctx context.Context, out chan<- statusResult) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.refresh:
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		st, err := a.src.Status(cctx)
		cancel()
		select {
		case out <- statusResult{st, err}:
		case <-ctx.Done():
			return
		}
	}
}

// watchEvents forwards the source's events, subscribing again with backoff
// whenever the subscription ends before ctx does.
func (a *app) watchEvents(ctx context.Context, out chan<- health.Event) {
	backoff := backoffMin
	failing := false
	for ctx.Err() == nil {
		sctx, cancel := context.WithCancel(ctx)
		ch, err := a.src.Events(sctx)
		if err != nil {
			cancel()
			if !failing {
				a.log.Warn("tray: cannot follow the smtpwatch service's events; retrying", "err", err)
				failing = true
			} else {
				a.log.Debug("tray: events: still unavailable", "err", err, "retry_in", backoff)
			}
			if !a.sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, backoffMax)
			continue
		}
		if failing {
			a.log.Info("tray: following the smtpwatch service's events again")
			failing = false
		}
		a.requestRefresh() // what happened while we were away
		start := time.Now()
		a.forward(ctx, ch, out)
		cancel()
		if ctx.Err() != nil {
			return
		}
		a.log.Debug("tray: event stream ended; subscribing again")
		a.requestRefresh()
		if time.Since(start) > time.Minute { // it worked for a while: start over
			backoff = backoffMin
		}
		if !a.sleep(ctx, backoff) {
			return
		}
		backoff = min(backoff*2, backoffMax)
	}
}

func (a *app) forward(ctx context.Context, ch <-chan health.Event, out chan<- health.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-ch:
			if !ok {
				return
			}
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
	}
}

// sleep waits d or until ctx ends; it reports whether ctx is still alive.
func (a *app) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// deliver hands notifications to the notifier one at a time. A failure is
// logged as a warning once, then quietly until one gets through.
func (a *app) deliver(ctx context.Context, notes <-chan notification) {
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-notes:
			a.log.Info("tray: notification", "title", n.Title)
			if a.notify == nil {
				continue
			}
			err := a.notify.Notify(ctx, n)
			switch {
			case err != nil && !failing && ctx.Err() == nil:
				a.log.Warn("tray: notification not shown", "err", err)
				failing = true
			case err != nil:
				a.log.Debug("tray: notification not shown", "err", err)
			default:
				failing = false
			}
		}
	}
}
