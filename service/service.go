// Package service makes smtpwatch start by itself, through each OS's own
// mechanism (github.com/kardianos/service where it fits):
//
//   - Per user, the default: `smtpwatch run` starts at login, in the user's
//     desktop session, so the tray icon can show. Linux: a systemd user unit
//     (WantedBy=default.target) when a user manager runs, else an XDG
//     autostart entry; macOS: a LaunchAgent; Windows: a logon task.
//   - System (--system, Linux and macOS): `smtpwatch run --headless` starts
//     at boot, before anyone logs in, running as the user whose accounts it
//     watches, and the tray client (`smtpwatch tray`) is registered for that
//     user's logins. Both are given the same --socket, since a boot-time
//     service has no per-session runtime directory.
//
// Install, Uninstall, Start, Stop and Status block until the OS tool they
// run answers. Errors say what to do, e.g. to run with sudo.
package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

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
	// Socket is passed to the daemon and the tray (system mode).
	Socket string
	// UserName is the account the system daemon runs as (system mode).
	UserName string
	// Home and ConfigHome locate the user's autostart files; "" means the
	// current user's (os.UserHomeDir, $XDG_CONFIG_HOME or ~/.config).
	Home, ConfigHome string
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
	if o.System && (o.UserName == "" || o.Socket == "") {
		return errors.New("service: a system install needs the user it runs as and a socket path")
	}
	return nil
}

// daemonArgs are the arguments of the daemon the OS starts.
func (o Options) daemonArgs() []string {
	args := []string{"run", "--config", o.ConfigPath}
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

// describe turns a kardianos status into words.
func describe(st kservice.Status, err error) string {
	switch {
	case errors.Is(err, kservice.ErrNotInstalled):
		return "not installed"
	case err != nil:
		return "unknown: " + err.Error()
	case st == kservice.StatusRunning:
		return "installed, running"
	case st == kservice.StatusStopped:
		return "installed, stopped"
	}
	return "unknown"
}

// permission explains a refusal to write a system location.
func permission(err error) error {
	if errors.Is(err, os.ErrPermission) || strings.Contains(strings.ToLower(fmt.Sprint(err)), "permission denied") {
		return fmt.Errorf("%w (a system install needs root: run it with sudo)", err)
	}
	return err
}
