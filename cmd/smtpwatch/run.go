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
	"time"

	"smtpwatch/icons"
	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/daemon"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/paths"
	"smtpwatch/monitor/probe"
	"smtpwatch/tray"
)

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

// runDaemon is `smtpwatch run`: the daemon (monitor/daemon) and, when a
// desktop session is there and --headless is not given, the tray.
func (a *app) runDaemon(ctx context.Context, args []string) int {
	var f daemonFlags
	fl := a.daemonFlagSet("run", "run [--config FILE] [--headless] [--log-format text|json] [--log-level LEVEL]", &f)
	fl.BoolVar(&f.headless, "headless", false, "no tray icon or notifications, even on a desktop")
	var stateDir string
	fl.StringVar(&stateDir, "state-dir", "", "state `directory` (default: the config's state_dir, else the user's); a Windows service's is given")
	if code, ok := parse(fl, args); !ok {
		return code
	}
	newLogger, err := a.loggerFactory(f)
	if err != nil {
		return a.fail("%v", err)
	}
	// Before anything touches D-Bus (the keyring, the tray): without a
	// session bus, godbus would launch a stray dbus-daemon of its own.
	credential.PreventBusAutolaunch()
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
	socket, err := resolveSocket(f.socket)
	if err != nil {
		return a.fail("%v", err)
	}

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var d *daemon.Daemon
	started := make(chan struct{})
	signIns := &dashboardSignIns{a: a, life: ctx,
		log: func() *slog.Logger { <-started; return d.Logger() },
		done: func(name string) {
			<-started
			if _, err := d.Engine().Check(ctx, name); err != nil && ctx.Err() == nil {
				d.Logger().Warn("check after a sign-in", "account", name, "err", err)
			}
		}}
	d, err = daemon.Start(ctx, daemon.Options{ConfigPath: path, Config: cfg, StateDir: stateDir, Socket: socket, NewLogger: newLogger, Version: version,
		UIIcon: icons.PNG, OAuth2SignIn: signIns.start})
	if err != nil {
		return a.fail("%v", err)
	}
	close(started)
	logger := d.Logger()
	hup := make(chan os.Signal, 1)
	notifyHangup(hup)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-d.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: reloading the config", "file", path)
				d.Reload()
			}
		}
	}()

	trayErr := tray.ErrUnavailable
	if !f.headless {
		trayErr = tray.Run(ctx, tray.Options{
			Source: localSource{d}, ConfigPath: path, LogPath: d.LogPath(), StateDir: d.StateDir(), Logger: logger,
			SignIn: a.traySignIn(path, logger), CanSignIn: traySignsIn(path),
			Dashboard: func(context.Context) (string, error) { return d.DashboardURL() },
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
	if err := d.Stop(); err != nil {
		return a.fail("%v", err)
	}
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
	err = tray.Run(ctx, tray.Options{Source: c, ConfigPath: path, LogPath: filepath.Join(stateDir, "smtpwatch.log"), StateDir: stateDir, Logger: logger,
		SignIn: a.traySignIn(path, logger), CanSignIn: traySignsIn(path), Dashboard: c.DashboardURL})
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

// maxLogSize is where the tray's log file is rotated (once, to .1) at
// start; the daemon rotates its own (monitor/daemon).
const maxLogSize = 5 << 20

// loggerFactory checks --log-format and --log-level and returns what makes
// the logger: to stderr and to the given log file. Nothing logged carries
// a password: credential.Secret redacts itself, and no code logs
// credential values.
func (a *app) loggerFactory(f daemonFlags) (func(io.Writer) *slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(f.logFormat) {
	case "text":
		return func(file io.Writer) *slog.Logger {
			return slog.New(slog.NewTextHandler(io.MultiWriter(a.stderr, file), opts))
		}, nil
	case "json":
		return func(file io.Writer) *slog.Logger {
			return slog.New(slog.NewJSONHandler(io.MultiWriter(a.stderr, file), opts))
		}, nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", f.logFormat)
}

// daemonLogger logs to stderr and to file, for the tray client.
func (a *app) daemonLogger(f daemonFlags, file string) (*slog.Logger, func(), error) {
	newLogger, err := a.loggerFactory(f)
	if err != nil {
		return nil, nil, err
	}
	if fi, err := os.Stat(file); err == nil && fi.Size() > maxLogSize {
		_ = os.Rename(file, file+".1")
	}
	lf, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("log file: %w", err)
	}
	return newLogger(lf), func() { lf.Close() }, nil
}

// localSource lets the tray drive the in-process daemon: its status, its
// event stream (with the decided notifications) and its engine.
type localSource struct{ d *daemon.Daemon }

func (s localSource) Status(context.Context) (health.Status, error) { return s.d.Status(), nil }
func (s localSource) Events(ctx context.Context) (<-chan health.Event, error) {
	return s.d.Subscribe(ctx), nil
}
func (s localSource) Check(ctx context.Context, account string) ([]probe.Result, error) {
	return s.d.Engine().Check(ctx, account)
}
func (s localSource) PauseUntil(_ context.Context, account string, until time.Time) error {
	return s.d.Engine().Pause(account, until)
}
func (s localSource) Resume(_ context.Context, account string) error {
	return s.d.Engine().Resume(account)
}
