package service

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// On Windows a service runs in session 0, where no tray icon can show, and
// kardianos has no per-user services; so smtpwatch is a logon task of the
// user, started in their desktop session. Build it with
// `go build -ldflags -H=windowsgui` so no console window opens.

var errNoSystem = errors.New("service: --system is not supported on Windows: install per user (the default), which starts smtpwatch at logon with its tray icon")

func schtasks(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "schtasks.exe", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("service: schtasks %s: %w: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// taskCommand quotes the task's command line for schtasks /TR.
func (o Options) taskCommand() string {
	words := []string{`"` + o.Executable + `"`}
	for _, a := range o.daemonArgs() {
		if strings.ContainsAny(a, " \t\"") {
			a = `"` + strings.ReplaceAll(a, `"`, `\"`) + `"`
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

// Install creates the logon task.
func Install(o Options) (string, error) {
	if o.System {
		return "", errNoSystem
	}
	if err := o.check(); err != nil {
		return "", err
	}
	if _, err := schtasks("/Query", "/TN", o.name()); err == nil {
		return "", fmt.Errorf("service: already installed (task %q); uninstall first", o.name())
	}
	if _, err := schtasks("/Create", "/SC", "ONLOGON", "/TN", o.name(), "/TR", o.taskCommand(), "/RL", "LIMITED"); err != nil {
		return "", err
	}
	return "logon task " + o.name(), nil
}

// Uninstall deletes the task; a missing one is no error.
func Uninstall(o Options) error {
	if o.System {
		return errNoSystem
	}
	if _, err := schtasks("/Query", "/TN", o.name()); err != nil {
		return nil
	}
	_, _ = schtasks("/End", "/TN", o.name())
	_, err := schtasks("/Delete", "/F", "/TN", o.name())
	return err
}

// Start runs the task now.
func Start(o Options) error {
	_, err := schtasks("/Run", "/TN", o.name())
	return err
}

// Stop ends the task's process.
func Stop(o Options) error {
	_, err := schtasks("/End", "/TN", o.name())
	return err
}

// Status reads the task's state.
func Status(o Options) string {
	out, err := schtasks("/Query", "/TN", o.name(), "/FO", "LIST")
	if err != nil {
		return "not installed"
	}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "Status" {
			return "installed: logon task, " + strings.ToLower(strings.TrimSpace(v))
		}
	}
	return "installed: logon task"
}
