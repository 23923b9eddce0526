package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPasswordHelp: every password subcommand takes -h/--help and prints
// help; none of them takes "--help" for an account name (before, password
// set --help stored the next line as the password of "--help").
func TestPasswordHelp(t *testing.T) {
	// No keyring here: any attempt to use it would say so.
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	for _, args := range [][]string{
		{"password", "--help"}, {"password", "-h"}, {"password", "help"},
		{"password", "set", "--help"}, {"password", "set", "-h"},
		{"password", "delete", "--help"}, {"password", "delete", "-h"},
	} {
		c := &cli{}
		c.stdinText = "hunter2\n"
		code := c.run(t, args...)
		all := c.stdout.String() + c.stderr.String()
		if code != 0 || !strings.Contains(all, "smtpwatch password") || strings.Contains(all, "keyring is not available") || strings.Contains(all, "Stored") || strings.Contains(all, "Removed") {
			t.Errorf("%q: exit %d\n%s", args, code, all)
		}
	}
}

// TestPasswordSetChecksTheName: password set NAME stores only for an
// account of the config, lists the known ones otherwise, and warns when the
// account does not read its password from the keyring.
func TestPasswordSetChecksTheName(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	body := "[[account]]\nname = \"charter\"\npreset = \"charter\"\nusername = \"me\"\npassword_keyring = true\n\n" +
		"[[account]]\nname = \"work\"\nserver = \"mail.example.test\"\nusername = \"me\"\npassword_env = \"WORK_PW\"\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
		not  []string
	}{
		{"unknown name", []string{"password", "set", "--config", cfg, "chartr"},
			[]string{cfg + ` has no account named "chartr" (its accounts: charter, work); nothing stored`}, []string{"Password for"}},
		{"flag after the name", []string{"password", "set", "nosuch", "--config", cfg},
			[]string{`no account named "nosuch"`}, nil},
		{"keyring account, no keyring here", []string{"password", "set", "--config", cfg, "CHARTER"},
			[]string{`the OS keyring is not available here`, `password_command or password_env for "charter"`}, []string{"warning"}},
		{"account without password_keyring", []string{"password", "set", "--config", cfg, "work"},
			[]string{`warning: account "work" does not read its password from the keyring (it uses password_env = "WORK_PW"); set password_keyring = true in ` + cfg}, nil},
		{"no config", []string{"password", "set", "--config", filepath.Join(dir, "none.toml"), "charter"},
			[]string{"no config file at " + filepath.Join(dir, "none.toml"), "smtpwatch init"}, nil},
		{"no name", []string{"password", "set", "--config", cfg}, []string{"the account NAME is missing"}, nil},
		{"two names", []string{"password", "set", "--config", cfg, "charter", "work"}, []string{`unexpected argument "work"`}, nil},
		{"unknown subcommand", []string{"password", "show", "charter"}, []string{`unknown subcommand "show"`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &cli{}
			c.stdinText = "hunter2\n"
			if code := c.run(t, tc.args...); code != 3 {
				t.Errorf("exit %d, want 3", code)
			}
			all := c.stdout.String() + c.stderr.String()
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
			for _, w := range append(tc.not, "hunter2", "Stored") {
				if strings.Contains(all, w) {
					t.Errorf("output has %q:\n%s", w, all)
				}
			}
		})
	}
}
