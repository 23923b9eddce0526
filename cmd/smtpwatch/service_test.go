package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A per-user install where no systemd user manager runs (as here) is an
// XDG autostart entry in the user's config dir that runs this binary with
// the user's config; status tells, uninstall removes it.
func TestServiceUserInstall(t *testing.T) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs here: a user install would make a real unit")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	c := &cli{}
	if code := c.run(t, "service", "install"); code != 0 {
		t.Fatalf("install: %d %s", code, c.stderr.String())
	}
	entry := filepath.Join(home, ".config", "autostart", "smtpwatch.desktop")
	b, err := os.ReadFile(entry)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), " run --config "+filepath.Join(home, ".config", "smtpwatch", "config.toml")) {
		t.Errorf("entry:\n%s", b)
	}
	if code := c.run(t, "service", "status"); code != 0 || !strings.Contains(c.stdout.String(), "autostart entry") {
		t.Errorf("status: %d %q", code, c.stdout.String())
	}
	if code := c.run(t, "service", "install"); code != 3 || !strings.Contains(c.stderr.String(), "already installed") {
		t.Errorf("second install: %d %q", code, c.stderr.String())
	}
	if code := c.run(t, "service", "uninstall"); code != 0 {
		t.Fatalf("uninstall: %d %s", code, c.stderr.String())
	}
	if _, err := os.Stat(entry); !os.IsNotExist(err) {
		t.Errorf("entry left: %v", err)
	}
	if code := c.run(t, "service", "frobnicate"); code != 3 || !strings.Contains(c.stderr.String(), "unknown service action") {
		t.Errorf("bad action: %d %q", code, c.stderr.String())
	}
}
