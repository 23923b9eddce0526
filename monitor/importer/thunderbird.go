package importer

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"smtpwatch/monitor/probe"
)

// Thunderbird keeps its outgoing servers in the profile's prefs.js:
//
//	user_pref("mail.smtpservers", "smtp1,smtp2");
//	user_pref("mail.smtpserver.smtp1.hostname", "smtp.example.com");
//	user_pref("mail.smtpserver.smtp1.port", 465);
//	user_pref("mail.smtpserver.smtp1.try_ssl", 3);   0 none, 1 and 2 STARTTLS, 3 SSL/TLS
//	user_pref("mail.smtpserver.smtp1.authMethod", 3); 1 none, 3 and 4 password, 10 OAuth2
//	user_pref("mail.smtpserver.smtp1.username", "me@example.com");
//	user_pref("mail.identity.id1.useremail", "me@example.com");
//	user_pref("mail.identity.id1.smtpServer", "smtp1");
//	user_pref("mail.smtp.defaultserver", "smtp1");
//
// Newer versions say mail.outgoingserver(s) for mail.smtpserver(s). The
// passwords are in logins.json, encrypted; they are never read.

// Prefs are the preferences of a prefs.js: string, int64 or bool values.
type Prefs map[string]any

func (p Prefs) str(k string) string {
	s, _ := p[k].(string)
	return s
}

func (p Prefs) num(k string) (int64, bool) {
	n, ok := p[k].(int64)
	return n, ok
}

// maxNotes bounds the notes about lines a reader skipped.
const maxNotes = 10

// ParsePrefs reads a prefs.js: user_pref(NAME, VALUE); lines (pref and
// sticky_pref too), with "//", "/* */" and "#" comments. Strings may use
// double or single quotes and JavaScript escapes. A statement it cannot
// read is skipped and noted with its line; reading stops after
// MaxFileSize bytes.
func ParsePrefs(r io.Reader) (Prefs, []string, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > MaxFileSize {
		return nil, nil, fmt.Errorf("larger than %d bytes; is it a prefs.js?", MaxFileSize)
	}
	p := &prefsLexer{src: string(data), line: 1}
	prefs := Prefs{}
	var notes []string
	skipped := 0
	for {
		p.space()
		if p.eof() {
			break
		}
		line, start := p.line, p.i
		name, value, err := p.statement()
		if err != nil {
			if skipped++; skipped <= maxNotes {
				notes = append(notes, fmt.Sprintf("line %d: %v: skipped", line, err))
			}
			// Skip the rest of the line the statement began on: prefs.js
			// has one statement per line.
			p.i, p.line = start, line
			for !p.eof() && p.next() != '\n' {
			}
			continue
		}
		prefs[name] = value
	}
	if skipped > maxNotes {
		notes = append(notes, fmt.Sprintf("%d more lines skipped", skipped-maxNotes))
	}
	return prefs, notes, nil
}

type prefsLexer struct {
	src  string
	i    int
	line int
}

func (p *prefsLexer) eof() bool { return p.i >= len(p.src) }

func (p *prefsLexer) next() byte {
	c := p.src[p.i]
	p.i++
	if c == '\n' {
		p.line++
	}
	return c
}

// space skips white space and comments.
func (p *prefsLexer) space() {
	for !p.eof() {
		switch {
		case strings.ContainsRune(" \t\r\n\f\v", rune(p.src[p.i])):
			p.next()
		case strings.HasPrefix(p.src[p.i:], "//"), p.src[p.i] == '#':
			for !p.eof() && p.src[p.i] != '\n' {
				p.i++
			}
		case strings.HasPrefix(p.src[p.i:], "/*"):
			p.i += 2
			for !p.eof() && !strings.HasPrefix(p.src[p.i:], "*/") {
				p.next()
			}
			if !p.eof() {
				p.i += 2
			}
		default:
			return
		}
	}
}

func (p *prefsLexer) expect(c byte) error {
	p.space()
	if p.eof() || p.src[p.i] != c {
		got := "the end of the file"
		if !p.eof() {
			r, _ := utf8.DecodeRuneInString(p.src[p.i:])
			got = strconv.QuoteRune(r)
		}
		return fmt.Errorf("want %q, found %s", c, got)
	}
	p.next()
	return nil
}

func (p *prefsLexer) statement() (string, any, error) {
	j := p.i
	for j < len(p.src) && (p.src[j] >= 'a' && p.src[j] <= 'z' || p.src[j] == '_') {
		j++
	}
	fn := p.src[p.i:j]
	if fn != "user_pref" && fn != "pref" && fn != "sticky_pref" && fn != "lockPref" {
		return "", nil, errors.New("not a preference")
	}
	p.i = j
	if err := p.expect('('); err != nil {
		return "", nil, err
	}
	p.space()
	name, err := p.str()
	if err != nil {
		return "", nil, err
	}
	if err := p.expect(','); err != nil {
		return "", nil, err
	}
	p.space()
	var v any
	switch {
	case p.eof():
		return "", nil, errors.New("no value")
	case p.src[p.i] == '"' || p.src[p.i] == '\'':
		v, err = p.str()
	case strings.HasPrefix(p.src[p.i:], "true"):
		p.i += 4
		v = true
	case strings.HasPrefix(p.src[p.i:], "false"):
		p.i += 5
		v = false
	default:
		j := p.i
		if j < len(p.src) && (p.src[j] == '-' || p.src[j] == '+') {
			j++
		}
		for j < len(p.src) && p.src[j] >= '0' && p.src[j] <= '9' {
			j++
		}
		n, perr := strconv.ParseInt(p.src[p.i:j], 10, 64)
		if perr != nil {
			return "", nil, fmt.Errorf("preference %q: a value that is not a string, number or boolean", name)
		}
		p.i = j
		v = n
	}
	if err != nil {
		return "", nil, err
	}
	// A third argument (a locked or sticky flag) is allowed and ignored.
	p.space()
	if !p.eof() && p.src[p.i] == ',' {
		p.next()
		p.space()
		for !p.eof() && p.src[p.i] != ')' && p.src[p.i] != '\n' {
			p.i++
		}
	}
	if err := p.expect(')'); err != nil {
		return "", nil, err
	}
	p.space()
	if !p.eof() && p.src[p.i] == ';' {
		p.i++
	}
	return name, v, nil
}

// str reads a quoted JavaScript string.
func (p *prefsLexer) str() (string, error) {
	if p.eof() || (p.src[p.i] != '"' && p.src[p.i] != '\'') {
		return "", errors.New("want a quoted string")
	}
	q := p.next()
	var b strings.Builder
	for {
		if p.eof() {
			return "", errors.New("a string that does not end")
		}
		c := p.next()
		switch {
		case c == q:
			return b.String(), nil
		case c == '\n':
			return "", errors.New("a line break inside a string")
		case c != '\\':
			b.WriteByte(c)
			continue
		}
		if p.eof() {
			return "", errors.New("a string that does not end")
		}
		e := p.next()
		switch e {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b', 'f', 'v', '0':
			b.WriteByte(map[byte]byte{'b': '\b', 'f': '\f', 'v': '\v', '0': 0}[e])
		case 'u', 'x':
			n := 4
			if e == 'x' {
				n = 2
			}
			if p.i+n > len(p.src) {
				return "", errors.New("a broken \\" + string(e) + " escape")
			}
			v, err := strconv.ParseUint(p.src[p.i:p.i+n], 16, 32)
			if err != nil {
				return "", errors.New("a broken \\" + string(e) + " escape")
			}
			p.i += n
			r := rune(v)
			// A surrogate pair: \uD83D\uDE00.
			if r >= 0xD800 && r < 0xDC00 && strings.HasPrefix(p.src[p.i:], "\\u") && p.i+6 <= len(p.src) {
				if lo, err := strconv.ParseUint(p.src[p.i+2:p.i+6], 16, 32); err == nil && lo >= 0xDC00 && lo < 0xE000 {
					r = (r-0xD800)<<10 + (rune(lo) - 0xDC00) + 0x10000
					p.i += 6
				}
			}
			b.WriteRune(r)
		default:
			b.WriteByte(e) // \" \' \\ and any other character as itself
		}
	}
}

// serverPrefixes are the pref prefixes of outgoing servers, old and new.
var serverPrefixes = []struct{ list, server, def string }{
	{"mail.smtpservers", "mail.smtpserver.", "mail.smtp.defaultserver"},
	{"mail.outgoingservers", "mail.outgoingserver.", "mail.outgoingserver.defaultserver"},
}

// Thunderbird reads the outgoing servers of the profile in dir (its
// prefs.js), one Account per server, with the addresses of the identities
// that send through it. Notes say what was skipped.
func Thunderbird(dir string) ([]Account, []string, error) {
	path := filepath.Join(dir, "prefs.js")
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("thunderbird profile: %w", err)
	}
	defer f.Close()
	prefs, notes, err := ParsePrefs(f)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	for i, n := range notes {
		notes[i] = path + ": " + n
	}
	return ThunderbirdAccounts(prefs), notes, nil
}

// ThunderbirdAccounts turns a profile's preferences into accounts.
func ThunderbirdAccounts(prefs Prefs) []Account {
	type server struct{ prefix, key string }
	var servers []server
	defaults := map[string]bool{}
	for _, sp := range serverPrefixes {
		var keys []string
		for _, k := range strings.Split(prefs.str(sp.list), ",") {
			if k = strings.TrimSpace(k); k != "" && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
		// Servers the list forgot, in a stable order.
		var extra []string
		for name := range prefs {
			if rest, ok := strings.CutPrefix(name, sp.server); ok {
				if k, field, ok := strings.Cut(rest, "."); ok && field == "hostname" && !slices.Contains(keys, k) {
					extra = append(extra, k)
				}
			}
		}
		slices.Sort(extra)
		for _, k := range append(keys, extra...) {
			servers = append(servers, server{sp.server, k})
		}
		if d := prefs.str(sp.def); d != "" {
			defaults[sp.server+d] = true
		}
	}

	// The identities' addresses per server key.
	addrs := map[string][]string{}
	var ids []string
	for name := range prefs {
		if rest, ok := strings.CutPrefix(name, "mail.identity."); ok {
			if id, field, ok := strings.Cut(rest, "."); ok && field == "useremail" {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		email := strings.TrimSpace(prefs.str("mail.identity." + id + ".useremail"))
		if email == "" {
			continue
		}
		key := prefs.str("mail.identity." + id + ".smtpServer")
		for _, sp := range serverPrefixes {
			full := sp.server + key
			if key == "" {
				for d := range defaults {
					if strings.HasPrefix(d, sp.server) {
						full = d
					}
				}
			}
			if !slices.Contains(addrs[full], email) {
				addrs[full] = append(addrs[full], email)
			}
		}
	}

	var out []Account
	for _, s := range servers {
		p := s.prefix + s.key + "."
		a := Account{Origin: "prefs.js (" + strings.TrimSuffix(s.prefix, ".") + "." + s.key + ")", Addresses: addrs[s.prefix+s.key]}
		if t := prefs.str(p + "type"); t != "" && t != "smtp" {
			a.Skip = fmt.Sprintf("a %s server, not SMTP", t)
			a.Name = s.key
			out = append(out, a)
			continue
		}
		host := strings.TrimSpace(prefs.str(p + "hostname"))
		if host == "" {
			a.Skip, a.Name = "no host name", s.key
			out = append(out, a)
			continue
		}
		port := 0
		if n, ok := prefs.num(p + "port"); ok && n > 0 && n < 65536 {
			port = int(n)
		}
		sec := probe.SecurityStartTLS
		ssl, _ := prefs.num(p + "try_ssl")
		switch ssl {
		case 3:
			sec = probe.SecurityTLS
		case 0:
			sec = probe.SecurityNone
			a.Notes = append(a.Notes, "it uses no encryption: smtpwatch will not send the password over it, and its check says what to change")
		}
		presetSettings(&a.Settings, host, port, sec)
		user := strings.TrimSpace(prefs.str(p + "username"))
		auth, hasAuth := prefs.num(p + "authMethod")
		if !hasAuth {
			auth = 3
		}
		switch auth {
		case 1: // no sign-in
		case 10:
			a.OAuth2 = true
			if user != "" {
				a.Settings.Username = &user
			}
		case 3, 4, 0, 2:
			if user == "" {
				break
			}
			a.Settings.Username = &user
			a.Settings.PasswordKeyring = ptr(true)
		default:
			a.Notes = append(a.Notes, fmt.Sprintf("it signs in with %s, which smtpwatch cannot check: only the connection and encryption are watched", authWords(auth)))
		}
		a.Name = nameFor(host)
		if d := Slug(prefs.str(p + "description")); d != "" {
			a.Name = d
		}
		out = append(out, a)
	}
	return out
}

func authWords(m int64) string {
	switch m {
	case 5:
		return "Kerberos (GSSAPI)"
	case 6:
		return "NTLM"
	case 8:
		return "a TLS client certificate"
	}
	return "authentication method " + strconv.FormatInt(m, 10)
}

// ThunderbirdRoots are the folders that hold Thunderbird's profiles.ini
// on goos, for a user whose home is home and whose %APPDATA% is appData
// (Windows): the usual place first, then Flatpak and Snap on Linux.
func ThunderbirdRoots(goos, home, appData string) []string {
	switch goos {
	case "windows":
		if appData == "" {
			return nil
		}
		return []string{filepath.Join(appData, "Thunderbird")}
	case "darwin":
		return []string{filepath.Join(home, "Library", "Thunderbird")}
	}
	return []string{
		filepath.Join(home, ".thunderbird"),
		filepath.Join(home, ".var", "app", "org.mozilla.Thunderbird", ".thunderbird"),
		filepath.Join(home, "snap", "thunderbird", "common", ".thunderbird"),
	}
}

// ErrNoProfile is wrapped by DefaultProfile's error when there is no
// Thunderbird profile to read.
var ErrNoProfile = errors.New("no Thunderbird profile found")

// DefaultProfile finds the default profile's folder under the first root
// that has a profiles.ini: the one an [Install...] section names, else
// the [Profile...] with Default=1, else the only profile.
func DefaultProfile(roots []string) (string, error) {
	for _, root := range roots {
		f, err := os.Open(filepath.Join(root, "profiles.ini"))
		if err != nil {
			continue
		}
		dir, err := defaultProfile(root, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("%s: %w", filepath.Join(root, "profiles.ini"), err)
		}
		return dir, nil
	}
	return "", fmt.Errorf("%w (looked in %s)", ErrNoProfile, strings.Join(roots, ", "))
}

func defaultProfile(root string, r io.Reader) (string, error) {
	type section struct {
		name string
		kv   map[string]string
	}
	var secs []*section
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, ";") || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			secs = append(secs, &section{name: line[1 : len(line)-1], kv: map[string]string{}})
		case len(secs) > 0:
			if k, v, ok := strings.Cut(line, "="); ok {
				secs[len(secs)-1].kv[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	abs := func(p string, relative bool) string {
		p = filepath.FromSlash(p)
		if relative || !filepath.IsAbs(p) {
			return filepath.Join(root, p)
		}
		return p
	}
	for _, s := range secs {
		if strings.HasPrefix(s.name, "Install") && s.kv["Default"] != "" {
			return abs(s.kv["Default"], true), nil
		}
	}
	var profiles []*section
	for _, s := range secs {
		if strings.HasPrefix(s.name, "Profile") && s.kv["Path"] != "" {
			profiles = append(profiles, s)
		}
	}
	for _, s := range profiles {
		if s.kv["Default"] == "1" {
			return abs(s.kv["Path"], s.kv["IsRelative"] != "0"), nil
		}
	}
	if len(profiles) == 1 {
		return abs(profiles[0].kv["Path"], profiles[0].kv["IsRelative"] != "0"), nil
	}
	if len(profiles) == 0 {
		return "", ErrNoProfile
	}
	var names []string
	for _, s := range profiles {
		names = append(names, s.kv["Path"])
	}
	return "", fmt.Errorf("%d profiles and none is the default (%s): name one: smtpwatch import thunderbird PROFILE_DIR", len(profiles), strings.Join(names, ", "))
}
