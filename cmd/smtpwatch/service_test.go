package main

import (
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"smtpwatch/monitor/config"
	"smtpwatch/service"
)

// serviceSession points every per-user directory at a temporary home.
func serviceSession(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("XDG_STATE_HOME", "")
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(home, "run"))
	return home
}

// A per-user install where no systemd user manager runs (as here) is an XDG
// autostart entry in the user's config dir that runs this binary with the
// user's config, written from the commented template when missing. status
// says it is installed and not running (exit 3), uninstall removes it, and
// says so when there was nothing. Starting and stopping a real daemon is
// e2e/service_autostart_test.go's (this test binary is no smtpwatch).
func TestServiceUserInstall(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs here: a user install would make a real unit")
	}
	home := serviceSession(t)
	cfg := filepath.Join(home, ".config", "smtpwatch", "config.toml")
	c := &cli{}
	if code := c.run(t, "service", "status"); code != 3 || !strings.HasPrefix(c.stdout.String(), "Not installed.\n") {
		t.Errorf("status before install: %d %q", code, c.stdout.String())
	}
	if code := c.run(t, "service", "install"); code != 0 {
		t.Fatalf("install: %d %s", code, c.stderr.String())
	}
	if !strings.Contains(c.stdout.String(), "Wrote the commented config file "+cfg) {
		t.Errorf("install did not say it wrote the config:\n%s", c.stdout.String())
	}
	if b, err := os.ReadFile(cfg); err != nil || string(b) != config.Template {
		t.Errorf("config not written from the template: %v", err)
	}
	entry := filepath.Join(home, ".config", "autostart", "smtpwatch.desktop")
	b, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), " run --config "+cfg) {
		t.Errorf("entry:\n%s", b)
	}
	code := c.run(t, "service", "status")
	if out := c.stdout.String(); code != 3 || !strings.Contains(out, "Installed: autostart entry "+entry) || !strings.Contains(out, "Not running.") {
		t.Errorf("status: %d %q", code, out)
	}
	if code := c.run(t, "service", "install"); code != 3 || !strings.Contains(c.stderr.String(), "already installed") {
		t.Errorf("second install: %d %q", code, c.stderr.String())
	}
	if code := c.run(t, "service", "uninstall"); code != 0 || c.stdout.String() != "Uninstalled: autostart entry "+entry+".\n" {
		t.Fatalf("uninstall: %d %q %s", code, c.stdout.String(), c.stderr.String())
	}
	if _, err := os.Stat(entry); !os.IsNotExist(err) {
		t.Errorf("entry left: %v", err)
	}
	if code := c.run(t, "service", "uninstall"); code != 0 || c.stdout.String() != "Nothing to uninstall: smtpwatch is not installed.\n" {
		t.Errorf("uninstall of nothing: %d %q", code, c.stdout.String())
	}
	if code := c.run(t, "service", "start"); code != 3 || !strings.Contains(c.stderr.String(), "not installed") || c.stdout.String() != "" {
		t.Errorf("start of nothing: %d %q %q", code, c.stdout.String(), c.stderr.String())
	}
	if code := c.run(t, "service", "frobnicate"); code != 3 || !strings.Contains(c.stderr.String(), "unknown service action") {
		t.Errorf("bad action: %d %q", code, c.stderr.String())
	}
}

// An existing config is kept; an account whose password comes from an
// environment variable gets a warning (a service started at login or boot
// does not have it) naming password_keyring and password_command.
func TestServiceInstallWarnsOfPasswordEnv(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs here: a user install would make a real unit")
	}
	home := serviceSession(t)
	cfg := filepath.Join(home, "mail.toml")
	body := "[[account]]\nname = \"work\"\nserver = \"127.0.0.1\"\nusername = \"me\"\npassword_env = \"WORK_PASSWORD\"\n\n" +
		"[[account]]\nname = \"home\"\nserver = \"127.0.0.1\"\nusername = \"me\"\npassword_keyring = true\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cli{}
	if code := c.run(t, "service", "install", "--config", cfg); code != 0 {
		t.Fatalf("install: %d %s", code, c.stderr.String())
	}
	t.Cleanup(func() { c.run(t, "service", "uninstall", "--config", cfg) })
	if !strings.Contains(c.stdout.String(), "It watches the accounts in "+cfg) {
		t.Errorf("stdout: %q", c.stdout.String())
	}
	if b, _ := os.ReadFile(cfg); string(b) != body {
		t.Error("the existing config was changed")
	}
	warn := c.stderr.String()
	for _, want := range []string{`account "work" reads its password from $WORK_PASSWORD`, cfg + ":5", "password_keyring", "smtpwatch password set work", "password_command"} {
		if !strings.Contains(warn, want) {
			t.Errorf("warning lacks %q:\n%s", want, warn)
		}
	}
	if strings.Contains(warn, `"home"`) {
		t.Errorf("warned of an account using the keyring:\n%s", warn)
	}
}

// A system install's defaults: on Linux the socket in /run/smtpwatch (the
// unit's RuntimeDirectory=, which the tray is told), the config and state
// in the user's home; on Windows everything under %ProgramData%\smtpwatch,
// the socket in a directory of its own, run as LocalService.
func TestServiceSystemDefaults(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux defaults")
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	a := &app{getenv: func(string) string { return "" }}
	o, _, err := a.serviceOptions(true, u.Username, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if o.Socket != "/run/smtpwatch/smtpwatch.sock" || o.UserName != u.Username ||
		o.ConfigPath != filepath.Join(u.HomeDir, ".config", "smtpwatch", "config.toml") || o.StateDir != filepath.Join(u.HomeDir, ".local", "state", "smtpwatch") {
		t.Errorf("Linux system defaults: %+v", o)
	}

	w, _, err := windowsSystemOptions(service.Options{System: true, Executable: `C:\Program Files\smtpwatch\smtpwatch.exe`}, `C:\ProgramData`)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(`C:\ProgramData`, "smtpwatch")
	if w.ConfigPath != filepath.Join(base, "config.toml") || w.StateDir != filepath.Join(base, "state") || w.Socket != filepath.Join(base, "api", "smtpwatch.sock") ||
		w.UserName != service.LocalServiceAccount {
		t.Errorf("Windows system defaults: %+v", w)
	}
	if _, _, err := windowsSystemOptions(service.Options{System: true}, ""); err == nil {
		t.Error("no %ProgramData%: accepted")
	}
}
