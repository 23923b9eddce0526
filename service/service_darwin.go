package service

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"

	kservice "github.com/kardianos/service"
)

// Install registers a LaunchAgent (per user) or a LaunchDaemon running as
// the user plus a LaunchAgent for the tray (system), with the property
// lists of launchdJobs; their output goes to ~/Library/Logs/smtpwatch.
func Install(o Options) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	u, err := user.Current()
	if o.System {
		u, err = user.Lookup(o.UserName)
	}
	if err != nil {
		return "", fmt.Errorf("service: user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	logs := launchdLogDir(u.HomeDir)
	if err := os.MkdirAll(logs, 0o700); err != nil {
		return "", fmt.Errorf("service: %w", err)
	}
	_ = os.Lchown(logs, uid, gid)
	daemon, tray := o.launchdJobs(u.HomeDir)
	s, err := o.kardianos(!o.System, kservice.KeyValue{"LaunchdConfig": daemon.plist()})
	if err != nil {
		return "", err
	}
	if err := s.Install(); err != nil {
		return "", permission(fmt.Errorf("service: %w", err))
	}
	if tray == nil {
		return "LaunchAgent " + o.name() + ", started at login (output in " + daemon.logPath() + ")", nil
	}
	p := filepath.Join(u.HomeDir, "Library", "LaunchAgents", tray.Label+".plist")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("service: %w", err)
	}
	if err := os.WriteFile(p, []byte(tray.plist()), 0o644); err != nil {
		return "", fmt.Errorf("service: %w", err)
	}
	_ = os.Lchown(p, uid, gid)
	return fmt.Sprintf("LaunchDaemon %s (as %s) and the tray LaunchAgent %s", o.name(), o.UserName, p), nil
}

// installed asks launchd's files: a LaunchAgent per user, a LaunchDaemon
// for the system.
func installed(o Options) (Installation, error) {
	s, err := o.kardianos(!o.System, nil)
	if err != nil {
		return Installation{}, err
	}
	if _, err := s.Status(); errors.Is(err, kservice.ErrNotInstalled) {
		return Installation{}, nil
	}
	if o.System {
		return Installation{What: fmt.Sprintf("LaunchDaemon %s (as %s)", o.name(), o.UserName), Managed: true}, nil
	}
	return Installation{What: "LaunchAgent " + o.name(), Managed: true}, nil
}

// remove deletes what Install made, without stopping anything.
func remove(o Options) error {
	if o.System {
		if u, err := user.Lookup(o.UserName); err == nil {
			_ = os.Remove(filepath.Join(u.HomeDir, "Library", "LaunchAgents", o.trayLabel()+".plist"))
		}
	}
	s, err := o.kardianos(!o.System, nil)
	if err != nil {
		return err
	}
	if err := s.Uninstall(); err != nil && !os.IsNotExist(err) {
		return permission(fmt.Errorf("service: %w", err))
	}
	return nil
}

// managerState is launchd's word: "running" or "stopped".
func managerState(o Options) string {
	return kardianosState(o.kardianos(!o.System, nil))
}

// managerLog is the job's output file, where launchd puts what the
// daemon prints (~/Library/Logs/smtpwatch/NAME.log).
func managerLog(o Options) (string, []string) {
	home, err := o.home()
	if o.System {
		var u *user.User
		if u, err = user.Lookup(o.UserName); err == nil {
			home = u.HomeDir
		}
	}
	if err != nil {
		return "", nil
	}
	daemon, _ := o.launchdJobs(home)
	return daemon.logPath(), tail(daemon.logPath(), logLines)
}

// startDetached is not used on macOS: launchd starts every install.
func startDetached(Options) (*exec.Cmd, string, error) {
	return nil, "", errors.New("service: launchd starts smtpwatch on macOS")
}
