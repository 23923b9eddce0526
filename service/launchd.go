package service

import (
	"html"
	"path/filepath"
	"strings"
)

// launchdJob is what a launchd property list says about one job: the
// per-user daemon's LaunchAgent, the system daemon's LaunchDaemon, or the
// tray's LaunchAgent of a system install. It is written here, in full,
// and handed to kardianos whole (it holds no template actions), so that a
// test on any OS reads it back with a plist reader.
type launchdJob struct {
	Label string
	// Program is the executable and its arguments (ProgramArguments).
	Program []string
	// UserName is the user a LaunchDaemon runs as; "" for an agent.
	UserName string
	// Home is the user's home: HOME in the job's environment, and where
	// its output goes (~/Library/Logs/smtpwatch/LABEL.log).
	Home string
	// KeepAlive restarts the job when it fails (not when it exits 0, as
	// after Quit in the tray menu); ThrottleInterval spaces restarts.
	KeepAlive bool
	// Aqua limits an agent to the graphical login session, where the tray
	// and notifications can show.
	Aqua bool
}

// LogDir is where launchd puts a job's output: ~/Library/Logs/smtpwatch.
func launchdLogDir(home string) string {
	return filepath.Join(home, "Library", "Logs", "smtpwatch")
}

// logPath is the job's output file.
func (j launchdJob) logPath() string {
	return filepath.Join(launchdLogDir(j.Home), j.Label+".log")
}

// plist is the job's property list (XML, launchd.plist(5)).
func (j launchdJob) plist() string {
	var b strings.Builder
	str := func(s string) string { return "<string>" + html.EscapeString(s) + "</string>" }
	key := func(k string) { b.WriteString("\t<key>" + k + "</key>\n") }
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
`)
	key("Label")
	b.WriteString("\t" + str(j.Label) + "\n")
	key("ProgramArguments")
	b.WriteString("\t<array>\n")
	for _, a := range j.Program {
		b.WriteString("\t\t" + str(a) + "\n")
	}
	b.WriteString("\t</array>\n")
	if j.UserName != "" {
		key("UserName")
		b.WriteString("\t" + str(j.UserName) + "\n")
	}
	key("EnvironmentVariables")
	b.WriteString("\t<dict>\n\t\t<key>HOME</key>\n\t\t" + str(j.Home) + "\n\t</dict>\n")
	key("RunAtLoad")
	b.WriteString("\t<true/>\n")
	if j.KeepAlive {
		key("KeepAlive")
		b.WriteString("\t<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>\n\t</dict>\n")
		key("ThrottleInterval")
		b.WriteString("\t<integer>30</integer>\n")
	}
	if j.Aqua {
		key("LimitLoadToSessionType")
		b.WriteString("\t" + str("Aqua") + "\n")
		key("ProcessType")
		b.WriteString("\t" + str("Interactive") + "\n")
	}
	key("StandardOutPath")
	b.WriteString("\t" + str(j.logPath()) + "\n")
	key("StandardErrorPath")
	b.WriteString("\t" + str(j.logPath()) + "\n")
	b.WriteString("</dict>\n</plist>\n")
	return b.String()
}

// trayLabel is the label of the tray's LaunchAgent in a system install.
func (o Options) trayLabel() string { return "com.smtpwatch." + o.name() + "-tray" }

// launchdJobs are the jobs Install writes on macOS: the daemon's (a
// LaunchAgent per user, a LaunchDaemon running as the user for the
// system) and, for the system, the tray's LaunchAgent in the user's
// login session. home is the user's home.
func (o Options) launchdJobs(home string) (daemon launchdJob, tray *launchdJob) {
	daemon = launchdJob{Label: o.name(), Program: append([]string{o.Executable}, o.daemonArgs()...), Home: home, KeepAlive: true}
	if !o.System {
		daemon.Aqua = true
		return daemon, nil
	}
	daemon.UserName = o.UserName
	return daemon, &launchdJob{Label: o.trayLabel(), Program: append([]string{o.Executable}, o.trayArgs()...), Home: home, Aqua: true}
}
