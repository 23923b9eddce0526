package config

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/BurntSushi/toml"

	"smtpwatch/monitor/probe"
)

// The keys of each table, for unknown-key suggestions.
func topKeys() []string {
	return []string{"state_dir", "retention", "metrics_listen", "reminder", "max_concurrency", "online", "defaults", "account"}
}

func onlineKeys() []string { return []string{"targets"} }

func scheduleKeys() []string {
	return []string{"interval", "auth_interval", "timeout", "cert_warn_days", "slow_threshold", "failure_threshold", "success_threshold"}
}

func accountKeys() []string {
	return append([]string{
		"name", "preset", "server", "port", "security", "username",
		"password_env", "password_command", "password_keyring", "from", "rcpt",
		"ca_file", "ehlo_name", "tls_skip_verify", "allow_plaintext_auth", "enabled",
	}, scheduleKeys()...)
}

const passwordMsg = "passwords are not stored in the config; use password_env, password_command or password_keyring"

// maxCAFile bounds the CA file read; system bundles are about 200 KiB.
const maxCAFile = 4 << 20

type decoder struct {
	file  string
	dir   string       // base of relative paths
	mode  *fs.FileMode // the file's mode when Load read it
	lines lines
	errs  []*Error
	// late are errors about what is missing or does not fit together; they
	// are reported only when no key has a bad value, because a misspelt or
	// invalid key often causes them ("sever" makes server missing).
	late []*Error
}

func parse(file string, data []byte, mode *fs.FileMode) (*Config, error) {
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
	var root map[string]any
	if _, err := toml.Decode(string(data), &root); err != nil {
		return nil, syntaxError(file, data, err)
	}
	d := &decoder{file: file, dir: dir, mode: mode, lines: ln}
	cfg := d.config(root)
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
		return &Error{File: file, Line: 1, Msg: "invalid TOML: " + err.Error()}
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
}

func (s scope) line(key string) int { return s.d.lines.line(s.base.with(key)) }

func (s scope) errAt(line int, key, format string, args ...any) {
	s.d.errs = append(s.d.errs, s.newError(line, key, format, args...))
}

// lateAt records a missing key or a conflict between keys.
func (s scope) lateAt(line int, key, format string, args ...any) {
	s.d.late = append(s.d.late, s.newError(line, key, format, args...))
}

func (s scope) latef(key, format string, args ...any) {
	s.lateAt(s.line(key), key, format, args...)
}

func (s scope) newError(line int, key, format string, args ...any) *Error {
	return &Error{
		File: s.d.file, Line: line, Account: s.account, Index: s.index,
		Key: displayKey(s.prefix + key), Msg: fmt.Sprintf(format, args...),
	}
}

func (s scope) errf(key, format string, args ...any) {
	s.errAt(s.line(key), key, format, args...)
}

// displayKey quotes a key that is not plain, so that an error stays one
// readable line.
func displayKey(k string) string {
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return strconv.Quote(k)
		}
	}
	return k
}

// sortedKeys returns m's keys in file order.
func (s scope) sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if la, lb := s.line(a), s.line(b); la != lb {
			return la - lb
		}
		return strings.Compare(a, b)
	})
	return keys
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

// describe names a TOML value's type, with the value when short. It never
// shows the text of a password_* key: people put passwords there by mistake.
func describe(key string, v any) string {
	switch v := v.(type) {
	case string:
		if len(v) > 40 || strings.HasPrefix(key, "password") {
			return "a string"
		}
		return fmt.Sprintf("string %q", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("float %v", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case []map[string]any:
		return "[[tables]]"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time, toml.Primitive:
		return "a date or time"
	}
	return fmt.Sprintf("%T", v)
}

func (s scope) str(key string, v any) (string, bool) {
	x, ok := v.(string)
	if !ok {
		s.errf(key, "want a string in quotes, got %s", describe(key, v))
	}
	return x, ok
}

func (s scope) boolean(key string, v any) (bool, bool) {
	x, ok := v.(bool)
	if !ok {
		s.errf(key, "want true or false, got %s", describe(key, v))
	}
	return x, ok
}

func (s scope) integer(key string, v any, lo, hi int64) (int, bool) {
	x, ok := v.(int64)
	if !ok {
		s.errf(key, "want a whole number, got %s", describe(key, v))
		return 0, false
	}
	if x < lo || x > hi {
		switch {
		case x < 0:
			s.errf(key, "%d is negative: want %d to %d", x, lo, hi)
		default:
			s.errf(key, "%d is out of range: want %d to %d", x, lo, hi)
		}
		return 0, false
	}
	return int(x), true
}

// duration reads a duration string of at least lo; zero is also allowed
// when zeroOK.
func (s scope) duration(key string, v any, lo time.Duration, zeroOK bool) (time.Duration, bool) {
	str, ok := v.(string)
	if !ok {
		s.errf(key, "want a duration in quotes, like \"90s\", \"15m\" or \"30d\", got %s", describe(key, v))
		return 0, false
	}
	if strings.HasPrefix(strings.TrimSpace(str), "-") {
		s.errf(key, "duration %q is negative", str)
		return 0, false
	}
	d, err := ParseDuration(str)
	if err != nil {
		s.errf(key, "%v", err)
		return 0, false
	}
	if d == 0 && zeroOK {
		return 0, true
	}
	if d < lo || d <= 0 {
		if zeroOK {
			s.errf(key, "%s is too short: want at least %s, or \"0\" for never", str, shortDuration(lo))
		} else {
			s.errf(key, "%s is too short: want at least %s", str, shortDuration(lo))
		}
		return 0, false
	}
	return d, true
}

// shortDuration prints 1m0s as 1m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// hostPort checks a host:port address; the host may be empty when
// emptyHost.
func hostPort(addr string, emptyHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q: want host:port, like \"1.1.1.1:443\" or \"[2606:4700::1111]:443\"", addr)
	}
	if host == "" && !emptyHost {
		return fmt.Errorf("invalid address %q: the host is missing", addr)
	}
	if host != "" && !validHost(host) {
		return fmt.Errorf("invalid address %q: bad host %q", addr, host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strings.HasPrefix(port, "+") {
		return fmt.Errorf("invalid address %q: the port must be a number from 1 to 65535", addr)
	}
	return nil
}

// schedule is the per-account settings [defaults] can set.
type schedule struct {
	interval, authInterval, timeout, slowThreshold   time.Duration
	certWarnDays, failureThreshold, successThreshold int
}

func defaultSchedule() schedule {
	return schedule{
		interval: DefaultInterval, authInterval: DefaultAuthInterval, timeout: DefaultTimeout,
		slowThreshold: DefaultSlowThreshold, certWarnDays: DefaultCertWarnDays,
		failureThreshold: DefaultFailureThreshold, successThreshold: DefaultSuccessThreshold,
	}
}

// scheduleKey sets a schedule key into sc; false when key is not one.
func (s scope) scheduleKey(key string, v any, sc *schedule) bool {
	var ok bool
	switch key {
	case "interval":
		var d time.Duration
		if d, ok = s.duration(key, v, MinInterval, false); ok {
			sc.interval = d
		}
	case "auth_interval":
		var d time.Duration
		if d, ok = s.duration(key, v, MinAuthInterval, false); ok {
			sc.authInterval = d
		}
	case "timeout":
		var d time.Duration
		if d, ok = s.duration(key, v, time.Second, false); ok {
			sc.timeout = d
		}
	case "slow_threshold":
		var d time.Duration
		if d, ok = s.duration(key, v, time.Millisecond, false); ok {
			sc.slowThreshold = d
		}
	case "cert_warn_days":
		var n int
		if n, ok = s.integer(key, v, 1, 3650); ok {
			sc.certWarnDays = n
		}
	case "failure_threshold":
		var n int
		if n, ok = s.integer(key, v, 0, 100); ok {
			sc.failureThreshold = n
		}
	case "success_threshold":
		var n int
		if n, ok = s.integer(key, v, 1, 100); ok {
			sc.successThreshold = n
		}
	default:
		return false
	}
	return true
}

// table asserts that v is a table.
func (s scope) table(key string, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		s.errf(key, "want a table ([%s]), got %s", key, describe(key, v))
	}
	return m, ok
}

func (d *decoder) config(root map[string]any) *Config {
	cfg := &Config{
		Retention:      DefaultRetention,
		Reminder:       DefaultReminder,
		MaxConcurrency: DefaultMaxConcurrency,
	}
	top := scope{d: d}
	defaults := defaultSchedule()
	var accounts any
	for _, key := range top.sortedKeys(root) {
		v := root[key]
		switch key {
		case "state_dir":
			if s, ok := top.str(key, v); ok {
				if s == "" {
					top.errf(key, "empty; leave the key out for the default")
				} else {
					cfg.StateDir = d.resolve(s)
				}
			}
		case "retention":
			if x, ok := top.duration(key, v, time.Hour, false); ok {
				cfg.Retention = x
			}
		case "metrics_listen":
			if s, ok := top.str(key, v); ok {
				if err := hostPort(s, true); err != nil {
					top.errf(key, "%v", err)
				} else {
					cfg.MetricsListen = s
				}
			}
		case "reminder":
			if x, ok := top.duration(key, v, time.Minute, true); ok {
				cfg.Reminder = x
			}
		case "max_concurrency":
			if n, ok := top.integer(key, v, 1, 1000); ok {
				cfg.MaxConcurrency = n
			}
		case "online":
			if m, ok := top.table(key, v); ok {
				cfg.OnlineTargets = d.online(m)
			}
		case "defaults":
			if m, ok := top.table(key, v); ok {
				d.defaults(m, &defaults)
			}
		case "account":
			accounts = v
		default:
			top.unknown(key, topKeys())
		}
	}
	if accounts != nil {
		cfg.Accounts = d.accounts(accounts, defaults)
	}
	return cfg
}

// resolve makes a relative path relative to the config file's directory.
func (d *decoder) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || d.dir == "" {
		return p
	}
	return filepath.Join(d.dir, p)
}

func (d *decoder) online(m map[string]any) []string {
	s := scope{d: d, base: path{"online"}, prefix: "online."}
	var targets []string
	for _, key := range s.sortedKeys(m) {
		if key != "targets" {
			s.unknown(key, onlineKeys())
			continue
		}
		list, ok := m[key].([]any)
		if !ok {
			s.errf(key, `want a list of host:port addresses, like ["1.1.1.1:443"], got %s`, describe(key, m[key]))
			continue
		}
		targets = make([]string, 0, len(list))
		for i, v := range list {
			t, ok := v.(string)
			if !ok {
				s.errAt(d.lines.line(s.base.with(key, index(i))), key, "item %d: want a string \"host:port\", got %s", i+1, describe(key, v))
				continue
			}
			if err := hostPort(t, false); err != nil {
				s.errAt(d.lines.line(s.base.with(key, index(i))), key, "%v", err)
				continue
			}
			targets = append(targets, t)
		}
	}
	return targets
}

func (d *decoder) defaults(m map[string]any, sc *schedule) {
	s := scope{d: d, base: path{"defaults"}, prefix: "defaults."}
	for _, key := range s.sortedKeys(m) {
		if !s.scheduleKey(key, m[key], sc) {
			s.unknown(key, scheduleKeys())
		}
	}
}

func (d *decoder) accounts(v any, defaults schedule) []Account {
	top := scope{d: d}
	var tables []any
	switch v := v.(type) {
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
		a, ok := d.account(s, m, defaults)
		if !ok {
			continue
		}
		key := strings.ToLower(a.Name)
		if ln, dup := first[key]; dup {
			s.account = a.Name
			s.latef("name", "duplicate account name %q (also on line %d; names ignore case)", a.Name, ln)
			continue
		}
		first[key] = s.line("name")
		out = append(out, a)
	}
	return out
}

func validName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// account checks one [[account]] table; false when it had errors.
func (d *decoder) account(s scope, m map[string]any, defaults schedule) (Account, bool) {
	errsBefore, lateBefore := len(d.errs), len(d.late)
	header := d.lines.line(s.base)
	a := Account{File: d.file, Line: header, Enabled: true}

	// The name first, so that other errors can say which account they are in.
	if v, ok := m["name"]; ok {
		if n, ok := s.str("name", v); ok {
			if validName(n) {
				a.Name = n
				s.account = n
			} else {
				s.errf("name", "invalid name %q: use letters, digits, '.', '_' and '-' (at most 64)", n)
			}
		}
	} else {
		s.lateAt(header, "name", `missing: every [[account]] needs a name, like name = "charter"`)
	}

	var (
		sc                = defaults
		hasPort, hasSec   bool
		credKeys          []string
		preset            Preset
		hasPreset         bool
		security          probe.Security
		caFile, caFileKey string
	)
	for _, key := range s.sortedKeys(m) {
		v := m[key]
		if s.scheduleKey(key, v, &sc) {
			continue
		}
		switch key {
		case "name":
		case "preset":
			if p, ok := s.str(key, v); ok {
				if preset, hasPreset = LookupPreset(p); !hasPreset {
					if c := suggest(p, presetKeys()); c != "" {
						s.errf(key, "unknown preset %q; did you mean %q?", p, c)
					} else {
						s.errf(key, "unknown preset %q: want one of %s", p, strings.Join(presetKeys(), ", "))
					}
				} else {
					a.Preset = preset.Key
				}
			}
		case "server":
			if x, ok := s.str(key, v); ok {
				host, port, err := ParseServer(x)
				switch {
				case err != nil:
					s.errf(key, "%v", err)
				case port != 0:
					s.errf(key, "%q includes a port: write server = %q and port = %d", x, host, port)
				default:
					a.Server = host
				}
			}
		case "port":
			if n, ok := s.integer(key, v, 1, 65535); ok {
				a.Port, hasPort = n, true
			}
		case "security":
			if x, ok := s.str(key, v); ok {
				sec, err := probe.ParseSecurity(x)
				if err != nil {
					s.errf(key, "%v", err)
				} else {
					security, hasSec = sec, true
				}
			}
		case "username":
			if x, ok := s.str(key, v); ok {
				if strings.IndexFunc(x, unicode.IsControl) >= 0 {
					s.errf(key, "contains a control character (a line break?)")
				} else {
					a.Username = x
				}
			}
		case "password_env":
			if x, ok := s.str(key, v); ok {
				if x == "" || strings.ContainsAny(x, "=\x00") || strings.IndexFunc(x, unicode.IsSpace) >= 0 {
					s.errf(key, `want the name of the environment variable that holds the password, like "CHARTER_PASSWORD"`)
				} else {
					a.Credential.Env = x
					credKeys = append(credKeys, key)
				}
			}
		case "password_command":
			if x, ok := s.str(key, v); ok {
				if strings.TrimSpace(x) == "" {
					s.errf(key, "empty command")
				} else {
					a.Credential.Command = x
					credKeys = append(credKeys, key)
				}
			}
		case "password_keyring":
			if x, ok := s.boolean(key, v); ok && x {
				credKeys = append(credKeys, key)
			}
		case "from", "rcpt":
			if x, ok := s.str(key, v); ok {
				if err := checkAddress(x); err != nil {
					s.errf(key, "%v", err)
				} else if key == "from" {
					a.From = x
				} else {
					a.Rcpt = x
				}
			}
		case "ca_file":
			if x, ok := s.str(key, v); ok {
				caFile, caFileKey = x, key
			}
		case "ehlo_name":
			if x, ok := s.str(key, v); ok {
				if x == "" || strings.IndexFunc(x, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
					s.errf(key, "invalid name %q: want a host name without spaces, like \"laptop.example.org\"", x)
				} else {
					a.EHLOName = x
				}
			}
		case "tls_skip_verify":
			if x, ok := s.boolean(key, v); ok {
				a.TLSSkipVerify = x
			}
		case "allow_plaintext_auth":
			if x, ok := s.boolean(key, v); ok {
				a.AllowPlaintextAuth = x
			}
		case "enabled":
			if x, ok := s.boolean(key, v); ok {
				a.Enabled = x
			}
		default:
			s.unknown(key, accountKeys())
		}
	}

	// Server, security and port: the account's own, else the preset's.
	_, hasServerKey := m["server"]
	_, hasPresetKey := m["preset"]
	switch {
	case a.Server != "":
	case hasPreset:
		a.Server = preset.Server
	case !hasServerKey && !hasPresetKey:
		s.lateAt(header, "server", `missing: set server = "smtp.example.com", or a preset (%s)`, strings.Join(presetKeys(), ", "))
	}
	switch {
	case hasSec:
		a.Security = security
	case hasPreset:
		a.Security = preset.Security
	default:
		a.Security = probe.SecurityAuto
	}
	switch {
	case hasPort:
	case hasPreset && (a.Security == preset.Security || a.Security == probe.SecurityAuto):
		a.Port = preset.Port
	case hasPreset && a.Security == preset.Alternative.Security && preset.Alternative.Port != 0:
		a.Port = preset.Alternative.Port
	default:
		a.Port = probe.DefaultPort(a.Security)
	}
	switch {
	case hasPreset && strings.EqualFold(a.Name, preset.Key):
		a.Provider = preset.Name
	default:
		a.Provider = a.Name
	}

	// Credentials: one source at most, and only with a user name.
	if len(credKeys) > 1 {
		slices.SortFunc(credKeys, func(x, y string) int { return s.line(x) - s.line(y) })
		second := credKeys[1]
		s.latef(second, "only one password source may be set, but %s is also set (line %d)", credKeys[0], s.line(credKeys[0]))
	} else if len(credKeys) == 1 {
		key := credKeys[0]
		a.Credential.File, a.Credential.Line = d.file, s.line(key)
		switch key {
		case "password_env":
			a.Credential.Source = CredentialEnv
		case "password_command":
			a.Credential.Source = CredentialCommand
			if d.mode != nil && runtime.GOOS != "windows" && d.mode.Perm()&0o022 != 0 {
				s.errf(key, "%s is writable by group or others (mode %04o), so someone else could change the command; run: chmod go-w %s",
					d.file, d.mode.Perm(), shellQuote(d.file))
			}
		case "password_keyring":
			a.Credential.Source = CredentialKeyring
		}
		if a.Username == "" {
			s.latef(key, "set username too: the password is only used to log in with a user name")
		}
	}
	// The envelope check needs both addresses.
	if (a.From == "") != (a.Rcpt == "") {
		_, hasFrom := m["from"]
		_, hasRcpt := m["rcpt"]
		if hasFrom && !hasRcpt {
			s.latef("from", "set rcpt too: the envelope check needs both from and rcpt")
		} else if hasRcpt && !hasFrom {
			s.latef("rcpt", "set from too: the envelope check needs both from and rcpt")
		}
	}

	if caFileKey != "" {
		a.CAFile, a.RootCAs, a.CADigest = d.caFile(s, caFileKey, caFile)
	}

	a.Interval, a.AuthInterval, a.Timeout = sc.interval, sc.authInterval, sc.timeout
	a.SlowThreshold, a.CertWarnDays = sc.slowThreshold, sc.certWarnDays
	a.FailureThreshold, a.SuccessThreshold = sc.failureThreshold, sc.successThreshold
	return a, len(d.errs) == errsBefore && len(d.late) == lateBefore
}

// caFile loads a PEM bundle into a pool of its own.
func (d *decoder) caFile(s scope, key, name string) (string, *x509.CertPool, [32]byte) {
	if name == "" {
		s.errf(key, "empty; leave the key out to use the system's certificate authorities")
		return "", nil, [32]byte{}
	}
	p := d.resolve(name)
	pool, digest, err := ReadCAFile(p)
	if err != nil {
		s.errf(key, "%v", err)
		return "", nil, [32]byte{}
	}
	return p, pool, digest
}

// LoadCAFile reads a PEM file of CA certificates into a pool of its own,
// for --ca-file. Errors say what is wrong with the file.
func LoadCAFile(path string) (*x509.CertPool, error) {
	pool, _, err := ReadCAFile(path)
	return pool, err
}

// ReadCAFile reads a PEM file of CA certificates into a pool of its own and
// returns the SHA-256 of the contents read, so that callers can tell a
// changed file (see Account.CADigest). Errors say what is wrong with the
// file.
func ReadCAFile(p string) (*x509.CertPool, [32]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("cannot read %s: %v", p, unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("cannot read %s: %v", p, unwrapPath(err))
	}
	if len(data) > maxCAFile {
		return nil, [32]byte{}, fmt.Errorf("%s is larger than %d bytes; want a PEM file of CA certificates", p, maxCAFile)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, [32]byte{}, fmt.Errorf("no PEM certificate in %s: want a file with -----BEGIN CERTIFICATE----- blocks", p)
	}
	return pool, sha256.Sum256(data), nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// checkAddress accepts what can go in MAIL FROM:<...> or RCPT TO:<...>.
func checkAddress(a string) error {
	if a == "" {
		return errors.New("empty; leave both from and rcpt out to skip the envelope check")
	}
	if strings.IndexFunc(a, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("invalid address %q: it contains a space or a line break", a)
	}
	if strings.ContainsAny(a, "<>") {
		return fmt.Errorf("invalid address %q: write the bare address, without < >", a)
	}
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return fmt.Errorf("invalid address %q: want name@domain", a)
	}
	if len(a) > 254 {
		return fmt.Errorf("invalid address: longer than 254 characters")
	}
	return nil
}

// shellQuote quotes a file name for a command the user can paste.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
