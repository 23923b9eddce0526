package importer

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/probe"
)

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func byName(t *testing.T, as []Account, name string) Account {
	t.Helper()
	for _, a := range as {
		if a.Name == name {
			return a
		}
	}
	var names []string
	for _, a := range as {
		names = append(names, a.Name)
	}
	t.Fatalf("no account %q among %v", name, names)
	return Account{}
}

// resolved is the account as the config would check it.
func resolved(t *testing.T, a Account) config.Account {
	t.Helper()
	acct, probs := config.Resolve(a.Name, a.Settings, config.Schedule{}, config.Origin{})
	if len(probs) > 0 {
		t.Fatalf("%s: %v", a.Name, probs)
	}
	return acct
}

// TestThunderbirdDefaultProfile: the [Install...] section's profile wins
// over the one marked Default=1; roots are tried in order.
func TestThunderbirdDefaultProfile(t *testing.T) {
	root, _ := filepath.Abs("testdata/thunderbird")
	dir, err := DefaultProfile([]string{filepath.Join(t.TempDir(), "missing"), root})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "Profiles", "x1y2z3.default-release"); dir != want {
		t.Errorf("profile %q, want %q", dir, want)
	}

	for _, tt := range []struct {
		name, ini, want string
	}{
		{"Default=1", "[Profile0]\nName=a\nIsRelative=1\nPath=Profiles/a\n\n[Profile1]\nName=b\nIsRelative=1\nPath=Profiles/b\nDefault=1\n", "Profiles/b"},
		{"only one", "[General]\nVersion=2\n[Profile0]\nName=a\nIsRelative=1\nPath=Profiles/a\n", "Profiles/a"},
		{"absolute", "[Profile0]\nName=a\nIsRelative=0\nPath=/srv/tb/a\nDefault=1\n", "/srv/tb/a"},
		{"windows path", "[Install1]\nDefault=Profiles/w.default-release\n", "Profiles/w.default-release"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			os.WriteFile(filepath.Join(root, "profiles.ini"), []byte(tt.ini), 0o600)
			got, err := DefaultProfile([]string{root})
			want := filepath.FromSlash(tt.want)
			if !filepath.IsAbs(want) {
				want = filepath.Join(root, want)
			}
			if err != nil || got != want {
				t.Errorf("got %q, %v; want %q", got, err, want)
			}
		})
	}
	root = t.TempDir()
	os.WriteFile(filepath.Join(root, "profiles.ini"), []byte("[Profile0]\nPath=a\n[Profile1]\nPath=b\n"), 0o600)
	if _, err := DefaultProfile([]string{root}); err == nil || !strings.Contains(err.Error(), "2 profiles and none is the default") {
		t.Errorf("two profiles: %v", err)
	}
	if _, err := DefaultProfile([]string{t.TempDir()}); !errors.Is(err, ErrNoProfile) {
		t.Errorf("no profiles.ini: %v", err)
	}
}

// TestThunderbirdRoots: where each OS keeps profiles.ini.
func TestThunderbirdRoots(t *testing.T) {
	if got := ThunderbirdRoots("linux", "/home/jo", ""); got[0] != "/home/jo/.thunderbird" || len(got) != 3 {
		t.Errorf("linux: %v", got)
	}
	if got := ThunderbirdRoots("darwin", "/Users/jo", ""); !slices.Equal(got, []string{filepath.Join("/Users/jo", "Library", "Thunderbird")}) {
		t.Errorf("darwin: %v", got)
	}
	if got := ThunderbirdRoots("windows", `C:\Users\jo`, `C:\Users\jo\AppData\Roaming`); len(got) != 1 || !strings.HasSuffix(got[0], "Thunderbird") {
		t.Errorf("windows: %v", got)
	}
	if got := ThunderbirdRoots("windows", `C:\Users\jo`, ""); got != nil {
		t.Errorf("windows without APPDATA: %v", got)
	}
}

// TestThunderbird reads a profile with several identities, odd quoting,
// an OAuth2 server, a server the list forgot and broken lines.
func TestThunderbird(t *testing.T) {
	as, notes, err := Thunderbird("testdata/thunderbird/Profiles/x1y2z3.default-release")
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 5 {
		t.Fatalf("%d accounts: %+v", len(as), as)
	}

	org := byName(t, as, "example-org-ete")
	if r := resolved(t, org); r.Server != "smtp.example.org" || r.Port != 465 || r.Security != probe.SecurityTLS ||
		r.Username != "jo@example.org" || r.Credential.Source != config.CredentialKeyring {
		t.Errorf("example.org: %+v", r)
	}
	// id1 names smtp1; id3 uses the default server, smtp1.
	if !slices.Equal(org.Addresses, []string{"jo@example.org", "jo+lists@example.org"}) {
		t.Errorf("addresses %v", org.Addresses)
	}

	gmail := byName(t, as, "gmail")
	if !gmail.OAuth2 || gmail.Settings.PasswordKeyring != nil || deref(gmail.Settings.Preset) != "gmail" ||
		deref(gmail.Settings.Security) != "tls" || gmail.Settings.Port != nil {
		t.Errorf("gmail: %+v (preset %v, security %v)", gmail, deref(gmail.Settings.Preset), deref(gmail.Settings.Security))
	}
	if r := resolved(t, gmail); r.Port != 465 || r.Username != "jo.example@gmail.com" {
		t.Errorf("gmail resolved: %+v", r)
	}

	isp := byName(t, as, "isp")
	if r := resolved(t, isp); r.Server != "mail.isp.example" || r.Port != 587 || r.Security != probe.SecurityStartTLS || r.Username != `jo\isp` {
		t.Errorf("isp: %+v", r)
	}

	work := byName(t, as, "exchange")
	if work.Settings.Username != nil || len(work.Notes) == 0 || !strings.Contains(work.Notes[0], "NTLM") {
		t.Errorf("NTLM server: %+v", work)
	}
	if r := resolved(t, work); r.Port != 587 {
		t.Errorf("no port given: %d, want 587 for STARTTLS", r.Port)
	}

	forgot := byName(t, as, "forgotten")
	if deref(forgot.Settings.Security) != "none" || len(forgot.Notes) == 0 {
		t.Errorf("a server without encryption: %+v", forgot)
	}

	for _, want := range []string{`line 51: preference "broken.pref": a value that is not a string, number or boolean: skipped`, "line 52: a line break inside a string: skipped"} {
		if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, want) }) {
			t.Errorf("notes lack %q: %v", want, notes)
		}
	}
	for _, a := range as {
		if strings.Contains(config.AccountTOML(config.NewAccount{Name: a.Name, Settings: a.Settings}), "never-read-this") {
			t.Errorf("a password from prefs.js was copied")
		}
	}
}

// TestParsePrefs pins the quoting prefs.js may hold.
func TestParsePrefs(t *testing.T) {
	src := `user_pref("a", "x\"y\\z");
user_pref('b', 'it\'s');
user_pref("c", "caf\u00e9 \ud83d\ude00 \x41");
user_pref("d", -5);
user_pref("e", true)   ;
pref("f", "semi;colon)");
sticky_pref("g", 1, true);
/* user_pref("hidden", 1); */
user_pref("h", "ok"); // trailing comment
# a hash comment
user_pref("i",
   "two lines");
`
	p, notes, err := ParsePrefs(strings.NewReader(src))
	if err != nil || len(notes) > 0 {
		t.Fatalf("%v %v", err, notes)
	}
	want := Prefs{"a": `x"y\z`, "b": "it's", "c": "café 😀 A", "d": int64(-5), "e": true, "f": "semi;colon)", "g": int64(1), "h": "ok", "i": "two lines"}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s = %#v, want %#v", k, p[k], v)
		}
	}
	if _, ok := p["hidden"]; ok {
		t.Error("a commented pref was read")
	}
	if _, _, err := ParsePrefs(strings.NewReader(strings.Repeat("x", MaxFileSize+1))); err == nil {
		t.Error("a file over the bound was read")
	}
}

// TestMsmtp reads a file with defaults, inheritance, comments, a password
// in the file, passwordeval, OAuth2 and "account default :".
func TestMsmtp(t *testing.T) {
	as, notes, err := Msmtp("testdata/msmtprc")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range as {
		names = append(names, a.Name)
	}
	if !slices.Equal(names, []string{"gmail", "work", "o365", "lmtp", "local"}) {
		t.Fatalf("accounts %v", names)
	}
	if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, "account default is gmail") }) {
		t.Errorf("notes %v", notes)
	}

	gmail := byName(t, as, "gmail")
	r := resolved(t, gmail)
	if deref(gmail.Settings.Preset) != "gmail" || r.Port != 587 || r.Security != probe.SecurityStartTLS || r.Username != "jo.example" ||
		r.Credential.Source != config.CredentialCommand || r.Credential.Command != "gpg --quiet --for-your-eyes-only --no-tty --decrypt ~/.msmtp-gmail.gpg" ||
		r.CAFile != "/etc/ssl/certs/ca-certificates.crt" {
		t.Errorf("gmail: %+v", r)
	}
	if !slices.Equal(gmail.Addresses, []string{"jo.example@gmail.com"}) {
		t.Errorf("addresses %v", gmail.Addresses)
	}

	work := byName(t, as, "work")
	r = resolved(t, work)
	if r.Server != "mail.work.example" || r.Port != 465 || r.Security != probe.SecurityTLS || r.Credential.Source != config.CredentialKeyring ||
		r.EHLOName != "laptop.work.example" || r.TLSSkipVerify {
		t.Errorf("work: %+v", r)
	}
	if s := strings.Join(work.Notes, "\n"); !strings.Contains(s, "password is written in the msmtp file: not copied") || !strings.Contains(s, "tls_certcheck off is not carried over") {
		t.Errorf("work notes: %v", work.Notes)
	}
	if strings.Contains(config.AccountTOML(config.NewAccount{Name: "work", Settings: work.Settings}), "hunter2") {
		t.Error("the password was copied")
	}

	o365 := byName(t, as, "o365")
	if !o365.OAuth2 || o365.TokenCommand != "oauth2ms --token" || o365.Settings.PasswordCommand != nil || o365.Settings.PasswordKeyring != nil ||
		deref(o365.Settings.Preset) != "office365" || deref(o365.Settings.Username) != "jo@corp.example" {
		t.Errorf("o365: %+v", o365)
	}
	// Inherited from work, overridden: tls_starttls on, port 587.
	if r := resolved(t, o365); r.Port != 587 || r.Security != probe.SecurityStartTLS || r.EHLOName != "laptop.work.example" {
		t.Errorf("o365 resolved: %+v", r)
	}

	if l := byName(t, as, "lmtp"); !strings.Contains(l.Skip, "lmtp") {
		t.Errorf("lmtp: %+v", l)
	}
	local := byName(t, as, "local")
	if r := resolved(t, local); r.Security != probe.SecurityNone || r.Port != 25 || r.Username != "" || r.Credential.Source != config.CredentialNone {
		t.Errorf("local: %+v", r)
	}
}

// TestMsmtpPaths: ~/.msmtprc first, then the XDG file.
func TestMsmtpPaths(t *testing.T) {
	if got := MsmtpPaths("/home/jo", ""); !slices.Equal(got, []string{"/home/jo/.msmtprc", "/home/jo/.config/msmtp/config"}) {
		t.Errorf("%v", got)
	}
	if got := MsmtpPaths("/home/jo", "/x"); got[1] != "/x/msmtp/config" {
		t.Errorf("%v", got)
	}
}

// TestPlanAddsNothingTwice: what the config already watches (same server,
// port and user) is left out; new names never clash, ignoring case.
func TestPlanAddsNothingTwice(t *testing.T) {
	as, _, err := Msmtp("testdata/msmtprc")
	if err != nil {
		t.Fatal(err)
	}
	const existing = `
[[account]]
name = "Gmail"
server = "smtp.gmail.com"
port = 587
security = "starttls"
username = "someone-else"

[[account]]
name = "mywork"
server = "MAIL.work.example"
port = 465
security = "tls"
username = "jo@work.example"
`
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(existing), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	plan := Plan(cfg, as)
	got := map[string]string{}
	for _, p := range plan {
		switch {
		case p.Skip != "":
			got[p.Origin] = "skip"
		case p.Exists != "":
			got[p.Name] = "exists:" + p.Exists
		default:
			got[p.Name] = "add"
		}
	}
	if got["gmail-2"] != "add" || got["work"] != "exists:mywork" || got["o365"] != "add" || got["local"] != "add" {
		t.Errorf("plan %v", got)
	}

	// Adding the plan's accounts, then planning again: nothing new.
	var add []config.NewAccount
	for _, p := range plan {
		if p.Skip == "" && p.Exists == "" && !p.OAuth2 {
			add = append(add, config.NewAccount{Name: p.Name, Settings: p.Settings})
		}
	}
	cfg2, err := config.AddAccounts(path, add)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Plan(cfg2, as) {
		if p.Skip == "" && p.Exists == "" && !p.OAuth2 {
			t.Errorf("second import would add %q again", p.Name)
		}
	}
}

// TestParsePrefsNotesBounded: a file of broken lines gives a few notes,
// not one per line.
func TestParsePrefsNotesBounded(t *testing.T) {
	_, notes, err := ParsePrefs(strings.NewReader(strings.Repeat("user_pref(oops);\n", 5000)))
	if err != nil || len(notes) != maxNotes+1 || notes[maxNotes] != "4990 more lines skipped" {
		t.Errorf("%d notes, last %q, %v", len(notes), notes[len(notes)-1], err)
	}
}
