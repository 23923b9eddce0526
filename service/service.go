// Package service makes smtpwatch start by itself, through each OS's own
// mechanism (github.com/kardianos/service where it fits):
//
//   - Per user, the default: `smtpwatch run` starts at login, in the user's
//     desktop session, so the tray icon can show. Linux: a systemd user unit
//     (WantedBy=default.target) when a user manager runs, else an XDG
//     autostart entry; macOS: a LaunchAgent; Windows: a logon task.
//   - System (--system): `smtpwatch run --headless` starts at boot, before
//     anyone logs in, and the tray client (`smtpwatch tray`) is registered
//     for logins. Both are given the same --socket, since a boot-time
//     service has no per-session runtime directory. Linux and macOS: the
//     daemon runs as the user whose accounts it watches (a hardened systemd
//     unit, a SysV init script, a LaunchDaemon), the tray at that user's
//     logins. Windows: a Windows service running as LocalService (delayed
//     automatic start, restarted on failure, logging to the Event Log),
//     whose API socket only the members of a group may open, and the tray
//     at every member's logon.
//
// The files the OS reads (units, scripts, property lists, task XML,
// security descriptors) are written by plain functions (units.go,
// launchd.go, windows.go) that tests on Linux read back with the OS's own
// tools or a real parser; the per-OS files only hand them to the OS.
//
// Install, Uninstall, Start, Stop and Status block until the OS tool they
// run answers, and Start and Stop until the daemon answers on its socket or
// has ended (bounded by Options.StartWait and StopWait). Each reports what
// is true afterwards — which process runs, what was removed — rather than
// what was asked for. Errors say what to do, e.g. to run with sudo.
//
// Whether a daemon runs, and which process it is, comes from the daemon
// itself: the instance lock it holds in its state directory
// (monitor/instance) and its API socket, which must answer.
package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	kservice "github.com/kardianos/service"
)

// DefaultName is the service's name in the OS.
const DefaultName = "smtpwatch"

// Options say what to install. Executable and ConfigPath are required.
type Options struct {
	Name       string // "" means DefaultName; tests use their own
	System     bool
	Executable string // absolute path of the smtpwatch binary
	ConfigPath string
	// Socket is the daemon's API socket. In system mode it is passed to the
	// daemon and the tray; in every mode Start, Stop, Status and Uninstall
	// ask it whether the daemon runs ("" leaves only the lock to tell).
	Socket string
	// StateDir is the daemon's state directory, where it holds its
	// instance lock and keeps its log ("" leaves only the socket to tell).
	StateDir string
	// StartWait bounds how long Start waits for the started daemon to
	// answer, StopWait how long Stop waits for it to end; 0 means
	// DefaultStartWait and DefaultStopWait.
	StartWait, StopWait time.Duration
	// UserName is the account the system daemon runs as (system mode, Linux
	// and macOS; the Windows service runs as LocalServiceAccount).
	UserName string
	// Group is the group whose members may reach the system daemon's API
	// and whose logons start the tray (system mode, Windows).
	Group string
	// Home and ConfigHome locate the user's autostart files; "" means the
	// current user's (os.UserHomeDir, $XDG_CONFIG_HOME or ~/.config).
	Home, ConfigHome string
}

// The default bounds of Start and Stop.
const (
	DefaultStartWait = 5 * time.Second
	DefaultStopWait  = 10 * time.Second
)

// ErrNotInstalled is returned by Start when nothing is installed.
var ErrNotInstalled = errors.New("service: smtpwatch is not installed; install it with: smtpwatch service install")

// Installation says how smtpwatch is installed.
type Installation struct {
	// What is how, in words: "autostart entry /home/me/.config/autostart/smtpwatch.desktop";
	// "" when nothing is installed.
	What string
	// Managed is set when a service manager (systemd, SysV init, launchd,
	// the Task Scheduler) starts and stops the daemon; an XDG autostart
	// entry has none, so smtpwatch starts and stops that daemon itself.
	Managed bool
}

// Installed reports whether anything is installed.
func (i Installation) Installed() bool { return i.What != "" }

// State is what Status finds.
type State struct {
	Installation
	// Running is set when a daemon runs for these options: it holds the
	// lock of StateDir or answers on Socket (installed or not).
	Running bool
	// PID is the running daemon's process id; 0 when none runs or the
	// system does not tell.
	PID int
	// Manager is the service manager's own word on the service ("running",
	// "stopped", "failed"...), "" without a manager or when it says
	// nothing.
	Manager string
}

func (o Options) startWait() time.Duration {
	if o.StartWait > 0 {
		return o.StartWait
	}
	return DefaultStartWait
}

func (o Options) stopWait() time.Duration {
	if o.StopWait > 0 {
		return o.StopWait
	}
	return DefaultStopWait
}

func (o Options) name() string {
	if o.Name != "" {
		return o.Name
	}
	return DefaultName
}

func (o Options) check() error {
	if !filepath.IsAbs(o.Executable) {
		return fmt.Errorf("service: the executable path %q is not absolute", o.Executable)
	}
	if o.ConfigPath == "" {
		return errors.New("service: no config path")
	}
	if o.System && runtime.GOOS != "windows" && (o.UserName == "" || o.Socket == "") {
		return errors.New("service: a system install needs the user it runs as and a socket path")
	}
	if o.System && runtime.GOOS == "windows" && (o.Group == "" || o.Socket == "" || o.StateDir == "") {
		return errors.New("service: a system install on Windows needs the group allowed to reach it (--group NAME), a socket path and a state directory")
	}
	return checkTemplateText(append([]string{o.Executable, o.ConfigPath, o.Socket, o.StateDir, o.UserName}, o.daemonArgs()...)...)
}

// daemonArgs are the arguments of the daemon the OS starts; without a
// config path (the unit the packages ship) it uses the user's default.
func (o Options) daemonArgs() []string {
	args := []string{"run"}
	if o.ConfigPath != "" {
		args = append(args, "--config", o.ConfigPath)
	}
	if o.System {
		args = append(args, "--headless", "--socket", o.Socket)
	}
	return args
}

// trayArgs are the arguments of the tray client started at login (system
// mode).
func (o Options) trayArgs() []string {
	return []string{"tray", "--config", o.ConfigPath, "--socket", o.Socket}
}

func (o Options) home() (string, error) {
	if o.Home != "" {
		return o.Home, nil
	}
	return os.UserHomeDir()
}

// configHome is the user's XDG config dir.
func (o Options) configHome() (string, error) {
	if o.ConfigHome != "" {
		return o.ConfigHome, nil
	}
	if d := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) && o.Home == "" {
		return d, nil
	}
	h, err := o.home()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, ".config"), nil
}

// noop satisfies kardianos's Interface: we only ever install and control
// the service with it; the service manager starts `smtpwatch run` itself,
// which needs no handshake on Linux and macOS.
type noop struct{}

func (noop) Start(kservice.Service) error { return nil }
func (noop) Stop(kservice.Service) error  { return nil }

// kardianos builds the OS service for the daemon.
func (o Options) kardianos(userService bool, extra kservice.KeyValue) (kservice.Service, error) {
	opt := kservice.KeyValue{"UserService": userService, "Restart": "on-failure"}
	for k, v := range extra {
		opt[k] = v
	}
	cfg := &kservice.Config{
		Name:        o.name(),
		DisplayName: "smtpwatch",
		Description: "Watches outgoing mail servers and tells whether sending would work",
		Executable:  o.Executable,
		Arguments:   o.daemonArgs(),
		Option:      opt,
	}
	if o.System {
		cfg.UserName = o.UserName
	}
	s, err := kservice.New(noop{}, cfg)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	return s, nil
}

// permission explains a refusal to write a system location.
func permission(err error) error {
	if errors.Is(err, os.ErrPermission) || strings.Contains(strings.ToLower(fmt.Sprint(err)), "permission denied") {
		return fmt.Errorf("%w (a system install needs root: run it with sudo)", err)
	}
	return err
}

// kardianosState is what kardianos says of s: "running", "stopped", or ""
// when it cannot tell.
func kardianosState(s kservice.Service, err error) string {
	if err != nil {
		return ""
	}
	switch st, err := s.Status(); {
	case err != nil:
		return ""
	case st == kservice.StatusRunning:
		return "running"
	case st == kservice.StatusStopped:
		return "stopped"
	}
	return ""
}
