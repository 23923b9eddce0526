package main

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"

	"smtpwatch/monitor/config"
	"smtpwatch/service"
)

// serviceCmd is `smtpwatch service install|uninstall|start|stop|status`.
func (a *app) serviceCmd(_ context.Context, args []string) int {
	const synopsis = "service install|uninstall|start|stop|status [--system [--user NAME]] [--config FILE]"
	if len(args) == 0 {
		return a.fail("usage: smtpwatch %s", synopsis)
	}
	verb := args[0]
	var system bool
	var userName, cfgPath, socket string
	fl := a.flags("service "+verb, synopsis)
	fl.BoolVar(&system, "system", false, "start at boot as a system service (headless, as --user), with the tray at that user's logins")
	fl.StringVar(&userName, "user", "", "with --system: the user whose accounts are watched (default: $SUDO_USER, else you)")
	fl.StringVar(&cfgPath, "config", "", "config `file` the daemon uses (default: the user's smtpwatch/config.toml)")
	fl.StringVar(&socket, "socket", "", "with --system: the API socket shared by the daemon and the tray")
	if code, ok := parse(fl, args[1:]); !ok {
		return code
	}
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return a.fail("finding this program's path: %v", err)
	}
	o := service.Options{System: system, Executable: exe, ConfigPath: cfgPath, Socket: socket}
	if system {
		if userName == "" {
			userName = a.getenv("SUDO_USER")
		}
		u, err := user.Current()
		if userName != "" {
			u, err = user.Lookup(userName)
		}
		if err != nil {
			return a.fail("--user: %v", err)
		}
		o.UserName = u.Username
		if o.ConfigPath == "" {
			o.ConfigPath = userFile(u.HomeDir, "config")
		}
		if o.Socket == "" {
			o.Socket = userFile(u.HomeDir, "socket")
		}
	} else if o.ConfigPath == "" {
		if o.ConfigPath, err = config.DefaultPath(); err != nil {
			return a.fail("%v", err)
		}
	}
	if o.ConfigPath, err = filepath.Abs(o.ConfigPath); err != nil {
		return a.fail("%v", err)
	}

	switch verb {
	case "install":
		what, err := service.Install(o)
		if err != nil {
			return a.fail("%v", err)
		}
		fmt.Fprintf(a.stdout, "Installed: %s.\nIt watches the accounts in %s. Start it now with: smtpwatch service start\n", what, o.ConfigPath)
	case "uninstall":
		if err := service.Uninstall(o); err != nil {
			return a.fail("%v", err)
		}
		fmt.Fprintln(a.stdout, "Uninstalled.")
	case "start":
		if err := service.Start(o); err != nil {
			return a.fail("%v", err)
		}
		fmt.Fprintln(a.stdout, "Started.")
	case "stop":
		if err := service.Stop(o); err != nil {
			return a.fail("%v", err)
		}
		fmt.Fprintln(a.stdout, "Stopped.")
	case "status":
		fmt.Fprintln(a.stdout, service.Status(o))
	default:
		return a.fail("unknown service action %q: want install, uninstall, start, stop or status", verb)
	}
	return exitOK
}

// userFile is where a system-installed daemon's files live for a user
// whose session variables are not at hand (sudo, boot): the OS defaults
// under their home.
func userFile(home, which string) string {
	switch runtime.GOOS {
	case "darwin":
		dir := filepath.Join(home, "Library", "Application Support", "smtpwatch")
		if which == "config" {
			return filepath.Join(dir, "config.toml")
		}
		return filepath.Join(dir, "smtpwatch.sock")
	}
	if which == "config" {
		return filepath.Join(home, ".config", "smtpwatch", "config.toml")
	}
	return filepath.Join(home, ".local", "state", "smtpwatch", "smtpwatch.sock")
}
