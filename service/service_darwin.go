package service

import (
	"errors"
	"fmt"
	"html"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	kservice "github.com/kardianos/service"
)

// Install registers a LaunchAgent (per user) or a LaunchDaemon running as
// the user plus a LaunchAgent for the tray (system).
func Install(o Options) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	s, err := o.kardianos(!o.System, kservice.KeyValue{"RunAtLoad": true, "KeepAlive": true})
	if err != nil {
		return "", err
	}
	if err := s.Install(); err != nil {
		return "", permission(fmt.Errorf("service: %w", err))
	}
	if !o.System {
		return "LaunchAgent " + o.name() + ", started at login", nil
	}
	p, err := o.writeTrayAgent()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("LaunchDaemon %s (as %s) and the tray LaunchAgent %s", o.name(), o.UserName, p), nil
}

// writeTrayAgent writes the user's LaunchAgent for `smtpwatch tray`.
func (o Options) writeTrayAgent() (string, error) {
	u, err := user.Lookup(o.UserName)
	if err != nil {
		return "", fmt.Errorf("service: user %q: %w", o.UserName, err)
	}
	label := "com.smtpwatch." + o.name() + "-tray"
	p := filepath.Join(u.HomeDir, "Library", "LaunchAgents", label+".plist")
	var args strings.Builder
	for _, a := range append([]string{o.Executable}, o.trayArgs()...) {
		args.WriteString("\t\t<string>" + html.EscapeString(a) + "</string>\n")
	}
	plist := `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>Label</key><string>` + label + `</string>
	<key>ProgramArguments</key>
	<array>
` + args.String() + `	</array>
	<key>RunAtLoad</key><true/>
	<key>LimitLoadToSessionType</key><string>Aqua</string>
</dict>
</plist>
`
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("service: %w", err)
	}
	if err := os.WriteFile(p, []byte(plist), 0o644); err != nil {
		return "", fmt.Errorf("service: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	_ = os.Lchown(p, uid, gid)
	return p, nil
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
			_ = os.Remove(filepath.Join(u.HomeDir, "Library", "LaunchAgents", "com.smtpwatch."+o.name()+"-tray.plist"))
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
	s, err := o.kardianos(!o.System, nil)
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

// managerLog: the LaunchAgent keeps no output file; the daemon's own log
// is in its state directory.
func managerLog(o Options) (string, []string) {
	if o.StateDir == "" {
		return "", nil
	}
	p := filepath.Join(o.StateDir, "smtpwatch.log")
	return p, tail(p, logLines)
}

// startDetached is not used on macOS: launchd starts every install.
func startDetached(Options) (*exec.Cmd, string, error) {
	return nil, "", errors.New("service: launchd starts smtpwatch on macOS")
}
