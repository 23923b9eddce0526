// Command smtpwatch watches outgoing mail servers and tells, before you
// press "send", whether sending would work — and if not, why and what to
// change. This package is wiring: flags, config and output; the logic lives
// in smtpwatch/monitor.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"smtpwatch/monitor/credential"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit statuses follow the Nagios plugin convention.
const (
	exitOK       = 0
	exitDegraded = 1
	exitFailing  = 2
	exitUnknown  = 3 // offline, or the command could not run
)

func main() { os.Exit(run(os.Args[1:])) }

// app is what every subcommand gets: its streams and environment.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	logger         *slog.Logger
	// openURL opens a URL in the system browser (login, `smtpwatch
	// open`); nil is the system's opener (openBrowser).
	openURL func(string) error
	// grants keeps OAuth2 sign-ins; nil is the OS keyring.
	grants credential.GrantStore
}

func run(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}
	a.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return a.main(ctx, args)
}

const usage = `smtpwatch — will sending mail work? If not, why, and what to change.

Usage:
  smtpwatch add [EMAIL]             find your outgoing server, check it, and watch it
  smtpwatch check [flags]           check every account now and print the report
  smtpwatch check --server HOST[:PORT] [--security MODE] [--username U]
                                    check a server without a config file
  smtpwatch run [--headless]        watch in the background: tray icon, notifications
  smtpwatch status [--refresh]      what the running daemon knows now
  smtpwatch pause [DURATION]        silence checks and alarms (default: until resume)
  smtpwatch resume
  smtpwatch history [--since 24h]   uptime, latency and changes per account
  smtpwatch tray                    only the tray, for a daemon running as a service
  smtpwatch open [--print-url]      the dashboard in your browser: accounts, history, settings
  smtpwatch service install         start smtpwatch at login (--system: at boot)
  smtpwatch service uninstall|start|stop|status
  smtpwatch presets                 list the built-in provider settings
  smtpwatch password set NAME       store an account's password in the OS keyring
  smtpwatch password delete NAME    remove it
  smtpwatch accounts                the accounts in the config, and how each is doing
  smtpwatch remove NAME             stop watching an account (and forget its password)
  smtpwatch import thunderbird|msmtp  add the accounts another mail program uses
  smtpwatch notify test [NAME]      send a test alert through each [[notify]] channel
  smtpwatch login NAME [--device]   sign in with OAuth2 (Microsoft 365, Outlook.com, Gmail)
  smtpwatch logout NAME             remove that sign-in
  smtpwatch init                    write a commented config file to fill in
  smtpwatch version

Run "smtpwatch COMMAND --help" for a command's flags.
Exit status: 0 ok, 1 warning, 2 sending would fail, 3 offline or could not check.
`

// commands are the commands main knows, for `smtpwatch help COMMAND`.
var commands = map[string]bool{
	"check": true, "run": true, "tray": true, "status": true, "pause": true, "resume": true,
	"history": true, "service": true, "presets": true, "password": true, "init": true, "version": true,
	"add": true, "import": true, "remove": true, "accounts": true,
	"open":   true,
	"notify": true,
	"login":  true, "logout": true,
}

func (a *app) main(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stderr, usage)
		return exitUnknown
	}
	cmd, rest := args[0], args[1:]
	if _, ok := verbCommands[cmd]; ok && len(rest) > 0 && isHelp(rest[0]) {
		return a.verbHelp(cmd)
	}
	switch cmd {
	case "check":
		return a.check(ctx, rest)
	case "run":
		return a.runManaged(ctx, rest)
	case "tray":
		return a.trayClient(ctx, rest)
	case "status":
		return a.status(ctx, rest)
	case "pause":
		return a.pause(ctx, rest)
	case "resume":
		return a.resume(ctx, rest)
	case "history":
		return a.history(ctx, rest)
	case "service":
		return a.serviceCmd(ctx, rest)
	case "presets":
		return a.presets(rest)
	case "password":
		return a.password(ctx, rest)
	case "notify":
		return a.notifyCmd(ctx, rest)
	case "login":
		return a.login(ctx, rest)
	case "logout":
		return a.logout(rest)
	case "init":
		return a.init(rest)
	case "add":
		return a.add(ctx, rest)
	case "import":
		return a.importCmd(ctx, rest)
	case "remove":
		return a.remove(ctx, rest)
	case "accounts":
		return a.accounts(ctx, rest)
	case "open":
		return a.open(ctx, rest)
	case "version", "--version":
		return a.version(rest)
	case "help", "-h", "--help":
		return a.helpCmd(func(args []string) int { return a.main(ctx, args) }, rest)
	}
	fmt.Fprintf(a.stderr, "smtpwatch: unknown command %q\n\n%s", cmd, usage)
	return exitUnknown
}

// flags makes a flag set for the command name (as helpTable knows it, e.g.
// "service install") with -h and --help, that reports errors instead of
// exiting. Parse it with parse, which prints the help when asked.
func (a *app) flags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// parse prints the errors, with "--" before flag names.
	fs.SetOutput(io.Discard)
	h := &helpFlag{stderr: a.stderr}
	h.print = func() { printHelp(a.stdout, name, synopsis, fs) }
	fs.Var(h, "help", "show this help")
	fs.Var(h, "h", "show this help")
	fs.Usage = func() {}
	return fs
}

// parse parses flags; it returns false (after printing why) on bad flags,
// an unexpected argument or a request for help, with the exit status to
// use: 0 for help, which goes to stdout.
func parse(fs *flag.FlagSet, args []string) (int, bool) {
	return parsed(fs, fs.Parse(args), true)
}

// parsed finishes parse (and parseWithArgs) once fs.Parse has returned
// err: it prints the error or the help. With noArgs, arguments left over
// are an error.
func parsed(fs *flag.FlagSet, err error, noArgs bool) (int, bool) {
	h := helpOf(fs)
	switch {
	case errors.Is(err, flag.ErrHelp): // a flag set not made by app.flags
		return exitOK, false
	case err != nil:
		if h != nil {
			h.badFlags(fs, err)
		}
		return exitUnknown, false
	case h != nil && (h.asked || slices.ContainsFunc(fs.Args(), isHelpFlag)):
		h.print()
		return exitOK, false
	case noArgs && fs.NArg() > 0:
		out := fs.Output()
		if h != nil {
			out = h.stderr
		}
		fmt.Fprintf(out, "smtpwatch %s: unexpected argument %q\nRun \"smtpwatch %s --help\" for its usage.\n", fs.Name(), fs.Arg(0), fs.Name())
		return exitUnknown, false
	}
	return 0, true
}

// fail prints an error for the user and returns the "could not run" status.
func (a *app) fail(format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	fmt.Fprintln(a.stderr, "smtpwatch: "+strings.TrimSpace(msg))
	return exitUnknown
}
