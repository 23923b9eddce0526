package main

import (
	"bytes"
	"context"
	"io/fs"
	"log/slog"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// noStdin fails the test when a command reads its standard input: help
// must not prompt (`password set --help` once read a password).
type noStdin struct{ t *testing.T }

func (r noStdin) Read([]byte) (int, error) {
	r.t.Error("the command read its standard input")
	return 0, context.Canceled
}

// runHelp runs smtpwatch with args in a private, empty home and reports
// what it printed; it fails the test when anything was written there.
func runHelp(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(home, "run"))
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	var out, errb bytes.Buffer
	a := &app{stdin: noStdin{t}, stdout: &out, stderr: &errb, getenv: func(string) string { return "" },
		logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code = a.main(ctx, args)
	filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if p != home {
			t.Errorf("smtpwatch %s wrote %s", strings.Join(args, " "), p)
		}
		return nil
	})
	return code, out.String(), errb.String()
}

// singleDash is a flag written with one dash in a help text.
var singleDash = regexp.MustCompile(`(?m)^\s+-[a-zA-Z0-9][a-z-]`)

// Every command answers -h, --help and `smtpwatch help COMMAND` alike:
// exit 0, on stdout, with its synopsis, what it does, its flags written
// with "--" and examples — and does nothing else (no file written, no
// standard input read, no daemon asked, nothing checked or started).
func TestHelpForEveryCommand(t *testing.T) {
	for _, cmd := range [][]string{
		{"check"}, {"init"}, {"run"}, {"tray"}, {"status"}, {"pause"}, {"resume"}, {"history"},
		{"presets"}, {"version"}, {"service"}, {"service", "install"}, {"service", "uninstall"},
		{"service", "start"}, {"service", "stop"}, {"service", "status"}, {"password"}, {"open"},
		{"notify"}, {"notify", "test"}, {"notify", "set-url"},
	} {
		name := strings.Join(cmd, " ")
		t.Run(name, func(t *testing.T) {
			code, want, errs := runHelp(t, append(cmd, "--help")...)
			if code != 0 || errs != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, errs)
			}
			if !strings.HasPrefix(want, "Usage: smtpwatch "+name) {
				t.Errorf("help does not start with the usage of %q:\n%s", name, want)
			}
			about := helpTable[name].About
			if about == "" || !strings.Contains(want, "\n"+about+"\n") {
				t.Errorf("help lacks what %q does:\n%s", name, want)
			}
			if !strings.Contains(want, "\nExamples:\n  smtpwatch ") && !strings.Contains(want, "\nExamples:\n  SMTPWATCH_PASSWORD=... smtpwatch ") {
				t.Errorf("help has no examples:\n%s", want)
			}
			if len(cmd) == 2 || !isVerbCommand(name) {
				if !strings.Contains(want, "\nFlags:\n") || !strings.Contains(want, "  -h, --help ") {
					t.Errorf("help lists no flags:\n%s", want)
				}
			}
			if m := singleDash.FindString(strings.ReplaceAll(want, "-h, --help", "")); m != "" {
				t.Errorf("a flag written with one dash (%q):\n%s", m, want)
			}
			for _, args := range [][]string{append(cmd, "-h"), append([]string{"help"}, cmd...), append(cmd, "-help")} {
				code, got, errs := runHelp(t, args...)
				if code != 0 || errs != "" || got != want {
					t.Errorf("smtpwatch %s: exit %d, stderr %q, and\n%s\nwant the same as --help:\n%s", strings.Join(args, " "), code, errs, got, want)
				}
			}
		})
	}
}

func isVerbCommand(name string) bool {
	_, ok := verbCommands[name]
	return ok
}

// Help after other flags and arguments still wins over running the
// command.
func TestHelpAnywhere(t *testing.T) {
	for _, args := range [][]string{
		{"status", "--json", "--help"},
		{"pause", "1h", "--help"},
		{"pause", "--account", "work", "-h", "2h"},
		{"check", "--server", "127.0.0.1", "--help"},
		{"service", "install", "--system", "--help"},
		{"service", "help"},
		{"help", "service", "start"},
	} {
		code, out, errs := runHelp(t, args...)
		if code != 0 || errs != "" || !strings.HasPrefix(out, "Usage: smtpwatch ") {
			t.Errorf("smtpwatch %s: exit %d, stderr %q, stdout:\n%s", strings.Join(args, " "), code, errs, out)
		}
	}
}

// Bad flags name the flag with "--" and point to the help; exit 3.
func TestBadFlagsPointToHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "--bogus"}, "smtpwatch status: flag provided but not defined: --bogus\nRun \"smtpwatch status --help\" for its flags.\n"},
		{[]string{"history", "--since"}, "smtpwatch history: flag needs an argument: --since\nRun \"smtpwatch history --help\" for its flags.\n"},
		{[]string{"resume", "extra"}, "smtpwatch resume: unexpected argument \"extra\"\nRun \"smtpwatch resume --help\" for its usage.\n"},
		{[]string{"service", "status", "--system=maybe"}, "smtpwatch service status: invalid boolean value \"maybe\" for --system: parse error\nRun \"smtpwatch service status --help\" for its flags.\n"},
	} {
		code, out, errs := runHelp(t, tt.args...)
		if code != exitUnknown || out != "" || errs != tt.want {
			t.Errorf("smtpwatch %s: exit %d, stdout %q, stderr\n%q\nwant 3 and\n%q", strings.Join(tt.args, " "), code, out, errs, tt.want)
		}
	}
}

func TestTopLevelHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		if code, out, errs := runHelp(t, args...); code != 0 || out != usage || errs != "" {
			t.Errorf("smtpwatch %s: exit %d, stderr %q", strings.Join(args, " "), code, errs)
		}
	}
	if code, out, errs := runHelp(t); code != exitUnknown || out != "" || errs != usage {
		t.Errorf("smtpwatch alone: exit %d, stdout %q", code, out)
	}
	if code, _, errs := runHelp(t, "help", "frobnicate"); code != exitUnknown || !strings.Contains(errs, `unknown command "frobnicate"`) {
		t.Errorf("help frobnicate: exit %d, %q", code, errs)
	}
}

// The version line comes from -ldflags when set, else the module's
// version; the commit and its state from the build's VCS information.
func TestVersionText(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "smtpwatch", Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"},
		{Key: "vcs.revision", Value: "df545d5a0c3e6f1b2a4d8e9f0a1b2c3d4e5f6a7b"},
		{Key: "vcs.time", Value: "2026-03-01T12:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	want := "smtpwatch 1.4.0\ncommit df545d5a0c3e6f1b2a4d8e9f0a1b2c3d4e5f6a7b (modified), 2026-03-01T12:00:00Z\ngo1.26.8 linux/amd64\n"
	if got := versionText("1.4.0", bi); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	bi.Main.Version = "v1.5.0"
	if got := versionText("dev", bi); !strings.HasPrefix(got, "smtpwatch v1.5.0\n") {
		t.Errorf("the module's version: %q", got)
	}
	if got := versionText("dev", &debug.BuildInfo{GoVersion: "go1.26.8"}); got != "smtpwatch dev\ncommit unknown (built without version control information)\ngo1.26.8\n" {
		t.Errorf("without VCS information: %q", got)
	}
	code, out, _ := runHelp(t, "version")
	if code != 0 || !strings.HasPrefix(out, "smtpwatch dev\n") || !strings.Contains(out, "\ngo1.") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, errs := runHelp(t, "version", "extra"); code != exitUnknown || !strings.Contains(errs, "unexpected argument") {
		t.Errorf("version extra: %d %q", code, errs)
	}
}
