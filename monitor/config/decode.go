package config

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

const passwordMsg = "passwords are not stored in the config; use password_env, password_command or password_keyring"

// decoder checks one config file. The TOML decoder fills the tables'
// structs (fields.go); the locator gives every key its line; Resolve turns
// each account's settings into an Account.
type decoder struct {
	file  string
	dir   string      // base of relative paths
	info  fs.FileInfo // the file as Load found it; nil for Parse
	md    toml.MetaData
	lines lines
	errs  []*Error
	// late are errors about what is missing or does not fit together; they
	// are reported only when no key has a bad value, because a misspelt or
	// invalid key often causes them ("sever" makes server missing).
	late []*Error
	// untrusted says why the file may not name credential sources, "" when
	// it may (see trust).
	untrusted string
}

func parse(file string, data []byte, info fs.FileInfo) (*Config, error) {
	dir := ""
	if file == "" {
		file = "config"
	} else {
		dir = filepath.Dir(file)
	}
	// The line scan first: it is linear and bounded, while the TOML
	// decoder's work grows with the square of the nesting depth (32 KB of
	// dotted keys or nested inline tables take it seconds).
	ln, _, deep := locate(string(data))
	if deep > 0 {
		return nil, &Error{File: file, Line: deep, Msg: fmt.Sprintf("nested more than %d levels deep (tables, keys and arrays together); is it the right file?", maxDepth)}
	}
	var top fileTable
	md, err := toml.Decode(string(data), &top)
	if err != nil {
		return nil, syntaxError(file, data, err)
	}
	d := &decoder{file: file, dir: dir, info: info, md: md, lines: ln, untrusted: untrusted(file, info)}
	cfg := d.config(&top)
	for _, errs := range [][]*Error{d.errs, d.late} {
		if len(errs) == 0 {
			continue
		}
		// The first problem in the file; on one line, the first found.
		first := errs[0]
		for _, e := range errs[1:] {
			if e.Line < first.Line {
				first = e
			}
		}
		return nil, first
	}
	cfg.File = file
	return cfg, nil
}

func syntaxError(file string, data []byte, err error) *Error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		// Not a syntax error: the decoder could not fill a struct. The
		// table types take any value, so this is a bug; say it plainly.
		return &Error{File: file, Line: 1, Msg: "cannot decode the file: " + err.Error()}
	}
	// Position.Line, not the deprecated ParseError.Line: for a number out
	// of range the decoder puts the number's length there.
	line := max(pe.Position.Line, 1)
	// The lexer counts a line break before it reports an error about it
	// ("[defaults" followed by a newline); report the line the break ends.
	src := string(data)
	for _, bom := range []string{"\xef\xbb\xbf", "\xff\xfe", "\xfe\xff"} {
		if strings.HasPrefix(src, bom) {
			src = src[len(bom):]
			break
		}
	}
	if st := pe.Position.Start; st >= 0 && st < len(src) && src[st] == '\n' {
		line = 1 + strings.Count(src[:st], "\n")
	}
	// Never a line past the end of the file.
	line = min(line, 1+strings.Count(strings.TrimSuffix(src, "\n"), "\n"))
	msg := "invalid TOML: " + strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(pe.Message)
	if strings.Contains(msg, "expected value but found") {
		msg += ` (text values need quotes: name = "charter")`
	}
	if n, ok := strings.CutSuffix(pe.Message, " is out of range for int64"); ok {
		msg = "the number " + n + " is far too large"
	}
	// Err stays nil: a toml.ParseError holds the whole input, which may
	// hold a password the file should not have.
	return &Error{File: file, Line: line, Key: pe.LastKey, Msg: msg}
}

// scope is a table being checked: where it is and how errors name it.
type scope struct {
	d       *decoder
	base    path
	prefix  string // prepended to keys in errors: "defaults."
	account string
	index   int
	kind    string // Error.Table
}

func (s scope) line(key string) int { return s.d.lines.line(s.base.with(key)) }

func (s scope) errAt(line int, key, format string, args ...any) {
	s.d.errs = append(s.d.errs, s.newError(line, key, format, args...))
}

// lateAt records a missing key or a conflict between keys.
func (s scope) lateAt(line int, key, format string, args ...any) {
	s.d.late = append(s.d.late, s.newError(line, key, format, args...))
}

func (s scope) newError(line int, key, format string, args ...any) *Error {
	return &Error{
		File: s.d.file, Line: line, Account: s.account, Index: s.index, Table: s.kind,
		Key: displayKey(s.prefix + key), Msg: fmt.Sprintf(format, args...),
	}
}

func (s scope) errf(key, format string, args ...any) {
	s.errAt(s.line(key), key, format, args...)
}

// problems records Resolve's problems at their keys' lines.
func (s scope) problems(ps []Problem) {
	for _, p := range ps {
		if p.Late {
			s.lateAt(s.line(p.Key), p.Key, "%s", p.Msg)
		} else {
			s.errf(p.Key, "%s", p.Msg)
		}
	}
}

func (s scope) unknown(key string, candidates []string) {
	if strings.EqualFold(key, "password") || strings.EqualFold(key, "pass") || strings.EqualFold(key, "passwd") {
		s.errf(key, passwordMsg)
		return
	}
	if c := suggest(key, candidates); c != "" {
		s.errf(key, "unknown key; did you mean %q?", c)
		return
	}
	s.errf(key, "unknown key")
}

// keys checks a table's keys as written against the fields of the struct
// t points to: an unknown key is an error (and a key that the TOML decoder
// matched to a field only by ignoring case is unknown too, and its field
// cleared); a field with a value of the wrong type is an error.
func (s scope) keys(written []string, t any) {
	known := keysOf(t)
	for _, k := range written {
		if !slices.Contains(known, k) {
			s.unknown(k, known)
			if !slices.Contains(written, strings.ToLower(k)) {
				for _, kk := range known {
					if strings.EqualFold(kk, k) {
						forget(t, kk)
					}
				}
			}
		}
	}
	for _, kf := range fieldsOf(t) {
		if kf.f == nil {
			continue
		}
		if msg := kf.f.problem(kf.key); msg != "" {
			s.errf(kf.key, "%s", msg)
		}
	}
}

// tableKeys lists the keys written directly in the table at prefix (nil
// for the top level), from the TOML decoder's key list.
func (d *decoder) tableKeys(prefix ...string) []string {
	var out []string
	for _, k := range d.md.Keys() {
		if len(k) == len(prefix)+1 && slices.Equal(k[:len(prefix)], prefix) {
			out = append(out, k[len(prefix)])
		}
	}
	return out
}

// raw is the value of a top-level key as the TOML decoder parsed it.
func (d *decoder) raw(p toml.Primitive) any {
	var v any
	if err := d.md.PrimitiveDecode(p, &v); err != nil {
		return nil
	}
	return v
}

func (d *decoder) config(t *fileTable) *Config {
	cfg := &Config{
		Retention:      DefaultRetention,
		Reminder:       DefaultReminder,
		MaxConcurrency: DefaultMaxConcurrency,
		UI:             true,
		UIListen:       DefaultUIListen,
	}
	top := scope{d: d}
	top.keys(d.tableKeys(), t)
	if v := t.StateDir.v; v != nil {
		if *v == "" {
			top.errf("state_dir", "empty; leave the key out for the default")
		} else {
			cfg.StateDir = d.resolve(*v)
		}
	}
	if x, ok := top.duration("retention", t.Retention, time.Hour, false); ok {
		cfg.Retention = x
	}
	if v := t.MetricsListen.v; v != nil {
		if err := hostPort(*v, true); err != nil {
			top.errf("metrics_listen", "%v", err)
		} else {
			cfg.MetricsListen = *v
		}
	}
	if v := t.UI.v; v != nil {
		cfg.UI = *v
	}
	if v := t.UIListen.v; v != nil {
		if err := checkUIListen(*v); err != nil {
			top.errf("ui_listen", "%v", err)
		} else {
			cfg.UIListen = *v
		}
	}
	if x, ok := top.duration("reminder", t.Reminder, time.Minute, true); ok {
		cfg.Reminder = x
	}
	if v := t.MaxConcurrency.v; v != nil {
		if msg := intRange(*v, 1, 1000); msg != "" {
			top.errf("max_concurrency", "%s", msg)
		} else {
			cfg.MaxConcurrency = *v
		}
	}
	if d.md.IsDefined("online") {
		if m, ok := top.table("online", d.raw(t.Online)); ok {
			cfg.OnlineTargets = d.online(t.Online, m)
		}
	}
	var defaults Schedule
	if d.md.IsDefined("defaults") {
		if _, ok := top.table("defaults", d.raw(t.Defaults)); ok {
			defaults = d.defaults(t.Defaults)
		}
	}
	if d.md.IsDefined("account") {
		cfg.Accounts = d.accounts(t.Account, defaults)
	}
	d.alerts(t, cfg)
	return cfg
}

// duration checks a global duration of at least lo; zero is also allowed
// when zeroOK. false when the key is absent or wrong.
func (s scope) duration(key string, f tomlDuration, lo time.Duration, zeroOK bool) (time.Duration, bool) {
	if f.v == nil {
		return 0, false // absent, or a problem keys reported
	}
	d := *f.v
	if d == 0 && zeroOK {
		return 0, true
	}
	if d < lo || d <= 0 {
		if zeroOK {
			s.errf(key, "%s is too short: want at least %s, or \"0\" for never", f.text, shortDuration(lo))
		} else {
			s.errf(key, "%s is too short: want at least %s", f.text, shortDuration(lo))
		}
		return 0, false
	}
	return d, true
}

// table asserts that v is a table.
func (s scope) table(key string, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		s.errf(key, "want a table ([%s]), got %s", key, describe(key, v))
	}
	return m, ok
}

// resolve makes a relative path relative to the config file's directory.
func (d *decoder) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || d.dir == "" {
		return p
	}
	return filepath.Join(d.dir, p)
}

func (d *decoder) online(p toml.Primitive, m map[string]any) []string {
	s := scope{d: d, base: path{"online"}, prefix: "online."}
	var t onlineTable
	if err := d.md.PrimitiveDecode(p, &t); err != nil {
		s.errAt(s.line(""), "", "cannot decode the table: %v", err)
		return nil
	}
	s.keys(d.tableKeys("online"), &t)
	return s.strings("targets", t.Targets.tomlStrings, func(tg string) error { return hostPort(tg, false) })
}

func (d *decoder) defaults(p toml.Primitive) Schedule {
	s := scope{d: d, base: path{"defaults"}, prefix: "defaults."}
	var t scheduleTable
	if err := d.md.PrimitiveDecode(p, &t); err != nil {
		s.errAt(s.line(""), "", "cannot decode the table: %v", err)
		return Schedule{}
	}
	s.keys(d.tableKeys("defaults"), &t)
	sc := t.schedule()
	s.problems(sc.Check())
	return sc
}

func (d *decoder) accounts(p toml.Primitive, defaults Schedule) []Account {
	top := scope{d: d}
	var tables []any
	switch v := d.raw(p).(type) {
	case []map[string]any:
		for _, t := range v {
			tables = append(tables, t)
		}
	case []any: // account = [{...}, {...}]
		tables = v
	case map[string]any:
		top.errf("account", "want [[account]] with double brackets, one per account; got [account]")
		return nil
	default:
		top.errf("account", "want [[account]] tables, got %s", describe("account", v))
		return nil
	}
	var elems []toml.Primitive
	if err := d.md.PrimitiveDecode(p, &elems); err != nil || len(elems) != len(tables) {
		top.errf("account", "cannot decode the [[account]] tables: %v", err)
		return nil
	}
	var (
		out   []Account
		first = map[string]int{} // lower-case name → line of its name key
	)
	for i, t := range tables {
		s := scope{d: d, base: path{"account", index(i)}, index: i + 1}
		m, ok := t.(map[string]any)
		if !ok {
			top.errAt(d.lines.line(s.base), "account", "item %d: want a table, got %s", i+1, describe("account", t))
			continue
		}
		a, ok := d.account(s, elems[i], m, defaults)
		if !ok {
			continue
		}
		key := strings.ToLower(a.Name)
		if ln, dup := first[key]; dup {
			s.account = a.Name
			s.lateAt(s.line("name"), "name", "duplicate account name %q (also on line %d; names ignore case)", a.Name, ln)
			continue
		}
		first[key] = s.line("name")
		out = append(out, a)
	}
	return out
}

// account checks one [[account]] table; false when it had errors.
func (d *decoder) account(s scope, p toml.Primitive, m map[string]any, defaults Schedule) (Account, bool) {
	errsBefore, lateBefore := len(d.errs), len(d.late)
	header := d.lines.line(s.base)
	var t accountTable
	if err := d.md.PrimitiveDecode(p, &t); err != nil {
		s.errAt(header, "", "cannot decode the table: %v", err)
		return Account{}, false
	}

	// The name first, so that other errors can say which account they are in.
	name := ""
	switch v := t.Name.v; {
	case v != nil && validName(*v):
		name = *v
		s.account = name
	case v != nil:
		s.errf("name", "invalid name %q: use letters, digits, '.', '_' and '-' (at most 64)", *v)
	case !t.Name.given():
		s.lateAt(header, "name", `missing: every [[account]] needs a name, like name = "charter"`)
	}

	written := make([]string, 0, len(m))
	for k := range m {
		written = append(written, k)
	}
	slices.SortFunc(written, func(a, b string) int {
		if la, lb := s.line(a), s.line(b); la != lb {
			return la - lb
		}
		return strings.Compare(a, b)
	})
	s.keys(written, &t)
	settings := t.settings()
	if scopes := s.strings("oauth_scopes", t.OAuthScopes, func(string) error { return nil }); t.OAuthScopes.set {
		settings.OAuthSettings.Scopes = &scopes
	}

	a, probs := Resolve(name, settings, defaults, Origin{
		File: d.file, Dir: d.dir,
		Line: func(key string) int {
			if key == "" {
				return header
			}
			return s.line(key)
		},
	})
	s.problems(probs)
	if cmdKey := map[CredentialSource]string{CredentialCommand: "password_command", CredentialTokenCommand: "oauth_token_command"}[a.Credential.Source]; cmdKey != "" {
		d.commandSafe(s, cmdKey)
	}
	if a.Credential.Source != CredentialNone {
		a.Credential.Untrusted = d.untrusted
	}
	return a, len(d.errs) == errsBefore && len(d.late) == lateBefore
}
