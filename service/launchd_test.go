package service

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"
)

// readPlist reads a property list with a real plist reader — Python's
// plistlib, which refuses what launchd would not parse — and gives its
// top-level dictionary. launchd itself cannot run here: this is the
// macOS part a Linux machine can prove.
func readPlist(t *testing.T, plist string) map[string]any {
	t.Helper()
	py := "/usr/bin/python3"
	if _, err := os.Stat(py); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing", py)
		}
		t.Skipf("%s is missing", py)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", "import json, plistlib, sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read(), fmt=plistlib.FMT_XML)))")
	cmd.Stdin = strings.NewReader(plist)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("plistlib refuses the plist: %v\n%s", err, plist)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Every launchd job smtpwatch installs, read back key by key: the label
// kardianos asks launchctl about, the program with the absolute config
// path (one with spaces and markup characters survives), started at load,
// kept alive on failure only (Quit in the tray ends it for good), output
// under ~/Library/Logs/smtpwatch, the daemon as its user with the user's
// HOME, agents only in the graphical session.
func TestLaunchdPlists(t *testing.T) {
	home := "/Users/me & you"
	cfg := "/Users/me & you/Library/Application Support/smtpwatch/<config>.toml"
	o := Options{Executable: "/usr/local/bin/smtpwatch", ConfigPath: cfg}
	daemon, tray := o.launchdJobs(home)
	if tray != nil {
		t.Fatal("a per-user install has a second job")
	}
	want := map[string]any{
		"Label":                  "smtpwatch",
		"ProgramArguments":       []any{"/usr/local/bin/smtpwatch", "run", "--config", cfg},
		"EnvironmentVariables":   map[string]any{"HOME": home},
		"RunAtLoad":              true,
		"KeepAlive":              map[string]any{"SuccessfulExit": false},
		"ThrottleInterval":       float64(30),
		"LimitLoadToSessionType": "Aqua",
		"ProcessType":            "Interactive",
		"StandardOutPath":        home + "/Library/Logs/smtpwatch/smtpwatch.log",
		"StandardErrorPath":      home + "/Library/Logs/smtpwatch/smtpwatch.log",
	}
	if got := readPlist(t, daemon.plist()); !reflect.DeepEqual(got, want) {
		t.Errorf("LaunchAgent:\n got %v\nwant %v", got, want)
	}

	o.System, o.UserName, o.Socket = true, "me", home+"/Library/Application Support/smtpwatch/smtpwatch.sock"
	daemon, tray = o.launchdJobs(home)
	want = map[string]any{
		"Label":                "smtpwatch",
		"ProgramArguments":     []any{"/usr/local/bin/smtpwatch", "run", "--config", cfg, "--headless", "--socket", o.Socket},
		"UserName":             "me",
		"EnvironmentVariables": map[string]any{"HOME": home},
		"RunAtLoad":            true,
		"KeepAlive":            map[string]any{"SuccessfulExit": false},
		"ThrottleInterval":     float64(30),
		"StandardOutPath":      home + "/Library/Logs/smtpwatch/smtpwatch.log",
		"StandardErrorPath":    home + "/Library/Logs/smtpwatch/smtpwatch.log",
	}
	if got := readPlist(t, daemon.plist()); !reflect.DeepEqual(got, want) {
		t.Errorf("LaunchDaemon:\n got %v\nwant %v", got, want)
	}
	if tray == nil {
		t.Fatal("a system install has no tray agent")
	}
	want = map[string]any{
		"Label":                  "com.smtpwatch.smtpwatch-tray",
		"ProgramArguments":       []any{"/usr/local/bin/smtpwatch", "tray", "--config", cfg, "--socket", o.Socket},
		"EnvironmentVariables":   map[string]any{"HOME": home},
		"RunAtLoad":              true,
		"LimitLoadToSessionType": "Aqua",
		"ProcessType":            "Interactive",
		"StandardOutPath":        home + "/Library/Logs/smtpwatch/com.smtpwatch.smtpwatch-tray.log",
		"StandardErrorPath":      home + "/Library/Logs/smtpwatch/com.smtpwatch.smtpwatch-tray.log",
	}
	if got := readPlist(t, tray.plist()); !reflect.DeepEqual(got, want) {
		t.Errorf("tray LaunchAgent:\n got %v\nwant %v", got, want)
	}
}
