package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const twoAccounts = `# written by hand
[[account]]
name = "home"   # the family's
server = "smtp.home.example"
security = "tls"
# a note about work
[[account]]
name = "Work"
server = 'smtp.work.example'   # from IT
port = 587 # submission
username = "me@work.example"
password_env = "WORK_PW"

# about the defaults
[defaults]
interval = "2m"
`

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// An edit changes the lines of the keys it sets or removes and nothing
// else: comments (at the end of a changed line too), spacing, quoting of
// other keys and the other tables stay byte for byte; a new key goes
// after the table's last key, before the comment that belongs to the
// next table.
func TestEditAccountKeepsTheFile(t *testing.T) {
	path := writeConfig(t, twoAccounts)
	_, _, version, err := ReadForEdit(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := EditAccount(path, "work", version, []KeyEdit{
		{Key: "server", Value: sp("smtp2.work.example")},
		{Key: "port", Value: sp("465")},
		{Key: "security", Value: sp("tls")},
		{Key: "password_env", Value: nil},
		{Key: "password_command", Value: sp(`pass show "work"`)},
		{Key: "enabled", Value: sp("false")},
		{Key: "interval", Value: sp("5m")},
		{Key: "from", Value: nil}, // not written: nothing to remove
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `# written by hand
[[account]]
name = "home"   # the family's
server = "smtp.home.example"
security = "tls"
# a note about work
[[account]]
name = "Work"
server = "smtp2.work.example"   # from IT
port = 465 # submission
username = "me@work.example"
security = "tls"
password_command = "pass show \"work\""
enabled = false
interval = "5m"

# about the defaults
[defaults]
interval = "2m"
`
	if got := readString(t, path); got != want {
		t.Errorf("the file after the edit:\n%s\nwant:\n%s", got, want)
	}
	if readString(t, BackupPath(path)) != twoAccounts {
		t.Error("the backup does not hold the old contents")
	}
	a, ok := cfg.Account("work")
	if !ok || a.Server != "smtp2.work.example" || a.Port != 465 || a.Enabled || a.Credential.Source != CredentialCommand {
		t.Errorf("the config returned: %+v", a)
	}
	values, err := AccountValues(path, cfg, []byte(want))
	if err != nil {
		t.Fatal(err)
	}
	if w := values["work"]; w["port"] != "465" || w["enabled"] != "false" || w["interval"] != "5m" || w["password_command"] != `pass show "work"` ||
		len(values["home"]) != 3 {
		t.Errorf("values as written: %v", values)
	}
}

// A file saved by someone else since the form was opened is never
// overwritten: the edit (and a removal) against the old version is
// refused with ErrChanged and writes nothing.
func TestEditAccountStaleVersion(t *testing.T) {
	path := writeConfig(t, twoAccounts)
	_, _, version, err := ReadForEdit(path)
	if err != nil {
		t.Fatal(err)
	}
	byHand := strings.Replace(twoAccounts, `interval = "2m"`, `interval = "3m"`, 1)
	if err := os.WriteFile(path, []byte(byHand), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = EditAccount(path, "work", version, []KeyEdit{{Key: "port", Value: sp("465")}})
	var ce *Error
	if !errors.Is(err, ErrChanged) || !errors.As(err, &ce) || ce.File != path {
		t.Fatalf("edit of a stale version: %v, want ErrChanged naming the file", err)
	}
	if _, _, err := RemoveAccountAt(path, "work", version); !errors.Is(err, ErrChanged) {
		t.Fatalf("removal with a stale version: %v", err)
	}
	if readString(t, path) != byHand {
		t.Error("the file was written")
	}
	// With the new version, both go through.
	_, _, version, _ = ReadForEdit(path)
	if _, err := EditAccount(path, "WORK", version, []KeyEdit{{Key: "port", Value: sp("465")}}); err != nil {
		t.Fatal(err)
	}
	_, _, version, _ = ReadForEdit(path)
	removed, cfg, err := RemoveAccountAt(path, "work", version)
	if err != nil || removed.Name != "Work" || len(cfg.Accounts) != 1 {
		t.Fatalf("%+v, %+v, %v", removed, cfg, err)
	}
}

// An invalid value is refused with Load's own message — the file, the
// line in the new contents, the account and the key — and nothing is
// written.
func TestEditAccountInvalid(t *testing.T) {
	for _, c := range []struct {
		name string
		edit []KeyEdit
		want string
	}{
		{"port text", []KeyEdit{{Key: "port", Value: sp("abc")}}, `:10: account "Work": port: want a whole number, got string "abc"`},
		{"port range", []KeyEdit{{Key: "port", Value: sp("70000")}}, `:10: account "Work": port: 70000 is out of range: want 1 to 65535`},
		{"security", []KeyEdit{{Key: "security", Value: sp("ssl3")}}, `:13: account "Work": security: unknown security "ssl3": want starttls, tls, none or auto`},
		{"interval", []KeyEdit{{Key: "interval", Value: sp("1s")}}, `:13: account "Work": interval: 1s is too short: want at least 2s`},
		{"two sources", []KeyEdit{{Key: "password_keyring", Value: sp("true")}}, `account "Work": password_keyring: only one password source may be set, but password_env is also set (line 12)`},
		{"enabled text", []KeyEdit{{Key: "enabled", Value: sp("yes")}}, `:13: account "Work": enabled: want true or false, got string "yes"`},
		{"server with port", []KeyEdit{{Key: "server", Value: sp("smtp.work.example:587")}}, `:9: account "Work": server: "smtp.work.example:587" includes a port`},
		{"no server", []KeyEdit{{Key: "server", Value: nil}}, `account "Work": server: missing`},
		{"name", []KeyEdit{{Key: "name", Value: sp("other")}}, `account "Work": name: not a key this editor changes`},
		{"unknown key", []KeyEdit{{Key: "sever", Value: sp("x")}}, `account "Work": sever: not a key this editor changes`},
		{"twice", []KeyEdit{{Key: "port", Value: sp("1")}, {Key: "port", Value: sp("2")}}, `port: given twice`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeConfig(t, twoAccounts)
			_, err := EditAccount(path, "work", "", c.edit)
			var ce *Error
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), path) {
				t.Errorf("%v\nwant an *Error naming %s and saying %q", err, path, c.want)
			}
			if readString(t, path) != twoAccounts {
				t.Error("the file was written")
			}
			if _, err := os.Stat(BackupPath(path)); err == nil {
				t.Error("a backup was written for an edit that was refused")
			}
		})
	}
	path := writeConfig(t, twoAccounts)
	if _, err := EditAccount(path, "nobody", "", nil); !errors.Is(err, ErrNoAccount) || !strings.Contains(err.Error(), "its accounts: home, Work") {
		t.Errorf("missing account: %v", err)
	}
}

// A value written over several lines, or an account written inline, is
// left for a person to change in the file.
func TestEditAccountRefusesWhatItCannotEditInPlace(t *testing.T) {
	multi := "[[account]]\nname = \"a\"\nserver = \"\"\"\nsmtp.example.com\"\"\"\n"
	path := writeConfig(t, multi)
	if _, err := EditAccount(path, "a", "", []KeyEdit{{Key: "server", Value: sp("x.example")}}); err == nil ||
		!strings.Contains(err.Error(), ":3: account \"a\": server: written over several lines") {
		t.Errorf("multi-line value: %v", err)
	}
	inline := "account = [{name = \"a\", server = \"smtp.example.com\"}]\n"
	path = writeConfig(t, inline)
	if _, err := EditAccount(path, "a", "", []KeyEdit{{Key: "port", Value: sp("465")}}); err == nil ||
		!strings.Contains(err.Error(), "not written as an [[account]] table") {
		t.Errorf("inline account: %v", err)
	}
	if readString(t, path) != inline {
		t.Error("the file was written")
	}
}

// The last table of a file without a final line break gets its new key on
// a line of its own.
func TestEditAccountNoFinalNewline(t *testing.T) {
	path := writeConfig(t, "[[account]]\nname = \"a\"\nserver = \"smtp.example.com\"")
	if _, err := EditAccount(path, "a", "", []KeyEdit{{Key: "port", Value: sp("2525")}}); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, path); got != "[[account]]\nname = \"a\"\nserver = \"smtp.example.com\"\nport = 2525\n" {
		t.Errorf("%q", got)
	}
}

func TestReplaceValue(t *testing.T) {
	for line, want := range map[string]string{
		"port = 587\n":                "port = V\n",
		"port=587 # c\n":              "port=V # c\n",
		"server = \"a # b\"  # c\n":   "server = V  # c\n",
		"server = \"a\\\"b\" # c\n":   "server = V # c\n",
		"server = 'a#b'\n":            "server = V\n",
		"\"server\" = \"x=y\"\n":      "\"server\" = V\n",
		"  enabled   =   true   \r\n": "  enabled   =   V   \r\n",
		"server = \"\"\"\n":           "",
		"server = \"unterminated\n":   "",
		"targets = [\"a\",\n":         "",
	} {
		got, ok := replaceValue(line, "V")
		if want == "" {
			if ok {
				t.Errorf("%q: replaced as %q, want refused", line, got)
			}
			continue
		}
		if !ok || got != want {
			t.Errorf("%q: %q, %v; want %q", line, got, ok, want)
		}
	}
}
