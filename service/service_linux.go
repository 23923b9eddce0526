package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	kservice "github.com/kardianos/service"
)

// systemdUser reports whether a systemd user manager answers for this user.
func systemdUser() bool {
	if !systemdRuns() {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "systemctl", "--user", "show-environment").Run() == nil
}

// Install registers smtpwatch with the OS. It refuses to install twice.
func Install(o Options) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	if o.System {
		return installSystem(o)
	}
	if systemdUser() {
		s, err := o.kardianos(true, kservice.KeyValue{"SystemdScript": userUnit(o)})
		if err != nil {
			return "", err
		}
		if err := s.Install(); err != nil {
			return "", fmt.Errorf("service: %w", err)
		}
		return fmt.Sprintf("systemd user unit %s.service, started at login", o.name()), nil
	}
	if p, _ := o.autostartPath(o.name()); exists(p) {
		return "", fmt.Errorf("service: already installed (%s); uninstall first", p)
	}
	p, err := o.writeAutostart(o.name(), o.daemonArgs(), -1, -1)
	if err != nil {
		return "", err
	}
	return "autostart entry " + p + ", started at login", nil
}

// systemUser fills in what a system install needs of its user: the home
// (for the tray's autostart entry) and the state directory the daemon
// uses there by default (~/.local/state/smtpwatch: the service has none
// of the session's variables). It returns the user and the name of their
// primary group.
func (o *Options) systemUser() (*user.User, string, error) {
	u, err := user.Lookup(o.UserName)
	if err != nil {
		return nil, "", fmt.Errorf("service: user %q: %w", o.UserName, err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		return nil, "", fmt.Errorf("service: the group of user %q: %w", o.UserName, err)
	}
	if o.Home == "" {
		o.Home = u.HomeDir
	}
	if o.StateDir == "" {
		o.StateDir = filepath.Join(u.HomeDir, ".local", "state", "smtpwatch")
	}
	return u, g.Name, nil
}

// installSystem installs the boot-time daemon (a hardened systemd unit,
// or a SysV init script where systemd does not run) and the tray's
// autostart entry for the user.
func installSystem(o Options) (string, error) {
	u, group, err := o.systemUser()
	if err != nil {
		return "", err
	}
	if systemdRuns() {
		if err := o.checkSystemdPaths(); err != nil {
			return "", err
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// The unit's ReadWritePaths= must exist when it starts: make them,
	// the user's. Directories under /run and /var/lib are made at each
	// start (RuntimeDirectory=, StateDirectory=, the init script).
	for _, d := range o.writablePaths() {
		_, run := underDir(d, runDir)
		_, lib := underDir(d, stateRoot)
		if run || lib || exists(d) {
			continue
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return "", permission(fmt.Errorf("service: %w", err))
		}
		if err := os.Lchown(d, uid, gid); err != nil {
			return "", permission(fmt.Errorf("service: %w", err))
		}
	}
	s, err := o.kardianos(false, kservice.KeyValue{"SystemdScript": systemUnit(o), "SysvScript": sysvInit(o, group, u.HomeDir)})
	if err != nil {
		return "", err
	}
	if err := s.Install(); err != nil {
		return "", permission(fmt.Errorf("service: %w", err))
	}
	p, err := o.writeAutostart(o.name()+"-tray", o.trayArgs(), uid, gid)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("system service %q (%s, as %s) and the tray at %s's logins (%s)", o.name(), s.Platform(), o.UserName, o.UserName, p), nil
}

// systemdRuns reports whether systemd is the init system here.
func systemdRuns() bool {
	_, err := os.Stat("/run/systemd/system")
	return err == nil
}

// systemUnitPath, sysvScriptPath and userUnitPath are where a system unit,
// a SysV init script and a systemd user unit live.
func systemUnitPath(name string) string { return "/etc/systemd/system/" + name + ".service" }
func sysvScriptPath(name string) string { return "/etc/init.d/" + name }

func (o Options) userUnitPath() (string, error) {
	h, err := o.home()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, ".config", "systemd", "user", o.name()+".service"), nil
}

// installed says how smtpwatch is installed: for the system, a systemd
// unit or a SysV init script; per user, an autostart entry or a systemd
// user unit.
func installed(o Options) (Installation, error) {
	if o.System {
		if p := systemUnitPath(o.name()); exists(p) {
			return Installation{What: fmt.Sprintf("system service %q (systemd unit %s, as %s)", o.name(), p, o.UserName), Managed: true}, nil
		}
		if p := sysvScriptPath(o.name()); exists(p) {
			return Installation{What: fmt.Sprintf("system service %q (SysV init script %s, as %s)", o.name(), p, o.UserName), Managed: true}, nil
		}
		return Installation{}, nil
	}
	p, err := o.autostartPath(o.name())
	if err != nil {
		return Installation{}, err
	}
	if exists(p) {
		return Installation{What: "autostart entry " + p}, nil
	}
	if u, err := o.userUnitPath(); err == nil && exists(u) {
		return Installation{What: fmt.Sprintf("systemd user unit %s.service (%s)", o.name(), u), Managed: true}, nil
	}
	return Installation{}, nil
}

// systemctl runs systemctl (with --user for a per-user install), bounded.
func (o Options) systemctl(args ...string) (string, error) {
	if !o.System {
		args = append([]string{"--user"}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "systemctl", args...).Output()
	return strings.TrimSpace(string(out)), err
}

// usesSystemd reports whether systemd manages the installed service.
func (o Options) usesSystemd() bool {
	if o.System {
		return exists(systemUnitPath(o.name()))
	}
	u, err := o.userUnitPath()
	return err == nil && exists(u)
}

// managerState is systemd's or the init script's word on the service:
// "running", "stopped", "failed", "starting"; "" when it says nothing.
func managerState(o Options) string {
	if o.usesSystemd() {
		out, _ := o.systemctl("is-active", o.name()+".service")
		switch out {
		case "active":
			return "running"
		case "inactive":
			return "stopped"
		case "activating":
			return "starting"
		}
		return out
	}
	if !o.System {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, sysvScriptPath(o.name()), "status").Output()
	return strings.ToLower(strings.TrimSpace(string(out)))
}

// managerLog is where the service manager puts the daemon's output, and
// its last lines: the journal under systemd, /var/log/NAME.log with the
// SysV script.
func managerLog(o Options) (string, []string) {
	if o.usesSystemd() {
		args := []string{"-u", o.name() + ".service", "-n", fmt.Sprint(logLines), "--no-pager", "-o", "cat"}
		where := "journalctl -u " + o.name() + ".service"
		if !o.System {
			args = append([]string{"--user"}, args...)
			where = "journalctl --user -u " + o.name() + ".service"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "journalctl", args...).Output()
		if err != nil || len(out) == 0 {
			return where, nil
		}
		return where, strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	}
	p := "/var/log/" + o.name() + ".log"
	return p, tail(p, logLines)
}

// startDetached starts what the autostart entry runs at login (it has no
// manager): in a session of its own, so that it outlives this command and
// the terminal, with its output in the state directory.
func startDetached(o Options) (*exec.Cmd, string, error) {
	p, err := o.autostartPath(o.name())
	if err != nil {
		return nil, "", err
	}
	argv, err := desktopExec(p)
	if err != nil {
		return nil, "", err
	}
	out, path, err := o.outputFile()
	if err != nil {
		return nil, "", err
	}
	defer out.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("service: starting %s: %w", o.Executable, err)
	}
	return cmd, path, nil
}

// remove deletes what Install made, without stopping anything; what is
// missing is no error.
func remove(o Options) error {
	if o.System {
		_, _, _ = o.systemUser()
		if _, err := o.removeAutostart(o.name() + "-tray"); err != nil {
			return err
		}
		s, err := o.kardianos(false, nil)
		if err != nil {
			return err
		}
		if err := s.Uninstall(); err != nil && !notInstalled(err) {
			return permission(fmt.Errorf("service: %w", err))
		}
		removeSysVLinks(o.name())
		// What the init script leaves: its pid file and log; and the
		// socket's directory under /run, once empty. The user's config
		// and state stay.
		for _, p := range []string{"/var/run/" + o.name() + ".pid", "/var/log/" + o.name() + ".log"} {
			if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
				return permission(fmt.Errorf("service: %w", err))
			}
		}
		for _, d := range o.writablePaths() {
			if _, ok := underDir(d, runDir); ok {
				_ = os.Remove(d)
			}
		}
		return nil
	}
	if _, err := o.removeAutostart(o.name()); err != nil {
		return err
	}
	u, err := o.userUnitPath()
	if err != nil || !exists(u) {
		return nil
	}
	if systemdUser() {
		s, err := o.kardianos(true, nil)
		if err != nil {
			return err
		}
		if err := s.Uninstall(); err != nil && !notInstalled(err) {
			return fmt.Errorf("service: %w", err)
		}
		return nil
	}
	// No user manager runs to disable it: remove the unit and its link.
	if err := os.Remove(u); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("service: %w", err)
	}
	_ = os.Remove(filepath.Join(filepath.Dir(u), "default.target.wants", o.name()+".service"))
	return nil
}

// removeSysVLinks removes the runlevel links kardianos's SysV install makes
// and its uninstall leaves behind; only links to our own init script.
func removeSysVLinks(name string) {
	script := "/etc/init.d/" + name
	for _, lvl := range []string{"0", "1", "2", "3", "4", "5", "6"} {
		for _, prefix := range []string{"S50", "K02"} {
			l := "/etc/rc" + lvl + ".d/" + prefix + name
			if dst, err := os.Readlink(l); err == nil && dst == script {
				_ = os.Remove(l)
			}
		}
	}
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return p != "" && err == nil
}

func notInstalled(err error) bool {
	return errors.Is(err, kservice.ErrNotInstalled) || errors.Is(err, os.ErrNotExist)
}
