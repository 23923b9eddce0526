package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/config"
	"smtpwatch/monitor/engine"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/history"
	"smtpwatch/monitor/metrics"
	"smtpwatch/monitor/paths"
	"smtpwatch/monitor/probe"
	"smtpwatch/tray"
)

// shutdownLimit bounds a clean exit: probes cancelled, history flushed.
const shutdownLimit = 2 * time.Second

// daemonFlags are shared by run and tray.
type daemonFlags struct {
	config, socket, logFormat, logLevel string
	headless                            bool
}

func (a *app) daemonFlagSet(name, synopsis string, f *daemonFlags) *flag.FlagSet {
	fl := a.flags(name, synopsis)
	fl.StringVar(&f.config, "config", "", "config `file` (default: the user config dir's smtpwatch/config.toml)")
	fl.StringVar(&f.socket, "socket", "", "API socket `path` (default: in the user runtime dir)")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return fl
}

// runDaemon is `smtpwatch run`: the engine, the local API and, when a
// desktop session is there and --headless is not given, the tray.
func (a *app) runDaemon(ctx context.Context, args []string) int {
	var f daemonFlags
	fl := a.daemonFlagSet("run", "run [--config FILE] [--headless] [--log-format text|json] [--log-level LEVEL]", &f)
	fl.BoolVar(&f.headless, "headless", false, "no tray icon or notifications, even on a desktop")
	if code, ok := parse(fl, args); !ok {
		return code
	}
	// Before anything touches D-Bus (the keyring, the tray): without a
	// session bus, godbus would launch a stray dbus-daemon of its own.
	tray.PreventBusAutolaunch()
	path, err := configPath(f.config)
	if err != nil {
		return a.fail("%v", err)
	}
	cfg, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) && f.config == "" {
		// First start: write the commented template and watch it; the
		// tray's "Open settings" opens it.
		if _, werr := config.WriteTemplate(path); werr != nil {
			return a.fail("%v", werr)
		}
		cfg, err = config.Load(path)
		fmt.Fprintf(a.stderr, "smtpwatch: wrote %s — add your accounts there; smtpwatch picks them up when you save.\n", path)
	}
	if err != nil {
		return a.fail("%v", err)
	}
	stateDir := cfg.StateDir
	if stateDir == "" {
		if stateDir, err = paths.StateDir(); err != nil {
			return a.fail("%v", err)
		}
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return a.fail("state dir: %v", err)
	}
	logPath := filepath.Join(stateDir, "smtpwatch.log")
	logger, closeLog, err := a.daemonLogger(f, logPath)
	if err != nil {
		return a.fail("%v", err)
	}
	defer closeLog()

	socket, err := resolveSocket(f.socket)
	if err != nil {
		return a.fail("%v", err)
	}
	ln, err := api.Listen(socket)
	if err != nil {
		return a.fail("%v", err)
	}

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	store, err := history.Open(ctx, filepath.Join(stateDir, "history.db"))
	if err != nil {
		ln.Close()
		return a.fail("%v", err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	eng, err := engine.New(engine.Options{
		Config: cfg, Store: store, Obs: metrics.New(reg), Logger: logger,
		Deps: probe.Deps{Logger: logger},
	})
	if err != nil {
		store.Close()
		ln.Close()
		return a.fail("%v", err)
	}

	var wg sync.WaitGroup
	background := func(name string, fn func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := fn()
			switch {
			case err != nil && ctx.Err() == nil:
				logger.Error(name+" stopped", "err", err)
			default:
				logger.Debug(name + " stopped")
			}
		}()
	}
	background("engine", func() error { return eng.Run(ctx) })
	background("api", func() error { return api.Serve(ctx, ln, eng, reg, logger) })
	if cfg.MetricsListen != "" {
		background("metrics listener", func() error { return api.ServeMetrics(ctx, cfg.MetricsListen, reg, logger) })
	}
	reload := func() {
		c, err := config.Load(path)
		if err != nil {
			eng.ConfigError(err)
			return
		}
		eng.Reload(c)
	}
	background("config watch", func() error { return config.Watch(ctx, path, reload) })
	hup := make(chan os.Signal, 1)
	notifyHangup(hup)
	background("SIGHUP", func() error {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-hup:
				logger.Info("SIGHUP: reloading the config", "file", path)
				reload()
			}
		}
	})
	background("sleep watch", func() error {
		engine.WatchSleep(ctx, 0, func() { logger.Info("woke from sleep; checking again"); eng.Wake() })
		return nil
	})
	background("network watch", func() error {
		return engine.WatchNetwork(ctx, func() { logger.Info("network changed; checking again"); eng.Wake() })
	})
	enabled := 0
	for _, acc := range cfg.Accounts {
		if acc.Enabled {
			enabled++
		}
	}
	logger.Info("smtpwatch running", "version", version, "config", path, "accounts", enabled, "socket", socket, "state_dir", stateDir)

	trayErr := tray.ErrUnavailable
	if !f.headless {
		trayErr = tray.Run(ctx, tray.Options{
			Source: localSource{eng}, ConfigPath: path, LogPath: logPath, StateDir: stateDir, Logger: logger,
		})
	}
	switch {
	case f.headless:
	case errors.Is(trayErr, tray.ErrUnavailable):
		logger.Info("no desktop session: running without a tray icon")
	case trayErr != nil:
		logger.Error("tray stopped; running without it", "err", trayErr)
	default:
		stop() // Quit from the menu
	}
	<-ctx.Done()

	// Clean exit within shutdownLimit: everything above watches ctx.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(shutdownLimit):
		logger.Warn("shutdown took too long; exiting anyway")
	}
	if err := store.Close(); err != nil {
		logger.Error("closing history", "err", err)
	}
	logger.Info("smtpwatch stopped")
	return exitOK
}

// trayClient is `smtpwatch tray`: the tray alone, for an engine that runs
// as a system service, through the local API.
func (a *app) trayClient(ctx context.Context, args []string) int {
	var f daemonFlags
	fl := a.daemonFlagSet("tray", "tray [--socket PATH] [--config FILE]", &f)
	if code, ok := parse(fl, args); !ok {
		return code
	}
	path, err := configPath(f.config)
	if err != nil {
		return a.fail("%v", err)
	}
	stateDir, err := paths.StateDir()
	if err != nil {
		return a.fail("%v", err)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return a.fail("state dir: %v", err)
	}
	logger, closeLog, err := a.daemonLogger(f, filepath.Join(stateDir, "tray.log"))
	if err != nil {
		return a.fail("%v", err)
	}
	defer closeLog()
	c, err := daemonClient(f.socket)
	if err != nil {
		return a.fail("%v", err)
	}
	defer c.Close()
	err = tray.Run(ctx, tray.Options{Source: c, ConfigPath: path, LogPath: filepath.Join(stateDir, "smtpwatch.log"), StateDir: stateDir, Logger: logger})
	if errors.Is(err, tray.ErrUnavailable) {
		return a.fail("no desktop session to show a tray icon in")
	}
	if err != nil {
		return a.fail("%v", err)
	}
	return exitOK
}

func configPath(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	return config.DefaultPath()
}

// maxLogSize is where the log file is rotated (once, to .1) at start.
const maxLogSize = 5 << 20

// daemonLogger logs to stderr and to a file in the state dir (what "Open
// log" shows). Nothing logged carries a password: credential.Secret redacts
// itself, and no code logs credential values.
func (a *app) daemonLogger(f daemonFlags, file string) (*slog.Logger, func(), error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	if fi, err := os.Stat(file); err == nil && fi.Size() > maxLogSize {
		_ = os.Rename(file, file+".1")
	}
	lf, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("log file: %w", err)
	}
	w := io.MultiWriter(a.stderr, lf)
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(f.logFormat) {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		lf.Close()
		return nil, nil, fmt.Errorf("--log-format %q: want text or json", f.logFormat)
	}
	return slog.New(h), func() { lf.Close() }, nil
}

// localSource lets the tray drive the in-process engine.
type localSource struct{ e *engine.Engine }

func (s localSource) Status(context.Context) (health.Status, error) { return s.e.Status(), nil }
func (s localSource) Events(ctx context.Context) (<-chan health.Event, error) {
	return s.e.Subscribe(ctx), nil
}
func (s localSource) Check(ctx context.Context, account string) ([]probe.Result, error) {
	return s.e.Check(ctx, account)
}
func (s localSource) PauseUntil(_ context.Context, account string, until time.Time) error {
	return s.e.Pause(account, until)
}
func (s localSource) Resume(_ context.Context, account string) error { return s.e.Resume(account) }
