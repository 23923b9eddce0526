package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/paths"
	"smtpwatch/service"
)

// serviceSynopsis is each service action's usage line.
var serviceSynopsis = map[string]string{
	"install":   "service install [--system [--user NAME] [--socket PATH]] [--config FILE]",
	"uninstall": "service uninstall [--system [--user NAME] [--socket PATH]] [--config FILE]",
	"start":     "service start [--install] [--system [--user NAME] [--socket PATH]] [--config FILE]",
	"stop":      "service stop [--system [--user NAME] [--socket PATH]] [--config FILE]",
	"status":    "service status [--system [--user NAME] [--socket PATH]] [--config FILE]",
}

// serviceCmd is `smtpwatch service install|uninstall|start|stop|status`.
// Each says what is true afterwards: which process runs, what was
// removed; the exit status is 0 when the action did what it says, 3 when
// not (status: 3 when no daemon runs or nothing is installed).
func (a *app) serviceCmd(ctx context.Context, args []string) int {
	if len(args) == 0 {
		return a.fail("usage: smtpwatch %s\nRun \"smtpwatch service --help\" for what each action does.", verbCommands["service"])
	}
	verb := args[0]
	synopsis, ok := serviceSynopsis[verb]
	if !ok {
		return a.fail("unknown service action %q: want install, uninstall, start, stop or status", verb)
	}
	var system, install bool
	var userName, cfgPath, socket, group string
	fl := a.flags("service "+verb, synopsis)
	fl.BoolVar(&system, "system", false, "at boot as a system service (headless, as --user), with the tray at that user's logins")
	fl.StringVar(&userName, "user", "", "with --system: the `NAME` of the user whose accounts are watched (default: $SUDO_USER, else you)")
	fl.StringVar(&cfgPath, "config", "", "config `file` the daemon uses (default: the user's smtpwatch/config.toml)")
	fl.StringVar(&socket, "socket", "", "with --system: the `path` of the API socket shared by the daemon and the tray")
	if runtime.GOOS == "windows" {
		fl.StringVar(&group, "group", "", "with --system: the `GROUP` whose members may reach the service and get its tray at logon")
	}
	if verb == "start" {
		fl.BoolVar(&install, "install", false, "install first when not installed (what the Start menu entry runs)")
	}
	if code, ok := parse(fl, args[1:]); !ok {
		return code
	}
	o, owner, err := a.serviceOptions(system, userName, cfgPath, socket)
	if err != nil {
		return a.fail("%v", err)
	}
	o.Group = group
	if install {
		return a.serviceStartInstalling(ctx, o, owner)
	}
	switch verb {
	case "install":
		return a.serviceInstall(o, owner)
	case "uninstall":
		return a.serviceUninstall(ctx, o)
	case "start":
		return a.serviceStart(ctx, o)
	case "stop":
		return a.serviceStop(ctx, o)
	}
	return a.serviceStatus(ctx, o)
}

// fileOwner is whom files written for a system install belong to: the
// user, when root writes into their home; uid -1 leaves them as written.
type fileOwner struct{ uid, gid int }

// serviceOptions fills in what the service package needs: this program's
// path, the config file, the daemon's socket and state directory (where
// it holds its lock), and for --system the user it runs as.
func (a *app) serviceOptions(system bool, userName, cfgPath, socket string) (service.Options, fileOwner, error) {
	owner := fileOwner{-1, -1}
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe)
	}
	if err != nil {
		return service.Options{}, owner, fmt.Errorf("finding this program's path: %w", err)
	}
	o := service.Options{System: system, Executable: exe, ConfigPath: cfgPath, Socket: socket}
	home := ""
	if system && runtime.GOOS == "windows" {
		return windowsSystemOptions(o, a.getenv("ProgramData"))
	}
	if system {
		if userName == "" {
			userName = a.getenv("SUDO_USER")
		}
		u, err := user.Current()
		if userName != "" {
			u, err = user.Lookup(userName)
		}
		if err != nil {
			return o, owner, fmt.Errorf("--user: %w", err)
		}
		o.UserName, home = u.Username, u.HomeDir
		if o.ConfigPath == "" {
			o.ConfigPath = userFile(home, "config")
		}
		if o.Socket == "" {
			o.Socket = systemSocket(home)
		}
		if os.Geteuid() == 0 && u.Uid != "0" {
			uid, uerr := strconv.Atoi(u.Uid)
			gid, gerr := strconv.Atoi(u.Gid)
			if uerr == nil && gerr == nil {
				owner = fileOwner{uid, gid}
			}
		}
	} else {
		if o.ConfigPath == "" {
			if o.ConfigPath, err = config.DefaultPath(); err != nil {
				return o, owner, err
			}
		}
		if o.Socket == "" {
			if o.Socket, err = paths.SocketPath(); err != nil {
				return o, owner, err
			}
		}
	}
	if o.ConfigPath, err = filepath.Abs(o.ConfigPath); err != nil {
		return o, owner, err
	}
	o.StateDir = daemonStateDir(o.ConfigPath, system, home)
	return o, owner, nil
}

// daemonStateDir is where the installed daemon keeps its state and lock:
// the config's state_dir, else the default (under home for a system
// daemon, which runs without the user's session variables).
func daemonStateDir(cfgPath string, system bool, home string) string {
	if cfg, err := parseConfigFile(cfgPath); err == nil && cfg.StateDir != "" {
		return cfg.StateDir
	}
	if system {
		return userFile(home, "state")
	}
	d, err := paths.StateDir()
	if err != nil {
		return ""
	}
	return d
}

// parseConfigFile reads the config for what the service commands need
// from it (state_dir, the accounts' password sources) without running or
// reading anything it names.
func parseConfigFile(path string) (*config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return config.Parse(path, data)
}

func (a *app) serviceInstall(o service.Options, owner fileOwner) int {
	if !a.installService(o, owner) {
		return exitUnknown
	}
	fmt.Fprintln(a.stdout, "Start it now with: smtpwatch service start"+systemFlag(o))
	return exitOK
}

// serviceStartInstalling is `service start --install`, what the Windows
// Start menu entry runs: it installs smtpwatch when it is not installed
// (so it starts at every login from then on), then starts it.
func (a *app) serviceStartInstalling(ctx context.Context, o service.Options, owner fileOwner) int {
	st, err := service.Status(ctx, o)
	if err != nil {
		return a.fail("%v", err)
	}
	if !st.Installed() && !a.installService(o, owner) {
		return exitUnknown
	}
	return a.serviceStart(ctx, o)
}

// installService installs and says what it did (false: it failed, and
// said why).
func (a *app) installService(o service.Options, owner fileOwner) bool {
	what, err := service.Install(o)
	if err != nil {
		a.fail("%v", err)
		return false
	}
	fmt.Fprintf(a.stdout, "Installed: %s.\n", what)
	created, err := writeTemplateAs(o.ConfigPath, owner)
	switch {
	case err != nil:
		fmt.Fprintf(a.stderr, "smtpwatch: warning: %v; the daemon will not start without %s\n", err, o.ConfigPath)
	case created:
		fmt.Fprintf(a.stdout, "Wrote the commented config file %s: add your accounts there; the daemon picks them up when you save.\n", o.ConfigPath)
	default:
		fmt.Fprintf(a.stdout, "It watches the accounts in %s.\n", o.ConfigPath)
	}
	a.warnServiceConfig(o.ConfigPath)
	return true
}

// warnServiceConfig warns of what will not work in a service: a config
// with an error, and passwords from environment variables, which a
// service started at login or boot does not have.
func (a *app) warnServiceConfig(path string) {
	cfg, err := parseConfigFile(path)
	if err != nil {
		fmt.Fprintf(a.stderr, "smtpwatch: warning: %v\n  The daemon will not start until the config is fixed.\n", err)
		return
	}
	for _, acc := range cfg.Accounts {
		if acc.Credential.Source != config.CredentialEnv {
			continue
		}
		fmt.Fprintf(a.stderr, "smtpwatch: warning: account %q reads its password from $%s (password_env, %s:%d), which a\n"+
			"  service started at login or boot does not have: use password_keyring = true (store it with\n"+
			"  \"smtpwatch password set %s\") or password_command instead.\n",
			acc.Name, acc.Credential.Env, acc.Credential.File, acc.Credential.Line, acc.Name)
	}
}

// writeTemplateAs writes the commented config template when path is
// missing, giving it (and the directories it made) to owner.
func writeTemplateAs(path string, owner fileOwner) (bool, error) {
	var made []string
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		made = append(made, d)
	}
	created, err := config.WriteTemplate(path)
	if err != nil || !created || owner.uid < 0 {
		return created, err
	}
	for _, p := range append(made, path) {
		if err := os.Lchown(p, owner.uid, owner.gid); err != nil {
			return created, fmt.Errorf("giving %s to its user: %w", p, err)
		}
	}
	return created, nil
}

func (a *app) serviceUninstall(ctx context.Context, o service.Options) int {
	r, err := service.Uninstall(ctx, o)
	if r.Stopped > 0 {
		fmt.Fprintf(a.stdout, "Stopped the daemon (process %d).\n", r.Stopped)
	}
	if r.What != "" {
		fmt.Fprintf(a.stdout, "Uninstalled: %s.\n", r.What)
	} else if err == nil {
		fmt.Fprintf(a.stdout, "Nothing to uninstall: smtpwatch is not installed%s.\n", asSystem(o))
	}
	if err != nil {
		return a.fail("%v", err)
	}
	if r.StillRuns {
		fmt.Fprintf(a.stdout, "A daemon started by hand still runs: %s.\n", processHint(r.StillRunning))
	}
	return exitOK
}

func (a *app) serviceStart(ctx context.Context, o service.Options) int {
	pid, already, err := service.Start(ctx, o)
	var se *service.StartError
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		return a.fail("smtpwatch is not installed%s: install it first with: smtpwatch service install%s", asSystem(o), systemFlag(o))
	case errors.As(err, &se):
		msg := "the daemon did not start: " + se.Reason + "."
		if len(se.Lines) > 0 {
			msg += "\nIts last lines (" + se.Log + "):\n    " + strings.Join(se.Lines, "\n    ")
		} else if se.Log != "" {
			msg += "\nSee " + se.Log + "."
		}
		return a.fail("%s", msg)
	case err != nil:
		return a.fail("%v", err)
	case already:
		fmt.Fprintf(a.stdout, "Already running%s.\n", processWords(pid))
	default:
		fmt.Fprintf(a.stdout, "Started%s.\n", processWords(pid))
	}
	return exitOK
}

func (a *app) serviceStop(ctx context.Context, o service.Options) int {
	pid, err := service.Stop(ctx, o)
	switch {
	case err != nil:
		return a.fail("%v", err)
	case pid > 0:
		fmt.Fprintf(a.stdout, "Stopped (process %d).\n", pid)
	default:
		fmt.Fprintln(a.stdout, "Not running: nothing to stop.")
	}
	return exitOK
}

// serviceStatus says how smtpwatch is installed and whether its daemon
// runs: exit 0 when installed and running, 3 otherwise.
func (a *app) serviceStatus(ctx context.Context, o service.Options) int {
	st, err := service.Status(ctx, o)
	if err != nil {
		return a.fail("%v", err)
	}
	if !st.Installed() {
		fmt.Fprintf(a.stdout, "Not installed%s.\n", asSystem(o))
		if st.Running {
			fmt.Fprintf(a.stdout, "A daemon started by hand runs: %s.\n", processHint(st.PID))
		} else {
			fmt.Fprintln(a.stdout, "No daemon runs. Install it with: smtpwatch service install"+systemFlag(o))
		}
		return exitUnknown
	}
	fmt.Fprintf(a.stdout, "Installed: %s.\n", st.What)
	if st.Running {
		fmt.Fprintf(a.stdout, "Running%s, answering on %s.\n", processWords(st.PID), o.Socket)
		return exitOK
	}
	line := "Not running"
	if st.Manager != "" {
		line += " (the service manager says: " + st.Manager + ")"
	}
	fmt.Fprintf(a.stdout, "%s. Start it with: smtpwatch service start%s\n", line, systemFlag(o))
	return exitUnknown
}

// processWords is " (process N)", "" when N is not known.
func processWords(pid int) string {
	if pid > 0 {
		return fmt.Sprintf(" (process %d)", pid)
	}
	return ""
}

// processHint names a daemon and how to stop it.
func processHint(pid int) string {
	if pid > 0 {
		return fmt.Sprintf("process %d; stop it with \"kill %d\", or Quit in its tray menu", pid, pid)
	}
	return "quit it from its tray menu"
}

// asSystem is " as a system service" for --system, else "".
func asSystem(o service.Options) string {
	if o.System {
		return " as a system service"
	}
	return ""
}

// systemFlag repeats --system in the commands a system install suggests.
func systemFlag(o service.Options) string {
	if o.System {
		return " --system"
	}
	return ""
}

// userFile is where a system-installed daemon's files live for a user
// whose session variables are not at hand (sudo, boot): the OS defaults
// under their home.
func userFile(home, which string) string {
	dir := filepath.Join(home, ".local", "state", "smtpwatch")
	if runtime.GOOS == "darwin" {
		dir = filepath.Join(home, "Library", "Application Support", "smtpwatch")
	}
	switch which {
	case "config":
		if runtime.GOOS == "darwin" {
			return filepath.Join(dir, "config.toml")
		}
		return filepath.Join(home, ".config", "smtpwatch", "config.toml")
	case "state":
		return dir
	}
	return filepath.Join(dir, "smtpwatch.sock")
}

// systemSocket is the system daemon's socket: on Linux in /run/smtpwatch,
// the unit's RuntimeDirectory= (made for the user at each start, gone at
// stop); on macOS in the user's state directory.
func systemSocket(home string) string {
	if runtime.GOOS == "linux" {
		return "/run/smtpwatch/smtpwatch.sock"
	}
	return userFile(home, "socket")
}

// windowsSystemOptions fills in a Windows system install: the service
// runs as LocalService with its config, state and socket under
// %ProgramData%\smtpwatch (--config and --socket move them).
func windowsSystemOptions(o service.Options, programData string) (service.Options, fileOwner, error) {
	if programData == "" {
		return o, fileOwner{-1, -1}, errors.New("%ProgramData% is not set")
	}
	_, cfg, state, socket := service.WindowsSystemPaths(programData)
	if o.ConfigPath == "" {
		o.ConfigPath = cfg
	}
	if o.Socket == "" {
		o.Socket = socket
	}
	o.StateDir = state
	o.UserName = service.LocalServiceAccount
	return o, fileOwner{-1, -1}, nil
}
