package service

import (
	"fmt"
	"html"
	"path/filepath"
	"strings"
	"unicode/utf16"

	kservice "github.com/kardianos/service"
)

// What smtpwatch asks of Windows, as plain values a test on any OS reads:
// the command lines, the Task Scheduler's XML for the logon tasks, the
// Windows service's configuration and the security descriptors (SDDL) of
// the system service's directories. service_windows.go only hands them to
// the OS.

// windowsQuote quotes one argument so that CommandLineToArgvW (and Go's
// os.Args on Windows) reads it back: in double quotes when it holds a
// space, a tab or a quote, with backslashes doubled before a quote.
func windowsQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			slashes++
		case '"':
			b.WriteString(strings.Repeat(`\`, slashes+1))
			slashes = 0
		default:
			slashes = 0
		}
		b.WriteByte(s[i])
	}
	b.WriteString(strings.Repeat(`\`, slashes))
	b.WriteByte('"')
	return b.String()
}

// windowsArgs is args as one Windows command line.
func windowsArgs(args []string) string {
	words := make([]string, len(args))
	for i, a := range args {
		words[i] = windowsQuote(a)
	}
	return strings.Join(words, " ")
}

// logonTask is a Task Scheduler task that starts a program at logon, in
// the user's desktop session, with the user's rights (never elevated).
type logonTask struct {
	Description string
	Command     string
	Arguments   []string
	// UserID is the one user whose logons start it (per-user install);
	// GroupSID, instead, makes it start at the logon of every member of
	// that group (the tray of a system install).
	UserID, GroupSID string
}

// xml is the task's definition (Task Scheduler schema 1.2), as UTF-16
// with a byte order mark, which `schtasks /Create /XML` reads on every
// Windows version. It runs without a time limit (the default of a task
// created by schtasks /SC is 72 hours, after which it would be ended), is
// restarted up to three times a minute apart when it fails, runs on
// battery, and never runs twice at once.
func (t logonTask) xml() []byte {
	esc := html.EscapeString
	trigger, principal := "<LogonTrigger><Enabled>true</Enabled></LogonTrigger>", ""
	if t.UserID != "" {
		trigger = "<LogonTrigger><Enabled>true</Enabled><UserId>" + esc(t.UserID) + "</UserId></LogonTrigger>"
		principal = "<UserId>" + esc(t.UserID) + "</UserId><LogonType>InteractiveToken</LogonType>"
	} else {
		principal = "<GroupId>" + esc(t.GroupSID) + "</GroupId>"
	}
	doc := `<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>` + esc(t.Description) + `</Description>
  </RegistrationInfo>
  <Triggers>
    ` + trigger + `
  </Triggers>
  <Principals>
    <Principal id="Author">` + principal + `<RunLevel>LeastPrivilege</RunLevel></Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <RestartOnFailure><Interval>PT1M</Interval><Count>3</Count></RestartOnFailure>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>` + esc(t.Command) + `</Command>
      <Arguments>` + esc(windowsArgs(t.Arguments)) + `</Arguments>
    </Exec>
  </Actions>
</Task>
`
	units := utf16.Encode([]rune(strings.ReplaceAll(doc, "\n", "\r\n")))
	out := make([]byte, 2, 2+2*len(units))
	out[0], out[1] = 0xFF, 0xFE
	for _, u := range units {
		out = append(out, byte(u), byte(u>>8))
	}
	return out
}

// userTask is the per-user install on Windows: `smtpwatch run` at the
// user's logons.
func (o Options) userTask(userID string) logonTask {
	return logonTask{Description: description, Command: o.Executable, Arguments: o.daemonArgs(), UserID: userID}
}

// trayTask is the tray of a system install, at the logon of every member
// of the group allowed to reach the daemon.
func (o Options) trayTask(groupSID string) logonTask {
	return logonTask{Description: "smtpwatch tray: shows what the smtpwatch service knows", Command: o.Executable,
		Arguments: o.trayArgs(), GroupSID: groupSID}
}

// trayTaskName is the name of the tray's task in a system install.
func (o Options) trayTaskName() string { return o.name() + "-tray" }

// Well-known security identifiers (SIDs) in the descriptors below.
const (
	sidSystem         = "SY" // LocalSystem
	sidAdministrators = "BA" // BUILTIN\Administrators
	// LocalServiceAccount runs the Windows service: an account with the
	// rights of an ordinary user and no password, made for services.
	LocalServiceAccount = `NT AUTHORITY\LocalService`
	sidLocalService     = "LS"
)

// WindowsSystemPaths is the Windows system install's layout, under
// %ProgramData%\smtpwatch: the config (readable by the group, written by
// administrators), the state (the service's alone) and the API socket in
// a directory of its own (where the group may connect and nothing more).
func WindowsSystemPaths(programData string) (base, config, state, socket string) {
	base = filepath.Join(programData, "smtpwatch")
	return base, filepath.Join(base, "config.toml"), filepath.Join(base, "state"), filepath.Join(base, "api", "smtpwatch.sock")
}

// The directories' security descriptors, each protected (P: nothing
// inherited from %ProgramData%, whose ACL lets every user create files)
// and owned by Administrators:
//   - base (the config): SYSTEM and Administrators full control, the
//     service account and the group read and traverse;
//   - state: SYSTEM, Administrators and the service account only;
//   - the socket's: as state, plus the group may list the directory and,
//     inherited by the socket file the service creates, read and write it
//     — connecting to an AF_UNIX socket needs write access to its file;
//     binding one needs write access to the directory, which the group
//     does not have, so no member can put a socket of its own there.
func windowsBaseSDDL(groupSID string) string {
	return "O:BAG:BAD:P" + ace("OICI", "FA", sidSystem) + ace("OICI", "FA", sidAdministrators) +
		ace("OICI", "FRFX", sidLocalService) + ace("OICI", "FRFX", groupSID)
}

func windowsStateSDDL() string {
	return "O:BAG:BAD:P" + ace("OICI", "FA", sidSystem) + ace("OICI", "FA", sidAdministrators) + ace("OICI", "FA", sidLocalService)
}

func windowsSocketDirSDDL(groupSID string) string {
	return windowsStateSDDL() + ace("", "FRFX", groupSID) + ace("OIIO", "FRFW", groupSID)
}

// ace is one access-allowed entry of a DACL in SDDL.
func ace(flags, rights, sid string) string {
	return fmt.Sprintf("(A;%s;%s;;;%s)", flags, rights, sid)
}

// windowsServiceArgs are the system daemon's arguments on Windows: the
// state directory is given, since the service account's own profile is
// no place for it.
func (o Options) windowsServiceArgs() []string {
	return append(o.daemonArgs(), "--state-dir", o.StateDir)
}

// windowsService is the kardianos configuration of the system service:
// `smtpwatch run --headless` as LocalService, started automatically
// after the boot has settled (delayed auto start), restarted 30 s after a
// failure (the count of failures reset after a day), logging to the
// Event Log under its name (kardianos registers the source at install).
func (o Options) windowsService() *kservice.Config {
	return &kservice.Config{
		Name:        o.name(),
		DisplayName: "smtpwatch",
		Description: description,
		Executable:  o.Executable,
		Arguments:   o.windowsServiceArgs(),
		UserName:    LocalServiceAccount,
		Option: kservice.KeyValue{
			"StartType":              "automatic",
			"DelayedAutoStart":       true,
			"OnFailure":              "restart",
			"OnFailureDelayDuration": "30s",
			"OnFailureResetPeriod":   86400,
		},
	}
}
