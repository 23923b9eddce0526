package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"

	kservice "github.com/kardianos/service"
)

// userUnit is the systemd user unit: kardianos's default says
// WantedBy=multi-user.target, which a user manager never reaches, so the
// daemon would never start at login.
const userUnit = `[Unit]
Description={{Description}}
ConditionFileIsExecutable={{Path | cmdEscape}}

[Service]
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
Restart=on-failure
RestartSec=30

[Install]
WantedBy=default.target
`

// systemUnit is the boot-time unit: after the network, as the user.
const systemUnit = `[Unit]
Description={{Description}}
ConditionFileIsExecutable={{Path | cmdEscape}}
Wants=network-online.target
After=network-online.target

[Service]
ExecStart={{Path | cmdEscape}}{{range Arguments}} {{. | cmd}}{{end}}
{{if UserName}}User={{UserName}}
{{end}}Restart=on-failure
RestartSec=30

[Install]
WantedBy=multi-user.target
`

// sysvScript is the init script for machines without systemd. kardianos's
// own ignores the user to run as; this one drops to the user with setpriv,
// which execs (so the pid file is the daemon's) and sets HOME so the
// daemon finds the user's state directory. The user and home are filled
// in with fmt before kardianos renders the rest.
const sysvScript = `#!/bin/sh
### BEGIN INIT INFO
# Provides:          {{DisplayName}}
# Required-Start:    $network $remote_fs
# Required-Stop:     $network $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: {{DisplayName}}
# Description:       {{Description}}
### END INIT INFO

cmd="{{Path}}{{range Arguments}} {{. | cmd}}{{end}}"
name=$(basename $(readlink -f $0))
pid_file="/var/run/$name.pid"
log="/var/log/$name.log"

is_running() {
    [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

case "$1" in
    start)
        if is_running; then echo "Running"; exit 0; fi
        env HOME=%[2]q setpriv --reuid=%[1]q --regid=%[1]q --init-groups -- $cmd >> "$log" 2>&1 &
        echo $! > "$pid_file"
        sleep 1
        if is_running; then echo "Running"; else echo "Unable to start, see $log"; exit 1; fi
    ;;
    stop)
        if is_running; then
            kill "$(cat "$pid_file")"
            for i in 1 2 3 4 5 6 7 8 9 10; do is_running || break; sleep 1; done
        fi
        if is_running; then echo "Not stopped"; exit 1; fi
        rm -f "$pid_file"; echo "Stopped"
    ;;
    restart) $0 stop && $0 start ;;
    status)
        if is_running; then echo "Running"; else echo "Stopped"; exit 1; fi
    ;;
    *) echo "Usage: $0 {start|stop|restart|status}"; exit 1 ;;
esac
`

// systemdUser reports whether a systemd user manager answers for this user.
func systemdUser() bool {
	if _, err := os.Stat("/run/systemd/system"); err != nil {
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
		u, err := user.Lookup(o.UserName)
		if err != nil {
			return "", fmt.Errorf("service: user %q: %w", o.UserName, err)
		}
		s, err := o.kardianos(false, kservice.KeyValue{"SystemdScript": systemUnit, "SysvScript": fmt.Sprintf(sysvScript, u.Username, u.HomeDir)})
		if err != nil {
			return "", err
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if o.Home == "" {
			o.Home = u.HomeDir
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
	if systemdUser() {
		s, err := o.kardianos(true, kservice.KeyValue{"SystemdScript": userUnit})
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

// Uninstall removes whatever Install made; it is not an error when nothing
// is installed.
func Uninstall(o Options) error {
	if o.System {
		if u, err := user.Lookup(o.UserName); err == nil && o.Home == "" {
			o.Home = u.HomeDir
		}
		if _, err := o.removeAutostart(o.name() + "-tray"); err != nil {
			return err
		}
		s, err := o.kardianos(false, nil)
		if err != nil {
			return err
		}
		_ = s.Stop()
		if err := s.Uninstall(); err != nil && !notInstalled(err) {
			return permission(fmt.Errorf("service: %w", err))
		}
		removeSysVLinks(o.name())
		return nil
	}
	if _, err := o.removeAutostart(o.name()); err != nil {
		return err
	}
	if systemdUser() {
		s, err := o.kardianos(true, nil)
		if err != nil {
			return err
		}
		_ = s.Stop()
		if err := s.Uninstall(); err != nil && !notInstalled(err) {
			return fmt.Errorf("service: %w", err)
		}
	}
	return nil
}

// Start starts the installed daemon now. With an autostart entry, which has
// no manager, it starts `smtpwatch run` detached from this terminal.
func Start(o Options) error {
	if !o.System {
		if p, _ := o.autostartPath(o.name()); exists(p) {
			cmd := exec.Command(o.Executable, o.daemonArgs()...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			if err := cmd.Start(); err != nil {
				return fmt.Errorf("service: %w", err)
			}
			return cmd.Process.Release()
		}
	}
	s, err := o.kardianos(!o.System, nil)
	if err != nil {
		return err
	}
	return permission(s.Start())
}

// Stop stops the installed daemon. An autostart daemon has no manager to
// stop it: quit it from the tray menu.
func Stop(o Options) error {
	if !o.System {
		if p, _ := o.autostartPath(o.name()); exists(p) {
			return errors.New("service: started by an autostart entry, which has no manager: use Quit in the tray menu, or end the process")
		}
	}
	s, err := o.kardianos(!o.System, nil)
	if err != nil {
		return err
	}
	return permission(s.Stop())
}

// Status says how smtpwatch is installed and whether the OS runs it.
func Status(o Options) string {
	if !o.System {
		if p, _ := o.autostartPath(o.name()); exists(p) {
			return "installed: autostart entry " + p
		}
		if !systemdUser() {
			return "not installed"
		}
	}
	s, err := o.kardianos(!o.System, nil)
	if err != nil {
		return "unknown: " + err.Error()
	}
	return describe(s.Status())
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
