// Package daemon assembles what `smtpwatch run` runs, without the tray:
// the instance lock in the state directory, the log file, the history
// database, the engine, the notification dispatcher (monitor/notify: the
// policy decided once, for the event stream the tray shows and for every
// [[notify]] channel), the local API on its socket (and the Prometheus
// listener with /metrics and /probe when configured), the dashboard
// (monitor/web) on its loopback listener unless the config says ui =
// false, the config file watch, and the sleep and network watches. Start
// brings them up in that order and Stop takes them down within
// ShutdownLimit, so that tests drive the whole daemon in-process and the
// command is a thin wrapper around it.
//
// One daemon runs per state directory: Start holds the instance lock
// (monitor/instance) for the daemon's whole life, before it opens the
// history, so that a second daemon — started by cron or over ssh, where
// the socket's runtime directory differs — refuses to run on the same
// history and config, and names the process that holds it.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/config"
	"smtpwatch/monitor/engine"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/history"
	"smtpwatch/monitor/instance"
	"smtpwatch/monitor/metrics"
	"smtpwatch/monitor/notify"
	"smtpwatch/monitor/paths"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/web"
)

// ShutdownLimit bounds Stop: probes cancelled, requests answered, history
// flushed.
const ShutdownLimit = 2 * time.Second

// File names in the state directory.
const (
	HistoryFile = "history.db"
	LogFile     = "smtpwatch.log"
)

// maxLogSize is where the log file is rotated (once, to .1) at start.
const maxLogSize = 5 << 20

// Options configure a daemon.
type Options struct {
	// ConfigPath is the config file, watched for changes and read again
	// by Reload. Config is what the caller loaded from it.
	ConfigPath string
	Config     *config.Config
	// StateDir holds the lock, the history, the log and the fingerprint
	// key; "" means Config.StateDir, or paths.StateDir() when that is "".
	// It is created (0700) when missing.
	StateDir string
	// Socket is the local API's socket path (see api.Listen).
	Socket string
	// NewLogger makes the daemon's logger once the lock is held, given the
	// log file to write to as well (what the tray's "Open log" shows). nil
	// logs to the file alone, as text, at info level.
	NewLogger func(logFile io.Writer) *slog.Logger
	// Version goes in the start line of the log.
	Version string

	// Probe and Deps are the engine's (nil and the zero value: the real
	// probe on the real network); tests point them elsewhere.
	Probe engine.ProbeFunc
	Deps  probe.Deps
	// Notify is what the alert channels need beyond the config; its
	// Origin defaults to the host name and its Version to Version.
	Notify notify.SenderOptions
	// NotifyRetry is how alert channels retry (zero: the defaults).
	NotifyRetry notify.Retry

	// UIIcon gives the dashboard the tray's icon of a state (icons.PNG;
	// monitor does not import icons). nil shows the states' marks alone.
	UIIcon func(state string) []byte
	// OAuth2SignIn is the dashboard's "Sign in with OAuth2" (see
	// web.OAuth2SignIn); nil: the page names `smtpwatch login NAME`.
	OAuth2SignIn web.OAuth2SignIn
}

// Daemon is a running daemon. Its methods are safe for concurrent use.
type Daemon struct {
	eng      *engine.Engine
	disp     *notify.Dispatcher
	targets  *engine.Targets
	sendOpts notify.SenderOptions
	log      *slog.Logger
	cfgPath  string
	stateDir string
	logPath  string
	socket   string

	lock  *instance.Lock
	store *history.Store
	// ui is the dashboard, nil when it is not served; uiOff says why.
	ui      *web.Server
	uiOff   error
	uiMu    sync.Mutex
	uiConf  [2]string // ui and ui_listen as last loaded; under uiMu
	logFile *os.File
	cancel  context.CancelFunc
	done    <-chan struct{}
	wg      sync.WaitGroup

	stopOnce sync.Once
	stopErr  error

	cfgMu sync.Mutex
	cfg   *config.Config // the config in force, for /probe's modules
}

// Start brings the daemon up and returns once it serves: the API answers
// on o.Socket and every account has its runner. It runs until ctx ends or
// Stop is called; the caller must call Stop either way, to release the
// lock and close the history.
//
// Errors: a socket where another daemon answers (wrapping
// api.ErrAlreadyRunning), a state directory another daemon holds
// (wrapping instance.ErrHeld; errors.As gives the *instance.HeldError
// with its process id), or what stopped the state directory, the log or
// the history from opening. Nothing is left running then.
func Start(ctx context.Context, o Options) (*Daemon, error) {
	if o.Config == nil {
		return nil, errors.New("daemon: no config")
	}
	stateDir := o.StateDir
	if stateDir == "" {
		stateDir = o.Config.StateDir
	}
	if stateDir == "" {
		var err error
		if stateDir, err = paths.StateDir(); err != nil {
			return nil, fmt.Errorf("state dir: %w", err)
		}
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	// The socket first: a second daemon for the same socket hears that
	// another one answers there, as it always has.
	ln, err := api.Listen(o.Socket)
	if err != nil {
		return nil, err
	}
	lock, err := instance.Acquire(stateDir)
	if err != nil {
		ln.Close()
		return nil, err
	}
	d := &Daemon{cfgPath: o.ConfigPath, stateDir: stateDir, socket: o.Socket, lock: lock,
		logPath: filepath.Join(stateDir, LogFile), cfg: o.Config}
	fail := func(err error) (*Daemon, error) {
		ln.Close()
		if d.store != nil {
			d.store.Close()
		}
		if d.logFile != nil {
			d.logFile.Close()
		}
		lock.Release()
		return nil, err
	}
	if d.logFile, err = openLog(d.logPath); err != nil {
		return fail(err)
	}
	if o.NewLogger != nil {
		d.log = o.NewLogger(d.logFile)
	} else {
		d.log = slog.New(slog.NewTextHandler(d.logFile, nil))
	}

	ctx, cancel := context.WithCancel(ctx)
	d.cancel, d.done = cancel, ctx.Done()
	if d.store, err = history.Open(ctx, filepath.Join(stateDir, HistoryFile)); err != nil {
		cancel()
		return fail(err)
	}
	fp, err := engine.LoadFingerprinter(stateDir)
	if err != nil {
		// Without it a restart cannot recognize a rejected password: it is
		// tried once more. Not a reason to stop watching.
		d.log.Warn("credential fingerprints", "err", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	deps := o.Deps
	if deps.Logger == nil {
		deps.Logger = d.log
	}
	m := metrics.New(reg)
	d.eng, err = engine.New(engine.Options{
		Config: o.Config, Probe: o.Probe, Deps: deps, Store: d.store, Obs: m,
		Fingerprints: fp, Logger: d.log,
	})
	if err != nil {
		cancel()
		return fail(err)
	}
	d.sendOpts = o.Notify
	if d.sendOpts.Origin == "" {
		d.sendOpts.Origin, _ = os.Hostname()
	}
	if d.sendOpts.Version == "" {
		d.sendOpts.Version = o.Version
	}
	d.disp = notify.New(notify.Options{
		Status: d.eng.Status, Announce: d.eng.Announce, Logger: d.log, Observer: m, Retry: o.NotifyRetry,
	}, notify.Channels(o.Config, d.sendOpts))
	d.targets = engine.NewTargets(engine.TargetOptions{
		Probe: o.Probe, Deps: deps, Fingerprints: fp, StateDir: stateDir,
		Concurrency: o.Config.MaxConcurrency, Logger: d.log,
	})
	// Subscribed before the engine runs: the policy hears every event.
	events := d.eng.Subscribe(ctx)

	d.background(ctx, "engine", func() error { return d.eng.Run(ctx) })
	d.background(ctx, "notify", func() error { return d.disp.Run(ctx, events) })
	d.background(ctx, "api", func() error { return api.Serve(ctx, ln, apiView{d}, reg, d.log) })
	d.startUI(ctx, o)
	if o.Config.MetricsListen != "" {
		d.background(ctx, "metrics listener", func() error {
			return api.ServePrometheus(ctx, o.Config.MetricsListen, reg, prober{d}, 2*o.Config.MaxConcurrency, d.log)
		})
	}
	if d.cfgPath != "" {
		d.background(ctx, "config watch", func() error { return config.Watch(ctx, d.cfgPath, d.Reload) })
	}
	d.background(ctx, "sleep watch", func() error {
		engine.WatchSleep(ctx, 0, func() { d.log.Info("woke from sleep; checking again"); d.eng.Wake() })
		return nil
	})
	d.background(ctx, "network watch", func() error {
		return engine.WatchNetwork(ctx, func() { d.log.Info("network changed; checking again"); d.eng.Wake() })
	})
	d.background(ctx, "settle", func() error {
		settle(ctx, settleAfter)
		return nil
	})
	enabled := 0
	for _, a := range o.Config.Accounts {
		if a.Enabled {
			enabled++
		}
	}
	d.log.Info("smtpwatch running", "version", o.Version, "config", d.cfgPath, "accounts", enabled,
		"socket", d.socket, "state_dir", stateDir, "pid", os.Getpid())
	return d, nil
}

// startUI opens the dashboard's listener and serves it, unless the config
// turns it off. A listener that cannot be opened (ui_listen names a port
// in use) is logged; the daemon watches on without a dashboard.
func (d *Daemon) startUI(ctx context.Context, o Options) {
	d.uiConf = uiConf(o.Config)
	if !o.Config.UI {
		d.uiOff = fmt.Errorf("%w: ui = false in %s", api.ErrNoDashboard, o.ConfigPath)
		return
	}
	ln, err := web.Listen(o.Config.UIListen)
	if err != nil {
		d.uiOff = fmt.Errorf("%w: %v", api.ErrNoDashboard, err)
		d.log.Error("the dashboard is not served", "err", err)
		return
	}
	srv, err := web.New(web.Options{
		Engine: apiView{d}, History: d.store, ConfigPath: d.cfgPath, Reload: d.Reload, Icon: o.UIIcon,
		OAuth2SignIn: o.OAuth2SignIn, Probe: o.Deps, Logger: d.log,
	})
	if err == nil {
		err = srv.Bind(ln)
	}
	if err != nil {
		ln.Close()
		d.uiOff = fmt.Errorf("%w: %v", api.ErrNoDashboard, err)
		d.log.Error("the dashboard is not served", "err", err)
		return
	}
	d.ui = srv
	d.log.Info("dashboard served", "addr", ln.Addr().String())
	d.background(ctx, "dashboard", func() error { return srv.Serve(ctx, ln) })
}

func uiConf(c *config.Config) [2]string { return [2]string{fmt.Sprint(c.UI), c.UIListen} }

// DashboardURL returns a new one-time link to the dashboard (for the tray,
// and through the API for `smtpwatch open`), or an error wrapping
// api.ErrNoDashboard that says why it is not served.
func (d *Daemon) DashboardURL() (string, error) {
	if d.ui == nil {
		return "", d.uiOff
	}
	return d.ui.LoginURL()
}

// settleAfter is when, after the start, the memory of the start-up is
// given back to the operating system: the first checks are done by then.
const settleAfter = 30 * time.Second

// idleGCPercent is the garbage collector's target once the daemon has
// settled, unless $GOGC says otherwise. Its live heap is small (about
// 2 MB) and the runtime's default lets it grow to 4 MB between
// collections, every byte of it resident; at 50 it collects at about
// 3 MB instead, for a few more collections of a small heap a minute
// (a fraction of a millisecond each).
const idleGCPercent = 50

// settle waits d, unless ctx ends first, then collects the garbage of the
// start-up (config parsing, history migrations and queries, the first
// checks, the packages' own initialisation) and returns the freed pages to
// the operating system at once, instead of letting the runtime's scavenger
// keep them for minutes: an idle daemon should cost its steady state only.
// From then on the collector runs at idleGCPercent.
func settle(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(idleGCPercent)
		}
		debug.FreeOSMemory()
	}
}

// openLog opens the log file for appending (0600), rotating it to .1 first
// when it has grown past maxLogSize.
func openLog(path string) (*os.File, error) {
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLogSize {
		_ = os.Rename(path, path+".1")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	return f, nil
}

// background runs fn until it returns, logging an error that came before
// the daemon was told to stop.
func (d *Daemon) background(ctx context.Context, name string, fn func() error) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		err := fn()
		if err != nil && ctx.Err() == nil {
			d.log.Error(name+" stopped", "err", err)
			return
		}
		d.log.Debug(name + " stopped")
	}()
}

// Engine is the daemon's engine, for the tray and tests.
func (d *Daemon) Engine() *engine.Engine { return d.eng }

// Logger is the daemon's logger.
func (d *Daemon) Logger() *slog.Logger { return d.log }

// StateDir is the state directory the daemon holds.
func (d *Daemon) StateDir() string { return d.stateDir }

// LogPath is the daemon's log file.
func (d *Daemon) LogPath() string { return d.logPath }

// Done is closed when the daemon is told to stop: its context ended or
// Stop was called.
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Reload reads the config file again and applies it, as saving it does;
// a config that does not load is announced as a config_error event and the
// last good one keeps running. It blocks while the file is read.
func (d *Daemon) Reload() {
	if d.cfgPath == "" {
		return
	}
	c, err := config.Load(d.cfgPath)
	if err != nil {
		d.eng.ConfigError(err)
		return
	}
	d.uiMu.Lock()
	if uiConf(c) != d.uiConf {
		d.log.Warn("ui and ui_listen take effect when smtpwatch starts again", "ui", c.UI, "ui_listen", c.UIListen)
		d.uiConf = uiConf(c)
	}
	d.uiMu.Unlock()
	d.eng.Reload(c)
	d.disp.SetChannels(notify.Channels(c, d.sendOpts))
	d.cfgMu.Lock()
	d.cfg = c
	d.cfgMu.Unlock()
}

// Status is the engine's snapshot with the alert channels' states: what
// the API's /v1/status and the in-process tray show.
func (d *Daemon) Status() health.Status {
	st := d.eng.Status()
	if ch := d.disp.Channels(); len(ch) > 0 {
		st.Channels = ch
	}
	return st
}

// Subscribe is the daemon's event stream: the engine's events and the
// decided notifications, led by the notifications that still stand
// (notify.Dispatcher.Standing), so that a subscriber that comes late — the
// tray client at login, beside a daemon that runs since boot — hears them
// once. It ends as engine.Engine.Subscribe does.
func (d *Daemon) Subscribe(ctx context.Context) <-chan health.Event {
	ch := d.eng.Subscribe(ctx)
	replay := d.disp.Standing(d.eng.Status())
	if len(replay) == 0 {
		return ch
	}
	out := make(chan health.Event, 64)
	go func() {
		defer close(out)
		for _, e := range replay {
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
		for e := range ch {
			select {
			case out <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// apiView is what the local API serves: the engine, with the daemon's
// status and event stream.
type apiView struct{ d *Daemon }

func (v apiView) Status() health.Status                             { return v.d.Status() }
func (v apiView) Subscribe(ctx context.Context) <-chan health.Event { return v.d.Subscribe(ctx) }
func (v apiView) Check(ctx context.Context, account string) ([]probe.Result, error) {
	return v.d.eng.Check(ctx, account)
}
func (v apiView) Pause(account string, until time.Time) error { return v.d.eng.Pause(account, until) }
func (v apiView) Resume(account string) error                 { return v.d.eng.Resume(account) }
func (v apiView) DashboardURL() (string, error)               { return v.d.DashboardURL() }

// prober answers /probe.
type prober struct{ d *Daemon }

func (p prober) ProbeAccount(ctx context.Context, account string, timeout time.Duration) (engine.Probed, error) {
	return p.d.eng.Probe(ctx, account, timeout)
}

func (p prober) ProbeTarget(ctx context.Context, module, target string, timeout time.Duration) (engine.Probed, error) {
	p.d.cfgMu.Lock()
	m, ok := p.d.cfg.Module(module)
	p.d.cfgMu.Unlock()
	if !ok {
		return engine.Probed{}, fmt.Errorf("%w %q", engine.ErrUnknownModule, module)
	}
	return p.d.targets.Probe(ctx, m, target, timeout)
}

// Stop takes the daemon down: probes in flight are cancelled, open API
// requests get what is left of ShutdownLimit, the history is closed, the
// socket removed and the lock released. It returns within ShutdownLimit
// plus the time to close the history, whatever hangs; what had not ended
// by then is logged. Calling it again returns the first call's result.
func (d *Daemon) Stop() error {
	d.stopOnce.Do(func() {
		d.cancel()
		done := make(chan struct{})
		go func() { d.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(ShutdownLimit):
			d.log.Warn("shutdown took too long; exiting anyway")
		}
		if err := d.store.Close(); err != nil {
			d.log.Error("closing history", "err", err)
			d.stopErr = err
		}
		d.log.Info("smtpwatch stopped")
		if err := d.lock.Release(); err != nil && d.stopErr == nil {
			d.stopErr = fmt.Errorf("instance lock: %w", err)
		}
		d.logFile.Close()
	})
	return d.stopErr
}
