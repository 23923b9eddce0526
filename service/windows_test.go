package service

import (
	"encoding/xml"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf16"

	"smtpwatch/monitor/api"
)

// argvW splits a command line as CommandLineToArgvW does (the rules Go's
// os.Args follows on Windows), for the quoting round trip.
func argvW(s string) []string {
	var args []string
	var b strings.Builder
	inArg, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			n := 0
			for i < len(s) && s[i] == '\\' {
				n++
				i++
			}
			if i < len(s) && s[i] == '"' {
				b.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					b.WriteByte('"')
				} else {
					quoted = !quoted
				}
			} else {
				b.WriteString(strings.Repeat(`\`, n))
				i--
			}
			inArg = true
		case c == '"':
			quoted, inArg = !quoted, true
		case (c == ' ' || c == '\t') && !quoted:
			if inArg {
				args = append(args, b.String())
				b.Reset()
				inArg = false
			}
		default:
			b.WriteByte(c)
			inArg = true
		}
	}
	if inArg {
		args = append(args, b.String())
	}
	return args
}

func TestWindowsQuote(t *testing.T) {
	for in, want := range map[string]string{
		`C:\Program Files\smtpwatch\smtpwatchw.exe`: `"C:\Program Files\smtpwatch\smtpwatchw.exe"`,
		`run`:                     `run`,
		`C:\dir\`:                 `C:\dir\`,
		`C:\my dir\`:              `"C:\my dir\\"`,
		`say "hi"`:                `"say \"hi\""`,
		`a\"b`:                    `"a\\\"b"`,
		``:                        `""`,
		`C:\Users\me\config.toml`: `C:\Users\me\config.toml`,
	} {
		if got := windowsQuote(in); got != want {
			t.Errorf("windowsQuote(%q) = %s, want %s", in, got, want)
		}
	}
	args := []string{`C:\Program Files\smtpwatch\smtpwatchw.exe`, "run", "--config", `C:\Users\Me Too\AppData\Roaming\smtpwatch\config.toml`, `x"y\`, `tail\\`, ""}
	if got := argvW(windowsArgs(args)); strings.Join(got, "\x00") != strings.Join(args, "\x00") {
		t.Errorf("round trip: %q -> %s -> %q", args, windowsArgs(args), got)
	}
}

// taskDoc is the part of the Task Scheduler schema the tasks use.
type taskDoc struct {
	XMLName  xml.Name `xml:"http://schemas.microsoft.com/windows/2004/02/mit/task Task"`
	Version  string   `xml:"version,attr"`
	Triggers struct {
		Logon []struct {
			Enabled bool   `xml:"Enabled"`
			UserID  string `xml:"UserId"`
		} `xml:"LogonTrigger"`
	} `xml:"Triggers"`
	Principal struct {
		UserID    string `xml:"UserId"`
		GroupID   string `xml:"GroupId"`
		LogonType string `xml:"LogonType"`
		RunLevel  string `xml:"RunLevel"`
	} `xml:"Principals>Principal"`
	Settings struct {
		Multiple  string `xml:"MultipleInstancesPolicy"`
		Battery   bool   `xml:"DisallowStartIfOnBatteries"`
		TimeLimit string `xml:"ExecutionTimeLimit"`
		Restart   struct {
			Interval string `xml:"Interval"`
			Count    int    `xml:"Count"`
		} `xml:"RestartOnFailure"`
	} `xml:"Settings"`
	Exec struct {
		Command   string `xml:"Command"`
		Arguments string `xml:"Arguments"`
	} `xml:"Actions>Exec"`
}

// readTask decodes the UTF-16 task XML schtasks is given.
func readTask(t *testing.T, b []byte) taskDoc {
	t.Helper()
	if len(b) < 2 || b[0] != 0xFF || b[1] != 0xFE || len(b)%2 != 0 {
		t.Fatalf("not UTF-16LE with a byte order mark: % x", b[:min(len(b), 8)])
	}
	u := make([]uint16, 0, len(b)/2-1)
	for i := 2; i < len(b); i += 2 {
		u = append(u, uint16(b[i])|uint16(b[i+1])<<8)
	}
	text := string(utf16.Decode(u))
	d := xml.NewDecoder(strings.NewReader(text))
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil } // already decoded
	var doc taskDoc
	if err := d.Decode(&doc); err != nil {
		t.Fatalf("task XML: %v\n%s", err, text)
	}
	return doc
}

// The logon tasks, read back: the per-user one runs `smtpwatch run` at
// that user's logon, the system install's tray one at the logon of every
// member of the group; both with the user's own rights, without the 72-hour
// limit a task gets by default, restarted when they fail, never twice.
func TestWindowsTasks(t *testing.T) {
	exe := `C:\Program Files\smtpwatch\smtpwatchw.exe`
	cfg := `C:\Users\Me & You\AppData\Roaming\smtpwatch\config.toml`
	o := Options{Executable: exe, ConfigPath: cfg}
	doc := readTask(t, o.userTask(`PC\me`).xml())
	if len(doc.Triggers.Logon) != 1 || !doc.Triggers.Logon[0].Enabled || doc.Triggers.Logon[0].UserID != `PC\me` {
		t.Errorf("trigger: %+v", doc.Triggers)
	}
	if doc.Principal.UserID != `PC\me` || doc.Principal.LogonType != "InteractiveToken" || doc.Principal.RunLevel != "LeastPrivilege" || doc.Principal.GroupID != "" {
		t.Errorf("principal: %+v", doc.Principal)
	}
	if s := doc.Settings; s.TimeLimit != "PT0S" || s.Multiple != "IgnoreNew" || s.Battery || s.Restart.Count != 3 || s.Restart.Interval != "PT1M" {
		t.Errorf("settings: %+v", s)
	}
	if doc.Exec.Command != exe || strings.Join(argvW(doc.Exec.Arguments), "|") != "run|--config|"+cfg {
		t.Errorf("action: %+v", doc.Exec)
	}

	o.System, o.Socket, o.Group = true, `C:\ProgramData\smtpwatch\api\smtpwatch.sock`, "Mail watchers"
	doc = readTask(t, o.trayTask("S-1-5-21-1-2-3-1001").xml())
	if len(doc.Triggers.Logon) != 1 || doc.Triggers.Logon[0].UserID != "" {
		t.Errorf("tray trigger must fire at any logon: %+v", doc.Triggers)
	}
	if doc.Principal.GroupID != "S-1-5-21-1-2-3-1001" || doc.Principal.UserID != "" || doc.Principal.RunLevel != "LeastPrivilege" {
		t.Errorf("tray principal: %+v", doc.Principal)
	}
	if got := strings.Join(argvW(doc.Exec.Arguments), "|"); got != "tray|--config|"+cfg+"|--socket|"+o.Socket {
		t.Errorf("tray arguments: %s", got)
	}
}

// sddlACEs splits a descriptor's DACL into its entries.
func sddlACEs(t *testing.T, sddl string) (owner, flags string, aces []string) {
	t.Helper()
	m := regexp.MustCompile(`^O:([\w-]+)(?:G:[\w-]+)?D:([PAIR]*)((?:\([^()]*\))+)$`).FindStringSubmatch(sddl)
	if m == nil {
		t.Fatalf("not a descriptor with an owner and a DACL: %s", sddl)
	}
	return m[1], m[2], regexp.MustCompile(`\(([^()]*)\)`).FindAllString(m[3], -1)
}

// The descriptors of the Windows system install's directories, entry by
// entry: protected (nothing from %ProgramData%, where every user may
// create files), and the group may read the config and connect to the
// socket — connecting needs write access to the socket file — but cannot
// bind a socket of its own (write access to the directory) nor read the
// state. The per-user socket directory is the user's, SYSTEM's and
// Administrators' alone, as mode 0700 is on Unix.
func TestWindowsSDDL(t *testing.T) {
	const g = "S-1-5-21-1-2-3-1001"
	for _, c := range []struct {
		name, sddl string
		aces       []string
	}{
		{"config", windowsBaseSDDL(g), []string{"(A;OICI;FA;;;SY)", "(A;OICI;FA;;;BA)", "(A;OICI;FRFX;;;LS)", "(A;OICI;FRFX;;;" + g + ")"}},
		{"state", windowsStateSDDL(), []string{"(A;OICI;FA;;;SY)", "(A;OICI;FA;;;BA)", "(A;OICI;FA;;;LS)"}},
		{"socket", windowsSocketDirSDDL(g), []string{"(A;OICI;FA;;;SY)", "(A;OICI;FA;;;BA)", "(A;OICI;FA;;;LS)", "(A;;FRFX;;;" + g + ")", "(A;OIIO;FRFW;;;" + g + ")"}},
	} {
		owner, flags, aces := sddlACEs(t, c.sddl)
		if owner != "BA" || !strings.Contains(flags, "P") {
			t.Errorf("%s: owner %s, flags %q: want BA and protected", c.name, owner, flags)
		}
		if strings.Join(aces, "") != strings.Join(c.aces, "") {
			t.Errorf("%s: %v\nwant %v", c.name, aces, c.aces)
		}
		for _, a := range aces {
			for _, everyone := range []string{";WD)", ";AU)", ";BU)", ";IU)", ";CO)"} {
				if strings.HasSuffix(a, everyone) {
					t.Errorf("%s grants %s", c.name, a)
				}
			}
		}
	}
	owner, flags, aces := sddlACEs(t, api.PrivateDirSDDL("S-1-5-21-1-2-3-1002"))
	if owner != "S-1-5-21-1-2-3-1002" || flags != "P" || strings.Join(aces, "") != "(A;OICI;FA;;;S-1-5-21-1-2-3-1002)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)" {
		t.Errorf("private socket directory: %s %s %v", owner, flags, aces)
	}
}

// The Windows service: the headless daemon as LocalService with its
// config, socket and state given, started automatically after a delay,
// restarted 30 s after a failure; the group must be named.
func TestWindowsServiceConfig(t *testing.T) {
	base, cfg, state, socket := WindowsSystemPaths(`C:\ProgramData`)
	if base != filepath.Join(`C:\ProgramData`, "smtpwatch") || filepath.Dir(cfg) != base || filepath.Dir(filepath.Dir(socket)) != base || filepath.Dir(state) != base ||
		filepath.Dir(socket) == base {
		t.Errorf("layout: %s %s %s %s", base, cfg, state, socket)
	}
	o := Options{System: true, Executable: `C:\Program Files\smtpwatch\smtpwatch.exe`, ConfigPath: cfg, Socket: socket, StateDir: state, Group: "Users"}
	c := o.windowsService()
	if c.Name != "smtpwatch" || c.UserName != `NT AUTHORITY\LocalService` || c.Executable != o.Executable {
		t.Errorf("service: %+v", c)
	}
	if got := strings.Join(c.Arguments, "|"); got != "run|--config|"+cfg+"|--headless|--socket|"+socket+"|--state-dir|"+state {
		t.Errorf("arguments: %s", got)
	}
	for k, want := range map[string]any{"StartType": "automatic", "DelayedAutoStart": true, "OnFailure": "restart", "OnFailureDelayDuration": "30s", "OnFailureResetPeriod": 86400} {
		if c.Option[k] != want {
			t.Errorf("option %s = %v, want %v", k, c.Option[k], want)
		}
	}
}
