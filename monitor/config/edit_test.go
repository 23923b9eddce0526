package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/probe"
)

func sp(s string) *string { return &s }

func work() NewAccount {
	port := 587
	yes := true
	return NewAccount{
		Name: "work",
		Settings: Settings{
			Server: sp("smtp.example.com"), Port: &port, Security: sp("starttls"),
			Username: sp("me@example.com"), PasswordKeyring: &yes,
		},
		Comment: "Added by smtpwatch add on 2026-12-02: found by the autoconfig of example.com.",
	}
}

const handWritten = `# my accounts, written by hand
state_dir = "/tmp/state"   # keep this comment

[[account]]
# the old one
name = "home"
server = "smtp.home.example"
security = "tls"

# about the defaults below
[defaults]
interval = "2m"
`

// TestAddAccountsCreatesFromTemplate: with no file, the account goes into
// a new file made from the commented template, mode 0600, in a new folder
// of mode 0700; Load reads it back.
func TestAddAccountsCreatesFromTemplate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smtpwatch", "config.toml")
	cfg, err := AddAccounts(path, []NewAccount{work()})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), Template) {
		t.Error("the new file does not start with the template")
	}
	if !strings.HasSuffix(string(data), "\n"+AccountTOML(work())) {
		t.Errorf("the new file does not end with the account:\n%s", data)
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]fs.FileMode{path: 0o600, filepath.Dir(path): 0o700} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s: mode %04o, want %04o", p, fi.Mode().Perm(), want)
			}
		}
	}
	if _, err := os.Stat(BackupPath(path)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a backup of a file that did not exist: %v", err)
	}
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*Config{cfg, again} {
		a, ok := c.Account("work")
		if !ok || a.Server != "smtp.example.com" || a.Port != 587 || a.Security != probe.SecurityStartTLS ||
			a.Username != "me@example.com" || a.Credential.Source != CredentialKeyring {
			t.Errorf("account = %+v (found %v)", a, ok)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp")); len(matches) > 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

// TestAddAccountsKeepsTheFile: an existing file keeps every byte,
// comments included; the account is appended; the old contents are in
// the backup; the mode stays.
func TestAddAccountsKeepsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(handWritten), 0o640); err != nil {
		t.Fatal(err)
	}
	cfg, err := AddAccounts(path, []NewAccount{work()})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if want := handWritten + "\n" + AccountTOML(work()); string(data) != want {
		t.Errorf("file:\n%s\nwant:\n%s", data, want)
	}
	if b, err := os.ReadFile(BackupPath(path)); err != nil || string(b) != handWritten {
		t.Errorf("backup = %q, %v; want the old contents", b, err)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %04o, want 0640 kept", fi.Mode().Perm())
	}
	if len(cfg.Accounts) != 2 || cfg.Accounts[0].Name != "home" || cfg.Accounts[1].Name != "work" {
		t.Errorf("accounts: %+v", cfg.Accounts)
	}
	// The [defaults] table above applies to the new account too.
	if a, _ := cfg.Account("work"); a.Interval != 2*time.Minute {
		t.Errorf("interval %v, want [defaults]' 2m", a.Interval)
	}
}

// TestAddAccountsNoNewline: a file whose last line has no line break
// still gets a well-formed table.
func TestAddAccountsNoNewline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(`state_dir = "/tmp/x"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := AddAccounts(path, []NewAccount{work()}); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Fatal(err)
	}
}

// TestAddAccountsRefuses: nothing is written for a duplicate name, an
// invalid name, settings that do not load, or a broken file.
func TestAddAccountsRefuses(t *testing.T) {
	badServer := work()
	badServer.Settings.Server = sp("smtp.example.com:587")
	noUser := work()
	noUser.Settings.Username = nil
	dup := work()
	dup.Name = "HOME"
	badName := work()
	badName.Name = "me@example.com"
	for _, tt := range []struct {
		name     string
		file     string
		accounts []NewAccount
		want     string
		is       error
	}{
		{"duplicate", handWritten, []NewAccount{dup}, `account "HOME": the file already has an account of that name`, ErrAccountExists},
		{"duplicate in one call", handWritten, []NewAccount{work(), work()}, `account "work": the file already has`, ErrAccountExists},
		{"invalid name", handWritten, []NewAccount{badName}, `name: invalid account name "me@example.com"`, nil},
		{"server with a port", handWritten, []NewAccount{badServer}, `:17: account "work": server: "smtp.example.com:587" includes a port`, nil},
		{"keyring without user", handWritten, []NewAccount{noUser}, `account "work": password_keyring: set username too`, nil},
		{"broken file", handWritten + "[[account]\n", []NewAccount{work()}, "invalid TOML", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.toml")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := AddAccounts(path, tt.accounts)
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), path) {
				t.Errorf("error = %v, want an *Error naming %s with %q", err, path, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error does not wrap %v", tt.is)
			}
			if data, _ := os.ReadFile(path); string(data) != tt.file {
				t.Errorf("the file changed:\n%s", data)
			}
			if _, err := os.Stat(BackupPath(path)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a backup was written for a refused edit")
			}
			if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp")); len(m) > 0 {
				t.Errorf("temporary files left: %v", m)
			}
		})
	}
}

// TestEditChangedMeanwhile: when the file changes on disk while the edit
// is made (an editor saves it), the edit does not replace it.
func TestEditChangedMeanwhile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(handWritten), 0o600); err != nil {
		t.Fatal(err)
	}
	const saved = handWritten + "\n# saved by an editor meanwhile\n"
	_, err := edit(path, true, func(old []byte, _ *Config) ([]byte, error) {
		if err := os.WriteFile(path, []byte(saved), 0o600); err != nil {
			t.Fatal(err)
		}
		return append(old, "\n"+AccountTOML(work())...), nil
	})
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("error = %v, want ErrChanged", err)
	}
	if data, _ := os.ReadFile(path); string(data) != saved {
		t.Errorf("the editor's save was overwritten:\n%s", data)
	}

	// A file created meanwhile where there was none is not replaced either.
	fresh := filepath.Join(t.TempDir(), "config.toml")
	_, err = edit(fresh, true, func(old []byte, _ *Config) ([]byte, error) {
		if err := os.WriteFile(fresh, []byte(saved), 0o600); err != nil {
			t.Fatal(err)
		}
		return append(old, "\n"+AccountTOML(work())...), nil
	})
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("error = %v, want ErrChanged", err)
	}
	if data, _ := os.ReadFile(fresh); string(data) != saved {
		t.Errorf("the file created meanwhile was overwritten:\n%s", data)
	}
}

// TestAddAccountsThroughSymlink: a config that is a symbolic link (a
// dotfiles repository) keeps the link; its target gets the account.
func TestAddAccountsThroughSymlink(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links need privileges on Windows")
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "dotfiles", "smtpwatch.toml")
	os.MkdirAll(filepath.Dir(target), 0o700)
	if err := os.WriteFile(target, []byte(handWritten), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "config.toml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := AddAccounts(link, []NewAccount{work()}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the link was replaced by a file")
	}
	if data, _ := os.ReadFile(target); !strings.Contains(string(data), `name = "work"`) {
		t.Errorf("the target lacks the account:\n%s", data)
	}
}

// TestAccountTOMLRoundTrip: every value, quotes, backslashes and control
// characters included, reads back as written.
func TestAccountTOMLRoundTrip(t *testing.T) {
	port, days, fail := 2525, 30, 0
	yes, no := true, false
	iv, tmo := 90*time.Second, 45*time.Second
	a := NewAccount{
		Name:    "odd.one_2",
		Comment: "line one\nline \"two\" with a tab\t",
		Settings: Settings{
			Server: sp("mäil.example.org"), Port: &port, Security: sp("tls"),
			Username:        sp(`me "quoted" \back\slash é`),
			PasswordCommand: sp("pass show \"mail/work\" | head -n1 # \x01\x7f\t\\"),
			From:            sp("me@example.org"), Rcpt: sp("you@example.org"),
			EHLOName:      sp("laptop"),
			TLSSkipVerify: &no, AllowPlaintextAuth: &no, Enabled: &yes,
			Schedule: Schedule{Interval: &iv, Timeout: &tmo, CertWarnDays: &days, FailureThreshold: &fail},
		},
	}
	c, err := Parse("x.toml", []byte(AccountTOML(a)))
	if err != nil {
		t.Fatalf("%v\n%s", err, AccountTOML(a))
	}
	got := c.Accounts[0]
	if got.Name != a.Name || got.Server != "mäil.example.org" || got.Port != 2525 || got.Security != probe.SecurityTLS ||
		got.Username != *a.Settings.Username || got.Credential.Command != *a.Settings.PasswordCommand ||
		got.From != "me@example.org" || got.Rcpt != "you@example.org" || got.EHLOName != "laptop" ||
		got.Interval != iv || got.Timeout != tmo || got.CertWarnDays != 30 || got.FailureThreshold != 0 || !got.Enabled {
		t.Errorf("read back %+v\nfrom:\n%s", got, AccountTOML(a))
	}
	if !strings.HasPrefix(AccountTOML(a), "# line one\n# line \"two\" with a tab\n[[account]]\n") {
		t.Errorf("comment:\n%s", AccountTOML(a))
	}
}

// TestRemoveAccount: the account's table and the comments right above it
// go; the rest stays byte for byte; an account added and removed leaves
// the file as it was.
func TestRemoveAccount(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(handWritten), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := AddAccounts(path, []NewAccount{work()}); err != nil {
		t.Fatal(err)
	}
	a, cfg, err := RemoveAccount(path, "WORK")
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "work" || len(cfg.Accounts) != 1 {
		t.Errorf("removed %q, left %d accounts", a.Name, len(cfg.Accounts))
	}
	if data, _ := os.ReadFile(path); string(data) != handWritten {
		t.Errorf("add then remove changed the file:\n%s\nwant:\n%s", data, handWritten)
	}

	// A table in the middle: its comment goes, the comment of the next
	// table stays.
	if _, _, err := RemoveAccount(path, "home"); err != nil {
		t.Fatal(err)
	}
	want := "# my accounts, written by hand\nstate_dir = \"/tmp/state\"   # keep this comment\n\n# about the defaults below\n[defaults]\ninterval = \"2m\"\n"
	if data, _ := os.ReadFile(path); string(data) != want {
		t.Errorf("file:\n%s\nwant:\n%s", data, want)
	}
	if b, _ := os.ReadFile(BackupPath(path)); !strings.Contains(string(b), `name = "home"`) {
		t.Errorf("backup lacks the removed account:\n%s", b)
	}

	_, _, err = RemoveAccount(path, "home")
	if !errors.Is(err, ErrNoAccount) || !strings.Contains(err.Error(), `no account named "home" (it has none)`) {
		t.Errorf("removing a missing account: %v", err)
	}
	_, _, err = RemoveAccount(filepath.Join(dir, "missing.toml"), "home")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removing from a missing file: %v", err)
	}
}

// TestRemoveAccountInline: an account written as an inline table is not
// cut out by guesswork.
func TestRemoveAccountInline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	const src = "account = [{name = \"a\", server = \"smtp.a.example\"}]\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := RemoveAccount(path, "a")
	if err == nil || !strings.Contains(err.Error(), "remove it from the file by hand") {
		t.Errorf("error = %v", err)
	}
	if data, _ := os.ReadFile(path); string(data) != src {
		t.Errorf("file changed: %s", data)
	}
}

// TestRemoveAccountKeepsPersonsComment: a comment a person wrote right
// above a table may be about the whole file: it stays; the one smtpwatch
// wrote goes.
func TestRemoveAccountKeepsPersonsComment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.toml")
	const src = "# my mail setup\n[[account]]\nname = \"a\"\nserver = \"smtp.a.example\"\n\n# Imported by smtpwatch on 2026-12-01 from msmtp.\n[[account]]\nname = \"b\"\nserver = \"smtp.b.example\"\n"
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"b", "a"} {
		if _, _, err := RemoveAccount(path, name); err != nil {
			t.Fatal(err)
		}
	}
	if data, _ := os.ReadFile(path); string(data) != "# my mail setup\n" {
		t.Errorf("file %q", data)
	}
}
