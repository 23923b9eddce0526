package importer

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"smtpwatch/monitor/probe"
)

// msmtp's configuration (~/.msmtprc or $XDG_CONFIG_HOME/msmtp/config):
//
//	defaults
//	tls on
//	tls_trust_file /etc/ssl/certs/ca-certificates.crt
//
//	account work
//	host smtp.example.com
//	port 587
//	auth on
//	user me@example.com
//	passwordeval "pass show mail/work"
//	from me@example.com
//
//	account default : work
//
// "defaults" sets values for the accounts that follow it; "account NAME :
// A, B" starts from the defaults, then A's and B's settings. Comment lines
// start with "#". Arguments may be in double quotes, with backslash
// escapes.

// MsmtpPaths are the files msmtp reads, first found first: ~/.msmtprc,
// then $XDG_CONFIG_HOME/msmtp/config (~/.config/msmtp/config when unset).
func MsmtpPaths(home, xdgConfigHome string) []string {
	if xdgConfigHome == "" {
		xdgConfigHome = filepath.Join(home, ".config")
	}
	return []string{filepath.Join(home, ".msmtprc"), filepath.Join(xdgConfigHome, "msmtp", "config")}
}

// Msmtp reads the msmtp configuration file at path.
func Msmtp(path string) ([]Account, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("msmtp: %w", err)
	}
	defer f.Close()
	return ParseMsmtp(path, f)
}

// msmtpAccount is one account's commands as msmtp would apply them, in
// order, the later winning.
type msmtpAccount struct {
	name string
	line int
	cmds map[string]string
	set  []string // commands in the order first given, for notes
}

func (m *msmtpAccount) apply(cmd, arg string) {
	if _, ok := m.cmds[cmd]; !ok {
		m.set = append(m.set, cmd)
	}
	m.cmds[cmd] = arg
}

func (m *msmtpAccount) copyFrom(o *msmtpAccount) {
	for _, c := range o.set {
		m.apply(c, o.cmds[c])
	}
}

// ParseMsmtp reads msmtp's configuration from r; name is the file's name
// for origins and notes. Lines it does not understand are noted and
// skipped.
func ParseMsmtp(name string, r io.Reader) ([]Account, []string, error) {
	var (
		notes    []string
		defaults = &msmtpAccount{cmds: map[string]string{}}
		cur      *msmtpAccount
		accounts []*msmtpAccount
		byName   = map[string]*msmtpAccount{}
		aliases  = map[string]string{}
	)
	sc := bufio.NewScanner(io.LimitReader(r, MaxFileSize))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	ln := 0
	for sc.Scan() {
		ln++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var cmd, rest string
		if i := strings.IndexAny(line, " \t"); i >= 0 {
			cmd, rest = line[:i], strings.TrimSpace(line[i:])
		} else {
			cmd, rest = line, ""
		}
		switch cmd {
		case "defaults":
			cur = nil
			continue
		case "account":
			nm, inherit, hasInherit := strings.Cut(rest, ":")
			nm = strings.TrimSpace(nm)
			if nm == "" {
				notes = append(notes, fmt.Sprintf("%s:%d: an account without a name: skipped", name, ln))
				cur = &msmtpAccount{cmds: map[string]string{}} // swallow its lines
				continue
			}
			a := &msmtpAccount{name: nm, line: ln, cmds: map[string]string{}}
			a.copyFrom(defaults)
			if hasInherit {
				var parents []string
				for _, p := range strings.Split(inherit, ",") {
					if p = strings.TrimSpace(p); p != "" {
						parents = append(parents, p)
					}
				}
				if nm == "default" && len(parents) == 1 && len(a.set) == len(defaults.set) {
					aliases[nm] = parents[0]
				}
				for _, p := range parents {
					if pa, ok := byName[p]; ok {
						a.copyFrom(pa)
					} else {
						notes = append(notes, fmt.Sprintf("%s:%d: account %q inherits from %q, which is not defined above it", name, ln, nm, p))
					}
				}
			}
			cur = a
			if _, dup := byName[nm]; !dup {
				accounts = append(accounts, a)
			}
			byName[nm] = a
			continue
		}
		arg := unquote(rest)
		if cur == nil {
			defaults.apply(cmd, arg)
		} else {
			cur.apply(cmd, arg)
			if cur.name == "default" {
				delete(aliases, "default") // it has settings of its own
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, notes, fmt.Errorf("%s: %w", name, err)
	}
	var out []Account
	for _, a := range accounts {
		if target, ok := aliases[a.name]; ok {
			notes = append(notes, fmt.Sprintf("%s:%d: account default is %s", name, a.line, target))
			continue
		}
		out = append(out, msmtpToAccount(name, a))
	}
	return out, notes, nil
}

// unquote reads an argument: as written, or inside double quotes with
// backslash escapes.
func unquote(s string) string {
	if len(s) < 2 || s[0] != '"' {
		return s
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '"':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func onOff(v string) bool {
	switch strings.ToLower(v) {
	case "", "on", "yes", "true", "1":
		return true
	}
	return false
}

func msmtpToAccount(file string, m *msmtpAccount) Account {
	a := Account{Name: Slug(m.name), Origin: fmt.Sprintf("%s:%d (account %s)", file, m.line, m.name)}
	if a.Name == "" {
		a.Name = "msmtp"
	}
	c := m.cmds
	if p, ok := c["protocol"]; ok && !strings.EqualFold(p, "smtp") {
		a.Skip = "protocol " + p + ", not SMTP"
		return a
	}
	host := c["host"]
	if host == "" {
		a.Skip = "no host"
		return a
	}
	tls := false
	if v, ok := c["tls"]; ok {
		tls = onOff(v)
	}
	starttls := true
	if v, ok := c["tls_starttls"]; ok {
		starttls = onOff(v)
	}
	sec := probe.SecurityNone
	switch {
	case tls && starttls:
		sec = probe.SecurityStartTLS
	case tls:
		sec = probe.SecurityTLS
	default:
		a.Notes = append(a.Notes, "it uses no encryption (tls off): smtpwatch will not send the password over it, and its check says what to change")
	}
	port := 25 // msmtp's default, and 465 for TLS without STARTTLS
	if sec == probe.SecurityTLS {
		port = 465
	}
	if v, ok := c["port"]; ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 && n < 65536 {
			port = n
		} else {
			a.Notes = append(a.Notes, fmt.Sprintf("port %q is not a port: used %d", v, port))
		}
	}
	presetSettings(&a.Settings, host, port, sec)
	if a.Settings.Preset != nil && slices.Contains([]string{"default", "msmtp"}, a.Name) {
		a.Name = *a.Settings.Preset
	}
	if v := c["tls_trust_file"]; v != "" && v != "system" && sec != probe.SecurityNone {
		a.Settings.CAFile = &v
	}
	if v, ok := c["tls_certcheck"]; ok && !onOff(v) {
		a.Notes = append(a.Notes, "tls_certcheck off is not carried over: smtpwatch always verifies the certificate, and its check says if this one does not verify")
	}
	if v := c["domain"]; v != "" {
		a.Settings.EHLOName = &v
	}
	if v := c["from"]; v != "" {
		a.Addresses = []string{v}
	}
	user := c["user"]
	method := "off" // msmtp's default without a user
	if v, ok := c["auth"]; ok {
		method = strings.ToLower(v)
		if onOff(method) {
			method = "on"
		}
	} else if user != "" {
		method = "on"
	}
	switch {
	case method == "off" || method == "no" || method == "false" || method == "0":
		// no sign-in
	case method == "oauthbearer" || method == "xoauth2":
		a.OAuth2 = true
		a.TokenCommand = c["passwordeval"]
		if user != "" {
			a.Settings.Username = &user
		}
		if _, ok := c["password"]; ok {
			a.Notes = append(a.Notes, "its token is written in the file: not copied")
		}
	case method == "gssapi" || method == "ntlm" || method == "external":
		a.Notes = append(a.Notes, "it signs in with "+strings.ToUpper(method)+", which smtpwatch cannot check: only the connection and encryption are watched")
	default: // on, plain, login, cram-md5, scram-*...
		if user == "" {
			a.Notes = append(a.Notes, "auth is on but no user is set: sign-in is not checked")
			break
		}
		a.Settings.Username = &user
		if cmd := c["passwordeval"]; cmd != "" {
			a.Settings.PasswordCommand = &cmd
		} else {
			a.Settings.PasswordKeyring = ptr(true)
			if _, ok := c["password"]; ok {
				a.Notes = append(a.Notes, "its password is written in the msmtp file: not copied")
			}
		}
	}
	return a
}
