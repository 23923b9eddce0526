package service

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
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

// installed asks the Task Scheduler for the logon task.
func installed(o Options) (Installation, error) {
	if o.System {
		return Installation{}, errNoSystem
	}
	if _, err := schtasks("/Query", "/TN", o.name()); err != nil {
		return Installation{}, nil
	}
	return Installation{What: "logon task " + o.name(), Managed: true}, nil
}

// remove deletes the task; a missing one is no error.
func remove(o Options) error {
	if _, err := schtasks("/Query", "/TN", o.name()); err != nil {
		return nil
	}
	_, err := schtasks("/Delete", "/F", "/TN", o.name())
	return err
}

// managerStart runs the task now.
func managerStart(o Options) error {
	_, err := schtasks("/Run", "/TN", o.name())
	return err
}

// managerStop ends the task's process.
func managerStop(o Options) error {
	_, err := schtasks("/End", "/TN", o.name())
	return err
}

// managerState is the task's status as the Task Scheduler says it
// ("running", "ready"...).
func managerState(o Options) string {
	out, err := schtasks("/Query", "/TN", o.name(), "/FO", "LIST")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "Status" {
			return strings.ToLower(strings.TrimSpace(v))
		}
	}
	return ""
}

// managerLog: the task keeps no output; the daemon's own log is in its
// state directory.
func managerLog(o Options) (string, []string) {
	if o.StateDir == "" {
		return "", nil
	}
	p := filepath.Join(o.StateDir, "smtpwatch.log")
	return p, tail(p, logLines)
}

// startDetached is not used on Windows: the Task Scheduler starts it.
func startDetached(Options) (*exec.Cmd, string, error) {
	return nil, "", errors.New("service: the Task Scheduler starts smtpwatch on Windows")
}
