// Package daemon assembles what `smtpwatch run` runs, without the tray:
// the instance lock in the state directory, the log file, the history
// database, the engine, the local API on its socket (and the Prometheus
// listener when configured), the config file watch, and the sleep and
// network watches, and the dashboard (monitor/web) on its loopback
// listener unless the config says ui = false. Start brings them up in
// that order and Stop takes them down within ShutdownLimit, so that tests
// drive the whole daemon in-process and the command is a thin wrapper
// around it.
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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/config"
	"smtpwatch/monitor/engine"
	"smtpwatch/monitor/history"
	"smtpwatch/monitor/instance"
	"smtpwatch/monitor/metrics"
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
		logPath: filepath.Join(stateDir, LogFile)}
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
	d.eng, err = engine.New(engine.Options{
		Config: o.Config, Probe: o.Probe, Deps: deps, Store: d.store, Obs: metrics.New(reg),
		Fingerprints: fp, Logger: d.log,
	})
	if err != nil {
		cancel()
		return fail(err)
	}

	d.background(ctx, "engine", func() error { return d.eng.Run(ctx) })
	d.startUI(ctx, o)
	d.background(ctx, "api", func() error { return api.Serve(ctx, ln, apiEngine{d.eng, d}, reg, d.log) })
	if o.Config.MetricsListen != "" {
		d.background(ctx, "metrics listener", func() error { return api.ServeMetrics(ctx, o.Config.MetricsListen, reg, d.log) })
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
		Engine: d.eng, History: d.store, ConfigPath: d.cfgPath, Reload: d.Reload, Icon: o.UIIcon,
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

// apiEngine is the engine as the API serves it, with the dashboard's
// links.
type apiEngine struct {
	*engine.Engine
	d *Daemon
}

func (e apiEngine) DashboardURL() (string, error) { return e.d.DashboardURL() }

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
