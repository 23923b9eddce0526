package main

// Help for every command: `smtpwatch CMD --help` (or -h), and `smtpwatch
// help CMD`, which is the same. The flag sets made by app.flags carry -h
// and --help themselves, so no command sees a request for help as an
// argument (`password set --help` reads no password), and parse prints the
// help — synopsis, what the command does, its flags written with "--",
// and examples from the table below — to stdout with exit status 0.

import (
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// commandHelp is what `--help` says about a command beyond its flags.
type commandHelp struct {
	// About says what the command does, in a sentence or two.
	About string
	// Examples are whole command lines, one or two.
	Examples []string
}

// helpTable holds, per command name as given to app.flags ("check",
// "service install"), what the command does and how it is used. Commands
// with verbs ("service", "password") also have an entry of their own,
// shown for `smtpwatch service --help`.
var helpTable = map[string]commandHelp{
	"check": {
		About: "Checks every account (or the one server given by flags) now and prints what works,\n" +
			"what fails, why, and what to change. Exit status: 0 works, 1 warning, 2 fails, 3 offline\n" +
			"or could not check. The password comes from $SMTPWATCH_PASSWORD, --password-env or\n" +
			"--password-command; it is never a flag.",
		Examples: []string{
			"SMTPWATCH_PASSWORD=... smtpwatch check --preset charter --username me@charter.net",
			"smtpwatch check --account work --json",
		},
	},
	"init": {
		About:    "Writes a commented config file to fill in (it never overwrites one).",
		Examples: []string{"smtpwatch init", "smtpwatch init --config ~/mail/smtpwatch.toml"},
	},
	"run": {
		About: "Watches every account in the background: checks, notifications when sending starts\n" +
			"failing and when it works again, a tray icon on a desktop, and the local API that\n" +
			"status, pause and resume talk to.",
		Examples: []string{"smtpwatch run", "smtpwatch run --headless --log-format json"},
	},
	"tray": {
		About:    "Shows only the tray icon and notifications, for a daemon that runs as a system service.",
		Examples: []string{"smtpwatch tray --socket ~/.local/state/smtpwatch/smtpwatch.sock"},
	},
	"status": {
		About: "Prints what the running daemon knows of every account now. Exit status as check's:\n" +
			"0 works, 1 warning, 2 fails, 3 offline, paused, not checked yet or no daemon.",
		Examples: []string{"smtpwatch status", "smtpwatch status --refresh --json"},
	},
	"pause": {
		About: "Pauses the daemon's checks, and so its notifications, for DURATION (30m, 2h, 2d),\n" +
			"until the next 08:00 (tomorrow), or until \"smtpwatch resume\" when no duration is given.\n" +
			"The tray's menu shows the pause too.",
		Examples: []string{"smtpwatch pause 1h", "smtpwatch pause tomorrow --account work"},
	},
	"resume": {
		About:    "Ends a pause: the paused accounts are checked at once.",
		Examples: []string{"smtpwatch resume", "smtpwatch resume --account work"},
	},
	"history": {
		About:    "Prints uptime, check times and every change of state per account, from the daemon's history.",
		Examples: []string{"smtpwatch history --since 7d", "smtpwatch history --account charter --json"},
	},
	"presets": {
		About:    "Lists the built-in provider settings that \"preset = NAME\" and --preset use.",
		Examples: []string{"smtpwatch presets", "smtpwatch presets --json"},
	},
	"version": {
		About:    "Prints the version, the commit it was built from and the Go version.",
		Examples: []string{"smtpwatch version"},
	},
	"service": {
		About: "Makes smtpwatch start by itself: per user at login (so the tray shows), or with\n" +
			"--system at boot as a headless service with the tray at the user's logins.\n\n" +
			"Actions:\n" +
			"  install     register smtpwatch run with the OS (creates the config file if missing)\n" +
			"  uninstall   remove it, and stop the daemon it started\n" +
			"  start       start the installed daemon now and wait until it answers\n" +
			"  stop        stop it\n" +
			"  status      say how it is installed and whether it runs (exit 0 running, 3 not)\n\n" +
			"Run \"smtpwatch service ACTION --help\" for an action's flags.",
		Examples: []string{"smtpwatch service install && smtpwatch service start", "sudo smtpwatch service install --system --user me"},
	},
	"service install": {
		About: "Registers \"smtpwatch run\" to start at login (a systemd user unit, or an XDG autostart\n" +
			"entry where no user manager runs; a LaunchAgent on macOS; a logon task on Windows),\n" +
			"or with --system at boot (a hardened systemd unit or an init script, a LaunchDaemon; on\n" +
			"Windows a service whose API only the members of --group can reach). Writes the\n" +
			"commented config file when it is missing.",
		Examples: []string{"smtpwatch service install", "sudo smtpwatch service install --system --user me",
			"smtpwatch service install --system --group \"Mail watchers\"   (Windows, as an administrator)"},
	},
	"service uninstall": {
		About:    "Removes what install made and stops the daemon it started; says so when nothing was installed.",
		Examples: []string{"smtpwatch service uninstall", "sudo smtpwatch service uninstall --system"},
	},
	"service start": {
		About: "Starts the installed daemon now and waits a few seconds until it answers on its socket.\n" +
			"Exit status 0 when it runs (or already ran), 3 when it did not start, with the reason.\n" +
			"With --install it installs first when nothing is installed.",
		Examples: []string{"smtpwatch service start", "sudo smtpwatch service start --system", "smtpwatch service start --install"},
	},
	"service stop": {
		About:    "Stops the installed daemon and waits until it has ended.",
		Examples: []string{"smtpwatch service stop", "sudo smtpwatch service stop --system"},
	},
	"service status": {
		About:    "Says how smtpwatch is installed and whether its daemon runs. Exit status 0 when it runs, 3 when not.",
		Examples: []string{"smtpwatch service status", "smtpwatch service status --system"},
	},
	"password": {
		About: "Stores an account's password in the OS keyring (for password_keyring = true), or\n" +
			"removes it. The password is read from the terminal without echo, or from a pipe.\n\n" +
			"Actions:\n" +
			"  set NAME      store the password of the account NAME\n" +
			"  delete NAME   remove it",
		Examples: []string{"smtpwatch password set charter", "printf '%s' \"$PW\" | smtpwatch password set charter"},
	},
	"password set": {
		About:    "Stores the password of the account NAME in the OS keyring, read without echo (or from a pipe).",
		Examples: []string{"smtpwatch password set charter", "printf '%s' \"$PW\" | smtpwatch password set charter"},
	},
	"notify": {
		About: "Alerts beyond the desktop: the [[notify]] tables of the config send the same notifications\n" +
			"(failing, offline, recovered, expiring, sign_in_required, config_error) to ntfy, Gotify,\n" +
			"Slack, Teams, Telegram, Matrix, Discord, Pushover, e-mail or a signed JSON webhook.\n\n" +
			"Actions:\n" +
			"  test [NAME]     send a test notification through each channel (or NAME) and say what happened\n" +
			"                  (exit 0 all delivered, 2 one failed, 3 could not try)\n" +
			"  set-url NAME    store the channel's URL in the OS keyring, for url_keyring = true",
		Examples: []string{"smtpwatch notify test", "smtpwatch notify test phone --config /etc/smtpwatch/config.toml"},
	},
	"notify test": {
		About: "Sends a test notification through each [[notify]] channel of the config (or the one named)\n" +
			"and prints, for each, whether it was delivered or why not. The channel's URL is never printed.\n" +
			"Exit status 0 when every one was delivered, 2 when one failed, 3 when none could be tried.",
		Examples: []string{"smtpwatch notify test", "smtpwatch notify test phone"},
	},
	"notify set-url": {
		About:    "Stores the URL of the [[notify]] channel NAME in the OS keyring (url_keyring = true), read without echo or from a pipe.",
		Examples: []string{"smtpwatch notify set-url phone", "printf '%s' \"$URL\" | smtpwatch notify set-url phone"},
	},
	"password delete": {
		About:    "Removes the password of the account NAME from the OS keyring.",
		Examples: []string{"smtpwatch password delete charter"},
	},
	"add": {
		About: "Adds an account from an e-mail address: finds the outgoing server (smtpwatch's provider\n" +
			"list, the provider's autoconfig, the Thunderbird ISPDB, MX and SRV records, then guesses),\n" +
			"checks it live with the password, and only then stores the password in the OS keyring and\n" +
			"appends the account to the config file (a backup of the old file is kept). A running daemon\n" +
			"starts watching it by itself. In a terminal it asks what it needs; --yes asks nothing.\n" +
			"Exit status: 0 added, 1 added but sign-in not set up (OAuth2), 2 the check failed (nothing\n" +
			"written), 3 could not run, or stopped (nothing written).",
		Examples: []string{
			"smtpwatch add you@example.com",
			"printf '%s\\n' \"$PW\" | smtpwatch add you@example.com --password-stdin --yes --json",
			"smtpwatch add you@example.com --server mail.example.com:465 --security tls --password-command 'pass show mail'",
		},
	},
	"import": {
		About: "Adds the outgoing servers another mail program uses, with their user names. Passwords are\n" +
			"never copied from its files: store them with \"smtpwatch password set NAME\" (msmtp's\n" +
			"passwordeval becomes password_command). What the config already watches is not added twice.\n\n" +
			"Programs:\n" +
			"  thunderbird [PROFILE_DIR]   its prefs.js (default: the default profile)\n" +
			"  msmtp [FILE]                ~/.msmtprc or $XDG_CONFIG_HOME/msmtp/config",
		Examples: []string{"smtpwatch import thunderbird --dry-run", "smtpwatch import msmtp ~/.msmtprc"},
	},
	"import thunderbird": {
		About: "Adds the outgoing (SMTP) servers of a Thunderbird profile, with each one's user name and the\n" +
			"addresses that send through it. Without PROFILE_DIR it reads the default profile\n" +
			"(~/.thunderbird, ~/Library/Thunderbird or %APPDATA%\\Thunderbird).",
		Examples: []string{"smtpwatch import thunderbird --dry-run", "smtpwatch import thunderbird ~/.thunderbird/abcd1234.default-release"},
	},
	"import msmtp": {
		About: "Adds the accounts of an msmtp configuration: host, port, tls and tls_starttls, user;\n" +
			"passwordeval becomes password_command; a password written in the file is not copied.",
		Examples: []string{"smtpwatch import msmtp --dry-run", "smtpwatch import msmtp ~/.config/msmtp/config"},
	},
	"remove": {
		About:    "Removes the account NAME from the config file (a backup of the old file is kept) and its password from the OS keyring.",
		Examples: []string{"smtpwatch remove work", "smtpwatch remove work --keep-password"},
	},
	"open": {
		About: "Opens the dashboard of the running daemon in your browser: every account, its history\n" +
			"(uptime, the time of each phase, changes of state) and the settings. The link comes from the\n" +
			"daemon over its socket and opens the dashboard once, within 10 minutes; --print-url prints it.",
		Examples: []string{"smtpwatch open", "smtpwatch open --print-url"},
	},
	"accounts": {
		About:    "Lists the accounts of the config file: server, user, where the password comes from, and how each is doing when a daemon runs.",
		Examples: []string{"smtpwatch accounts", "smtpwatch accounts --json"},
	},
	"login": {
		About: "Signs the account NAME (auth = \"oauth2\": Microsoft 365, Outlook.com, Gmail) in with OAuth2:\n" +
			"opens the provider's sign-in page in your browser (the address is printed too), and keeps\n" +
			"the sign-in in the OS keyring; a running smtpwatch checks the account at once. --device\n" +
			"signs in on another device with a code, for computers without a browser (Microsoft;\n" +
			"Google refuses mail access that way). Builds without a client id need your own app\n" +
			"registration: see the README, \"Sign in with OAuth2\".",
		Examples: []string{"smtpwatch login work", "smtpwatch login --device work"},
	},
	"logout": {
		About:    "Removes the OAuth2 sign-in of the account NAME from the OS keyring.",
		Examples: []string{"smtpwatch logout work"},
	},
}

// verbCommands are the commands whose first argument is an action; their
// bare `--help` shows the overview entry of helpTable.
var verbCommands = map[string]string{
	"service":  "service install|uninstall|start|stop|status [--system [--user NAME]] [--config FILE]",
	"password": "password set|delete NAME",
	"import":   "import thunderbird [PROFILE_DIR] | import msmtp [FILE]",
	"notify":   "notify test [NAME] | set-url NAME [--config FILE]",
}

// isHelpFlag reports whether arg is -h or --help.
func isHelpFlag(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "-help"
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "--help", "-help", "help":
		return true
	}
	return false
}

// helpFlag is the value of -h and --help in every flag set app.flags
// makes: asking for help is a flag like any other, so parsing goes on and
// parse prints the help instead of running the command.
type helpFlag struct {
	asked  bool
	print  func() // writes the help to stdout
	stderr io.Writer
}

// badFlags tells what is wrong with the flags and where the help is.
func (h *helpFlag) badFlags(fs *flag.FlagSet, err error) {
	msg := err.Error()
	for _, prefix := range []string{"flag provided but not defined: -", "flag needs an argument: -"} {
		if name, ok := strings.CutPrefix(msg, prefix); ok {
			msg = prefix + "-" + name
		}
	}
	msg = strings.Replace(msg, " for flag -", " for flag --", 1)
	msg = strings.Replace(msg, " for -", " for --", 1)
	fmt.Fprintf(h.stderr, "smtpwatch %s: %s\nRun \"smtpwatch %s --help\" for its flags.\n", fs.Name(), msg, fs.Name())
}

func (h *helpFlag) String() string   { return "false" }
func (h *helpFlag) IsBoolFlag() bool { return true }
func (h *helpFlag) Set(s string) error {
	h.asked = s != "false"
	return nil
}

// helpOf is the help flag of fs, nil for a flag set app.flags did not make.
func helpOf(fs *flag.FlagSet) *helpFlag {
	if f := fs.Lookup("help"); f != nil {
		if h, ok := f.Value.(*helpFlag); ok {
			return h
		}
	}
	return nil
}

// printHelp writes a command's help: usage, what it does, its flags with
// "--", and examples.
func printHelp(w io.Writer, name, synopsis string, fs *flag.FlagSet) {
	var b strings.Builder
	b.WriteString("Usage: smtpwatch " + synopsis + "\n")
	h := helpTable[name]
	if h.About != "" {
		b.WriteString("\n" + h.About + "\n")
	}
	if fs != nil {
		b.WriteString("\nFlags:\n" + flagList(fs))
	}
	if len(h.Examples) > 0 {
		b.WriteString("\nExamples:\n")
		for _, e := range h.Examples {
			b.WriteString("  " + e + "\n")
		}
	}
	io.WriteString(w, b.String())
}

// flagList lists fs's flags as a person types them: "--config FILE",
// with the usage beside or below, then -h/--help.
func flagList(fs *flag.FlagSet) string {
	type row struct{ left, usage string }
	var rows []row
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := f.Value.(*helpFlag); ok {
			return
		}
		arg, usage := flag.UnquoteUsage(f)
		left := "--" + f.Name
		if arg != "" {
			left += " " + argName(arg)
		}
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" && d != "[]" {
			usage += " (default " + d + ")"
		}
		rows = append(rows, row{left, usage})
	})
	rows = append(rows, row{"-h, --help", "show this help"})
	const maxLeft = 22
	width := 0
	for _, r := range rows {
		if n := len(r.left); n > width && n <= maxLeft {
			width = n
		}
	}
	indent := strings.Repeat(" ", width+4)
	var b strings.Builder
	for _, r := range rows {
		lines := wrapWords(r.usage, 96-len(indent))
		if len(r.left) > width {
			b.WriteString("  " + r.left + "\n")
		} else {
			fmt.Fprintf(&b, "  %-*s  %s\n", width, r.left, lines[0])
			lines = lines[1:]
		}
		for _, l := range lines {
			b.WriteString(indent + l + "\n")
		}
	}
	return b.String()
}

// argName is the placeholder of a flag's value: the name its usage gives
// in back quotes (upper-cased), else one for its type.
func argName(arg string) string {
	switch arg {
	case "string", "value":
		return "VALUE"
	case "duration":
		return "DURATION"
	case "int", "uint", "int64", "uint64":
		return "N"
	case "float":
		return "NUMBER"
	}
	return strings.ToUpper(arg)
}

// wrapWords breaks s into lines of at most width bytes (a longer word gets
// a line of its own); it returns at least one line.
func wrapWords(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}

// helpCmd is `smtpwatch help [COMMAND [ACTION]]`: the same as `smtpwatch
// COMMAND [ACTION] --help`.
func (a *app) helpCmd(run func(args []string) int, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(a.stdout, usage)
		return exitOK
	}
	if _, ok := commands[args[0]]; !ok {
		return a.fail("help: unknown command %q\n\n%s", args[0], usage)
	}
	return run(append(append([]string(nil), args...), "--help"))
}

// verbHelp prints the overview of a command with actions (`smtpwatch
// service --help`).
func (a *app) verbHelp(cmd string) int {
	printHelp(a.stdout, cmd, verbCommands[cmd], nil)
	return exitOK
}

// version is `smtpwatch version`: the version set at build time (-ldflags
// "-X main.version=..."), else the module's; the commit and the Go
// version, from the build information Go records in the binary.
func (a *app) version(args []string) int {
	fl := a.flags("version", "version")
	if code, ok := parse(fl, args); !ok {
		return code
	}
	bi, _ := debug.ReadBuildInfo()
	bi = withLinkedCommit(bi, commit, commitTime)
	fmt.Fprint(a.stdout, versionText(version, bi))
	return exitOK
}

// versionText says what build this is:
//
//	smtpwatch 1.4.0
//	commit 3f2a9c1e0b7d (modified), 2026-03-01T12:00:00Z
//	go1.26.8 linux/amd64
func versionText(ldflags string, bi *debug.BuildInfo) string {
	v := ldflags
	var commit, when, goVersion, platform string
	modified := false
	if bi != nil {
		if (v == "" || v == "dev") && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		goVersion = bi.GoVersion
		var goos, goarch string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			case "GOOS":
				goos = s.Value
			case "GOARCH":
				goarch = s.Value
			}
		}
		if goos != "" {
			platform = goos + "/" + goarch
		}
	}
	if v == "" {
		v = "dev"
	}
	var b strings.Builder
	b.WriteString("smtpwatch " + v + "\n")
	switch {
	case commit != "":
		b.WriteString("commit " + commit)
		if modified {
			b.WriteString(" (modified)")
		}
		if when != "" {
			b.WriteString(", " + when)
		}
		b.WriteString("\n")
	default:
		b.WriteString("commit unknown (built without version control information)\n")
	}
	if goVersion != "" {
		b.WriteString(strings.TrimSpace(goVersion+" "+platform) + "\n")
	}
	return b.String()
}
