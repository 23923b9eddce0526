package service

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// The files the Linux service managers read are written here, in full,
// from Options: a systemd user unit, a hardened systemd system unit and a
// SysV init script. kardianos/service installs them (the text is handed to
// it whole: it holds no template actions, so its rendering leaves it as
// it is). Being plain functions, they are what a Linux test verifies with
// systemd-analyze and what the packages ship.

// description is what every unit and script says smtpwatch is.
const description = "smtpwatch: tells whether sending mail works, and why not"

// errTemplateText refuses a value that kardianos's template engine would
// read as an action.
var errTemplateText = errors.New(`service: a path or argument holds "{{" or "}}"`)

// checkTemplateText refuses words that kardianos would render.
func checkTemplateText(words ...string) error {
	for _, w := range words {
		if strings.Contains(w, "{{") || strings.Contains(w, "}}") {
			return errTemplateText
		}
	}
	return nil
}

// systemdQuote quotes one word of a unit file's command line or path list
// (systemd.syntax(7), systemd.service(5) "Command lines"): plain when it
// holds nothing special, else in double quotes with \ and " escaped; a
// % (a specifier) is written %% and a $ (a variable) $$ either way.
func systemdQuote(s string) string {
	s = strings.NewReplacer("%", "%%", "$", "$$").Replace(s)
	if s != "" && s != ";" && !strings.ContainsAny(s, " \t\n\"'\\") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

// commandLine is a unit's ExecStart value: the program and its arguments.
func commandLine(exe string, args []string) string {
	words := []string{systemdQuote(exe)}
	for _, a := range args {
		words = append(words, systemdQuote(a))
	}
	return strings.Join(words, " ")
}

// userUnit is the systemd user unit that runs `smtpwatch run` in the
// user's session: wanted by default.target, since a user manager never
// reaches multi-user.target (kardianos's default), and ordered after
// graphical-session.target where a desktop starts one, so that the tray
// finds its host. Without a config path the daemon uses the user's
// default config (the unit the packages ship).
func userUnit(o Options) string {
	return `[Unit]
Description=` + description + `
Documentation=man:smtpwatch(1)
After=graphical-session.target

[Service]
ExecStart=` + commandLine(o.Executable, o.daemonArgs()) + `
Restart=on-failure
RestartSec=30

[Install]
WantedBy=default.target
`
}

// runDir is where the service manager keeps runtime directories.
const runDir = "/run/"

// stateRoot is where systemd's StateDirectory= lives.
const stateRoot = "/var/lib/"

// writablePaths are the directories the system daemon writes: its state
// directory and its socket's directory, each once.
func (o Options) writablePaths() []string {
	var out []string
	for _, d := range []string{o.StateDir, filepath.Dir(o.Socket)} {
		if d == "" || d == "." {
			continue
		}
		d = filepath.Clean(d)
		dup := false
		for _, e := range out {
			dup = dup || e == d
		}
		if !dup {
			out = append(out, d)
		}
	}
	return out
}

// underDir is path relative to root when it lies beneath it.
func underDir(path, root string) (string, bool) {
	rel, ok := strings.CutPrefix(filepath.Clean(path), strings.TrimSuffix(root, "/")+"/")
	return rel, ok && rel != ""
}

// systemUnit is the boot-time unit: after the network, as the user, with
// the sandbox systemd offers a network daemon that reads its config from
// the user's home and writes only its state and socket directories. A
// directory under /run is the unit's RuntimeDirectory= (made for it at each
// start, owned by the user, removed at stop), one under /var/lib its
// StateDirectory=; any other is made writable with ReadWritePaths= and is
// made by Install. `systemd-analyze security` rates it; the README gives
// the figure.
func systemUnit(o Options) string {
	var dirs strings.Builder
	for _, d := range o.writablePaths() {
		if rel, ok := underDir(d, runDir); ok {
			dirs.WriteString("RuntimeDirectory=" + systemdQuote(rel) + "\nRuntimeDirectoryMode=0700\n")
		} else if rel, ok := underDir(d, stateRoot); ok {
			dirs.WriteString("StateDirectory=" + systemdQuote(rel) + "\nStateDirectoryMode=0700\n")
		} else {
			dirs.WriteString("ReadWritePaths=" + systemdQuote(d) + "\n")
		}
	}
	return `[Unit]
Description=` + description + `
Documentation=man:smtpwatch(1)
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=` + commandLine(o.Executable, o.daemonArgs()) + `
User=` + systemdQuote(o.UserName) + `
Restart=on-failure
RestartSec=30
UMask=0077
` + dirs.String() + `NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
PrivateIPC=yes
PrivateMounts=yes
ProtectClock=yes
ProtectHostname=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectProc=invisible
ProcSubset=pid
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RemoveIPC=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged
SystemCallErrorNumber=EPERM
DevicePolicy=closed
KeyringMode=private

[Install]
WantedBy=multi-user.target
`
}

// checkSystemdPaths refuses what the hardened unit cannot serve: a socket
// or state under /tmp or /var/tmp (the unit's /tmp is its own, so the tray
// would never find the socket).
func (o Options) checkSystemdPaths() error {
	for _, d := range o.writablePaths() {
		for _, tmp := range []string{"/tmp/", "/var/tmp/"} {
			if _, ok := underDir(d, tmp); ok || d == strings.TrimSuffix(tmp, "/") {
				return fmt.Errorf("service: %s is under %s, which is private to the system service: choose another place for the socket and state", d, tmp)
			}
		}
	}
	return nil
}

// shellQuote quotes s for a POSIX shell: in single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// sysvInit is the init script for machines without systemd. kardianos's
// own ignores the user to run as; this one makes the state and socket
// directories for the user (those missing: one that exists is left as it
// is), then runs the daemon as the user with a clean
// environment, no new privileges and an empty capability bounding set (as
// the systemd unit's NoNewPrivileges= and CapabilityBoundingSet=) through
// setpriv, which execs, so the pid file is the daemon's. Stopping removes
// the pid file and the socket's directory under /run.
func sysvInit(o Options, group, home string) string {
	var argv []string
	for _, w := range append([]string{o.Executable}, o.daemonArgs()...) {
		argv = append(argv, shellQuote(w))
	}
	var mk, rm []string
	for _, d := range o.writablePaths() {
		mk = append(mk, shellQuote(d))
		if _, ok := underDir(d, runDir); ok {
			rm = append(rm, shellQuote(d))
		}
	}
	rmRuntime := ""
	if len(rm) > 0 {
		rmRuntime = "\n        rmdir " + strings.Join(rm, " ") + " 2>/dev/null || true"
	}
	return `#!/bin/sh
### BEGIN INIT INFO
# Provides:          ` + o.name() + `
# Required-Start:    $network $remote_fs
# Required-Stop:     $network $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: smtpwatch
# Description:       ` + description + `
### END INIT INFO

name=` + shellQuote(o.name()) + `
user=` + shellQuote(o.UserName) + `
group=` + shellQuote(group) + `
pid_file="/var/run/$name.pid"
log="/var/log/$name.log"

is_running() {
    [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null
}

case "$1" in
    start)
        if is_running; then echo "Running"; exit 0; fi
        umask 077
        for d in ` + strings.Join(mk, " ") + `; do
            [ -d "$d" ] || install -d -m 0700 -o "$user" -g "$group" "$d" || exit 1
        done
        env -i HOME=` + shellQuote(home) + ` USER="$user" LOGNAME="$user" PATH=/usr/local/bin:/usr/bin:/bin \
            setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs --bounding-set=-all --inh-caps=-all -- \
            ` + strings.Join(argv, " ") + ` >> "$log" 2>&1 &
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
        rm -f "$pid_file"` + rmRuntime + `
        echo "Stopped"
    ;;
    restart) $0 stop && $0 start ;;
    status)
        if is_running; then echo "Running"; else echo "Stopped"; exit 1; fi
    ;;
    *) echo "Usage: $0 {start|stop|restart|status}"; exit 1 ;;
esac
`
}
