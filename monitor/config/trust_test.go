//go:build !windows

package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestUntrustedConfigOwner: a config file owned by another user (not root,
// not the user smtpwatch runs as) loads, but names no credential smtpwatch
// will read: its password_command does not run, its password_env and
// password_keyring are not looked at, and the error says whose the file is
// and what to do. Needs root, to give the file away.
func TestUntrustedConfigOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown a file to another user")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "command-ran")
	t.Setenv("SMTPWATCH_TEST_PW", testSecret)
	src := `[[account]]
name = "cmd"
server = "mail.example.test"
username = "me"
password_command = "touch ` + marker + `; printf x"

[[account]]
name = "env"
server = "mail.example.test"
username = "me"
password_env = "SMTPWATCH_TEST_PW"

[[account]]
name = "keyring"
server = "mail.example.test"
username = "me"
password_keyring = true

[[account]]
name = "nopassword"
server = "mail.example.test"
`
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// Owned by root: trusted.
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := c.Accounts[1].Password(context.Background()); err != nil || s.Reveal() != testSecret {
		t.Fatalf("root's own file: Password = %v", err)
	}
	trustedKey := c.Accounts[0].Key()

	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	c, err = Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for i, a := range c.Accounts[:3] {
		_, err := a.Password(context.Background())
		if !errors.Is(err, ErrUntrusted) {
			t.Fatalf("%s: Password = %v, want ErrUntrusted", a.Name, err)
		}
		msg := err.Error()
		for _, want := range []string{path + ":", "(uid 65534)", "not to you (root) or root", "chown root " + path, "copy it"} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s: %q lacks %q", a.Name, msg, want)
			}
		}
		if strings.Contains(msg, testSecret) {
			t.Errorf("the error shows the password: %s", msg)
		}
		var ce *Error
		if !errors.As(err, &ce) || ce.Line != []int{5, 11, 17}[i] || ce.Account != a.Name {
			t.Errorf("%s: not located at the credential key: %+v", a.Name, ce)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the untrusted file's password_command ran")
	}
	if c.Accounts[3].Credential.Untrusted != "" {
		t.Error("an account without a password source is marked")
	}
	if c.Accounts[0].Key() == trustedKey {
		t.Error("Key() does not change when the file changes hands")
	}
}
