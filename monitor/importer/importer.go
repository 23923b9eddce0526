// Package importer reads the outgoing-mail settings of other mail
// programs — Thunderbird's prefs.js and msmtp's configuration — into
// accounts for smtpwatch's config file, for `smtpwatch import`.
//
// Passwords are never copied out of those files: an account that signs in
// with a password gets password_keyring (the person stores the password
// once with `smtpwatch password set NAME`) or, for msmtp's passwordeval,
// the same command as password_command. An account that signs in with
// OAuth2 is marked as such (Account.OAuth2) with no password source; the
// caller decides whether it can write it.
//
// The readers do bounded work on their input (files are read up to
// MaxFileSize) and never fail on a line they do not understand: it becomes
// a note. Plan leaves out what the config file already watches, so a
// second import adds nothing twice.
package importer

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/probe"
)

// MaxFileSize bounds a file the readers read.
const MaxFileSize = 32 << 20

// Account is an account found in another program's settings.
type Account struct {
	// Name is the name suggested for it (letters, digits, ".", "_", "-").
	Name string
	// Settings are as smtpwatch's config would say them: server, port,
	// security, username and the password source (none for OAuth2).
	Settings config.Settings
	// OAuth2 is set when the program signs in with OAuth2; TokenCommand is
	// then the command that prints an access token (msmtp's
	// passwordeval), "" when there is none.
	OAuth2       bool
	TokenCommand string
	// Addresses are the sender addresses that use this server.
	Addresses []string
	// Origin says where it was found: "prefs.js (smtp1)", "~/.msmtprc:12".
	Origin string
	// Notes say what was not carried over, and why.
	Notes []string
	// Skip says why the account cannot be imported; "" when it can.
	Skip string
}

// Server is the account's host:port as the config will resolve them.
func (a Account) Server() string {
	acct, _ := config.Resolve(a.Name, a.Settings, config.Schedule{}, config.Origin{})
	return probe.Target{Server: acct.Server, Port: acct.Port}.Addr()
}

// key identifies an account's server and user, for "already there".
func key(server string, port int, user string) string {
	return strings.ToLower(server) + "|" + fmt.Sprint(port) + "|" + strings.ToLower(user)
}

// Planned is what an import does with one account it found.
type Planned struct {
	Account
	// Exists names the account of the config that already watches the
	// same server and user; the found account is then left out.
	Exists string
}

// Plan decides what to add to cfg (nil for no file yet): accounts whose
// server, port and user name an account of cfg (or an earlier found one)
// already has are left out with Exists set; the others get names unique in
// the file, ignoring case ("gmail", then "gmail-2"). Accounts with Skip set
// stay as they are.
func Plan(cfg *config.Config, found []Account) []Planned {
	seen := map[string]string{}
	taken := map[string]bool{}
	if cfg != nil {
		for _, a := range cfg.Accounts {
			seen[key(a.Server, a.Port, a.Username)] = a.Name
			taken[strings.ToLower(a.Name)] = true
		}
	}
	var out []Planned
	for _, f := range found {
		p := Planned{Account: f}
		if f.Skip == "" {
			acct, probs := config.Resolve("x", f.Settings, config.Schedule{}, config.Origin{})
			if len(probs) > 0 {
				p.Skip = "its settings do not fit smtpwatch: " + probs[0].Key + ": " + probs[0].Msg
			} else {
				user := acct.Username
				k := key(acct.Server, acct.Port, user)
				if name, ok := seen[k]; ok {
					p.Exists = name
				} else {
					seen[k] = f.Name
					p.Name = uniqueName(f.Name, taken)
					taken[strings.ToLower(p.Name)] = true
					seen[k] = p.Name
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// uniqueName is name, or name-2, name-3... the first not taken.
func uniqueName(name string, taken map[string]bool) string {
	if !config.ValidName(name) {
		name = "mail"
	}
	if !taken[strings.ToLower(name)] {
		return name
	}
	for i := 2; ; i++ {
		n := fmt.Sprintf("%s-%d", name, i)
		if len(n) > 64 {
			n = fmt.Sprintf("mail-%d", i)
		}
		if !taken[strings.ToLower(n)] {
			return n
		}
	}
}

// Slug makes a name for an account from s ("Work Mail" → "work-mail",
// "smtp.example.com" → "example"): lower case letters, digits and "-",
// at most 32; "" when nothing is left.
func Slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		switch {
		case unicode.Is(unicode.Mn, r): // été → ete
			continue
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= 32 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

// nameFor suggests a name for a server: the preset's key when the server
// is a preset's, else the first label of its domain that is not "smtp",
// "mail"... ("smtp.example.com" → "example").
func nameFor(host string) string {
	for _, p := range config.Presets() {
		if strings.EqualFold(p.Server, host) {
			return p.Key
		}
	}
	labels := strings.Split(strings.ToLower(host), ".")
	for _, l := range labels {
		if !slices.Contains([]string{"smtp", "mail", "smtps", "submission", "mx", "out", "outgoing", "send", "www"}, l) {
			if s := Slug(l); s != "" {
				return s
			}
		}
	}
	return "mail"
}

// presetSettings writes server, port and security as a preset when the
// server is a preset's: preset = "gmail", and port and security only where
// they differ from the preset's.
func presetSettings(s *config.Settings, host string, port int, sec probe.Security) {
	for _, p := range config.Presets() {
		if !strings.EqualFold(p.Server, host) {
			continue
		}
		key := p.Key
		s.Preset = &key
		switch {
		case port == p.Port && sec == p.Security:
		case p.Alternative.Port != 0 && port == p.Alternative.Port && sec == p.Alternative.Security:
			secs := string(sec)
			s.Security = &secs
		default:
			secs := string(sec)
			s.Port, s.Security = &port, &secs
		}
		return
	}
	h, secs := host, string(sec)
	s.Server, s.Security = &h, &secs
	if port != 0 {
		s.Port = &port
	}
}

func ptr[T any](v T) *T { return &v }
