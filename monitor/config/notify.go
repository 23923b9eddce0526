package config

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"runtime"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/nicholas-fedor/shoutrrr/pkg/router"
	"golang.org/x/net/idna"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/health"
)

// Alert channels ([[notify]]) and /probe modules ([[module]]): the tables
// beside [[account]] that the daemon's alerts and its Prometheus exporter
// read.

// Notify is one [[notify]] table: an alert channel. Its URL is a secret
// wherever it comes from (tokens live in URLs: an ntfy topic, a Slack
// webhook path, an SMTP password), so it is held as a credential.Secret or
// read from its source when a notification goes out, and never shown:
// messages name the channel by Name and Kind.
type Notify struct {
	Name string
	// URL is the url = "..." written in the file, in the notation of
	// github.com/nicholas-fedor/shoutrrr; zero when the URL comes from
	// URLSource or the channel is a webhook.
	URL credential.Secret
	// URLSource is url_env, url_command or url_keyring (the keyring entry
	// of KeyringUser); Source CredentialNone otherwise.
	URLSource Credential
	// Webhook is webhook = "https://...": smtpwatch posts each
	// notification event there as JSON. "" for a shoutrrr channel.
	Webhook string
	// WebhookSecret is webhook_secret_env or webhook_secret_command: the
	// key of the HMAC signature header. Source CredentialNone: unsigned.
	WebhookSecret Credential
	// Accounts are the accounts whose news the channel takes (as the
	// config names them); nil means every account.
	Accounts []string
	// On are the topics the channel takes; nil means every topic.
	On []health.Topic
	// Kind is the service as the file says it: the URL's scheme ("ntfy",
	// "smtp"), "webhook", or "" when the URL comes from a source and is
	// not known before it is read.
	Kind string
	// File and Line locate the [[notify]] header; URLLine the key that
	// gives the URL.
	File          string
	Line, URLLine int
	urlKey        string // the key that gives the URL, for messages

	// servers are the enabled accounts' servers, for CheckURL.
	servers []watched
}

// watched is an account's server, as CheckURL compares it.
type watched struct {
	host, account string
	line          int
}

// KeyringUser is the OS keyring entry of url_keyring ("notify:NAME",
// under KeyringService): account names cannot hold ':', so the two never
// meet.
func (n Notify) KeyringUser() string { return "notify:" + n.Name }

// NotifyURL reads the channel's shoutrrr URL: the one written in the file,
// or from url_env, url_command or url_keyring (as Account.Password reads a
// password, and with the same errors: *Error values naming the file, line
// and key, never the URL). Then CheckURL. A webhook channel has no URL:
// an error.
func (n Notify) NotifyURL(ctx context.Context) (credential.Secret, error) {
	var s credential.Secret
	switch {
	case n.Webhook != "":
		return credential.Secret{}, n.errAt(n.Line, "webhook", "a webhook channel has no shoutrrr URL", nil)
	case !n.URL.IsZero():
		s = n.URL
	default:
		var err error
		s, err = n.URLSource.fetch(ctx, n.KeyringUser(), urlKeys(n.Name), n.credError)
		if err != nil {
			return credential.Secret{}, err
		}
	}
	u, err := url.Parse(s.Reveal())
	if err != nil {
		// url.Parse quotes the URL: never show it.
		return credential.Secret{}, n.errAt(n.URLLine, n.urlKey, "not a URL (the value is not shown: it may hold a token)", nil)
	}
	if err := n.CheckURL(u); err != nil {
		return credential.Secret{}, err
	}
	return s, nil
}

// WebhookKey reads the webhook's signing key from webhook_secret_env or
// webhook_secret_command; the zero Secret when there is none.
func (n Notify) WebhookKey(ctx context.Context) (credential.Secret, error) {
	if n.WebhookSecret.Source == CredentialNone {
		return credential.Secret{}, nil
	}
	return n.WebhookSecret.fetch(ctx, "", webhookKeys, n.credError)
}

// CheckURL refuses what a channel's URL may not be: not a service
// shoutrrr knows, a password in a URL written in the file, or e-mail
// alerts through the server of an account the file watches — when that
// server fails, the alert about it would fail with it. Servers compare by
// host name (any port), ignoring case, a trailing dot and IDNA form.
// Errors are *Error values at the key that gives the URL.
func (n Notify) CheckURL(u *url.URL) error {
	scheme, _, _ := strings.Cut(strings.ToLower(u.Scheme), "+")
	if scheme == "" {
		return n.errAt(n.URLLine, n.urlKey, "not a service URL: want SERVICE://..., like ntfy://ntfy.example.org/alerts", nil)
	}
	if _, err := (&router.ServiceRouter{}).NewService(scheme); err != nil {
		return n.errAt(n.URLLine, n.urlKey, fmt.Sprintf("unknown service %q: want one of shoutrrr's (ntfy, gotify, slack, teams, telegram, matrix, discord, pushover, smtp, generic...)", scheme), nil)
	}
	if scheme == "smtp" {
		host := hostKey(u.Hostname())
		for _, w := range n.servers {
			if w.host == host {
				return n.errAt(n.URLLine, n.urlKey, fmt.Sprintf("sends e-mail through %s, the server of account %q (line %d): an alert about that server would fail with it; send alerts through another server",
					u.Hostname(), w.account, w.line), nil)
			}
		}
	}
	return nil
}

// hostKey is a host name as CheckURL compares it.
func hostKey(h string) string {
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().String()
	}
	if a, err := idna.Lookup.ToASCII(h); err == nil {
		return a
	}
	return h
}

func (n Notify) errAt(line int, key, msg string, err error) *Error {
	return &Error{File: n.File, Line: line, Account: n.Name, Table: "notify", Key: key, Msg: msg, Err: err}
}

func (n Notify) credError(key, msg string, err error) error {
	line := n.URLSource.Line
	if strings.HasPrefix(key, "webhook") {
		line = n.WebhookSecret.Line
	}
	return n.errAt(line, key, msg, err)
}

// secretKeys name a credential source's keys, for messages.
type secretKeys struct {
	env, command, keyring string
	// setHint is what stores a missing keyring entry.
	setHint string
}

var webhookKeys = secretKeys{env: "webhook_secret_env", command: "webhook_secret_command"}

func urlKeys(name string) secretKeys {
	return secretKeys{env: "url_env", command: "url_command", keyring: "url_keyring", setHint: "smtpwatch notify set-url " + name}
}

// Module is one [[module]] table: the settings /probe?target=HOST:PORT&
// module=NAME checks a server with — everything an account has but the
// server, which the request names.
type Module struct {
	Name string
	// Account holds the settings, with Server "" and Port 0; For fills
	// them in.
	Account Account
	// Targets are the servers a request may name: host names, "*.domain"
	// for any name under domain, or IP addresses, each with an optional
	// ":port". nil means any server — only for a module that does not log
	// in: one that does must list them, or any request could have its
	// password sent to a server of the requester's choice.
	Targets []string
	File    string
	Line    int
}

// For is the account a check of host:port with the module is; port 0
// means the security mode's usual port.
func (m Module) For(host string, port int) Account {
	a := m.Account
	a.Server, a.Port = host, port
	if port == 0 {
		a.Port = defaultPort(a)
	}
	return a
}

func defaultPort(a Account) int {
	switch a.Security {
	case "tls":
		return 465
	}
	return 587
}

// Allows reports whether a request may name host:port (port 0: the
// usual one) with the module.
func (m Module) Allows(host string, port int) bool {
	if m.Targets == nil {
		return true
	}
	if port == 0 {
		port = defaultPort(m.Account)
	}
	h := hostKey(host)
	for _, t := range m.Targets {
		th, tp, err := splitTarget(t)
		if err != nil || (tp != 0 && tp != port) {
			continue
		}
		if rest, ok := strings.CutPrefix(th, "*."); ok {
			if strings.HasSuffix(h, "."+hostKey(rest)) {
				return true
			}
			continue
		}
		if hostKey(th) == h {
			return true
		}
	}
	return false
}

// Module returns the module with the given name, ignoring case.
func (c *Config) Module(name string) (Module, bool) {
	for _, m := range c.Modules {
		if strings.EqualFold(m.Name, name) {
			return m, true
		}
	}
	return Module{}, false
}

// notifyTable is one [[notify]].
type notifyTable struct {
	Name                 tomlString  `toml:"name"`
	URL                  tomlString  `toml:"url"`
	URLEnv               tomlString  `toml:"url_env"`
	URLCommand           tomlString  `toml:"url_command"`
	URLKeyring           tomlBool    `toml:"url_keyring"`
	Webhook              tomlString  `toml:"webhook"`
	WebhookSecretEnv     tomlString  `toml:"webhook_secret_env"`
	WebhookSecretCommand tomlString  `toml:"webhook_secret_command"`
	Accounts             tomlStrings `toml:"accounts"`
	On                   tomlStrings `toml:"on"`
}

// moduleTable is one [[module]]: an account's keys but the server's, the
// schedule's and enabled.
type moduleTable struct {
	Name               tomlString   `toml:"name"`
	Security           tomlString   `toml:"security"`
	Username           tomlString   `toml:"username"`
	PasswordEnv        tomlString   `toml:"password_env"`
	PasswordCommand    tomlString   `toml:"password_command"`
	PasswordKeyring    tomlBool     `toml:"password_keyring"`
	From               tomlString   `toml:"from"`
	Rcpt               tomlString   `toml:"rcpt"`
	CAFile             tomlString   `toml:"ca_file"`
	EHLOName           tomlString   `toml:"ehlo_name"`
	TLSSkipVerify      tomlBool     `toml:"tls_skip_verify"`
	AllowPlaintextAuth tomlBool     `toml:"allow_plaintext_auth"`
	Timeout            tomlDuration `toml:"timeout"`
	CertWarnDays       tomlInt      `toml:"cert_warn_days"`
	SlowThreshold      tomlDuration `toml:"slow_threshold"`
	Targets            tomlStrings  `toml:"targets"`
}

// tomlStrings is a key that wants a list of strings; each item is checked
// at its own line by the table's decoder.
type tomlStrings struct {
	items []any
	set   bool
	bad   any
}

func (f *tomlStrings) UnmarshalTOML(x any) error {
	if l, ok := x.([]any); ok {
		f.items, f.set = l, true
	} else {
		f.bad = x
	}
	return nil
}

func (f *tomlStrings) given() bool { return f.set || f.bad != nil }

func (f *tomlStrings) problem(key string) string {
	if f.bad != nil {
		return "want a list of strings in quotes, like " + listExample(key) + ", got " + describe(key, f.bad)
	}
	return ""
}

// listExample is a list key's example value, for messages.
func listExample(key string) string {
	switch key {
	case "oauth_scopes":
		return `["https://mail.google.com/"]`
	case "accounts":
		return `["charter", "work"]`
	case "on":
		return `["failing", "recovered"]`
	case "targets":
		return `["smtp.example.com:587"]`
	}
	return `["a", "b"]`
}

// strings checks the items of a list key and returns them; each wrong
// item is an error at its line.
func (s scope) strings(key string, f tomlStrings, check func(string) error) []string {
	if !f.set {
		return nil
	}
	out := make([]string, 0, len(f.items))
	for i, v := range f.items {
		line := s.d.lines.line(s.base.with(key, index(i)))
		str, ok := v.(string)
		if !ok {
			s.errAt(line, key, "item %d: want a string, got %s", i+1, describe(key, v))
			continue
		}
		if err := check(str); err != nil {
			s.errAt(line, key, "%v", err)
			continue
		}
		out = append(out, str)
	}
	return out
}

// tables lists the elements of an array of tables [[key]] with their
// primitives; false after an error (a single table, not an array).
func (d *decoder) tables(key string, p toml.Primitive) ([]map[string]any, []toml.Primitive, bool) {
	top := scope{d: d}
	var tables []map[string]any
	switch v := d.raw(p).(type) {
	case []map[string]any:
		tables = v
	case []any:
		for i, t := range v {
			m, ok := t.(map[string]any)
			if !ok {
				top.errAt(d.lines.line(path{key, index(i)}), key, "item %d: want a table, got %s", i+1, describe(key, t))
				return nil, nil, false
			}
			tables = append(tables, m)
		}
	case map[string]any:
		top.errf(key, "want [[%s]] with double brackets, one per table; got [%s]", key, key)
		return nil, nil, false
	default:
		top.errf(key, "want [[%s]] tables, got %s", key, describe(key, v))
		return nil, nil, false
	}
	var elems []toml.Primitive
	if err := d.md.PrimitiveDecode(p, &elems); err != nil || len(elems) != len(tables) {
		top.errf(key, "cannot decode the [[%s]] tables: %v", key, err)
		return nil, nil, false
	}
	return tables, elems, true
}

// written lists a table's keys in file order.
func (s scope) written(m map[string]any) []string {
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

// alerts decodes [[notify]] and [[module]], after the accounts: a channel
// names accounts, and a module's name must differ from theirs (both name
// keyring entries).
func (d *decoder) alerts(t *fileTable, cfg *Config) {
	names := map[string]int{}
	for _, a := range cfg.Accounts {
		names[strings.ToLower(a.Name)] = a.Line
	}
	if d.md.IsDefined("module") {
		cfg.Modules = d.modules(t.Module, names)
	}
	if d.md.IsDefined("notify") {
		cfg.Notify = d.notifies(t.Notify, cfg)
	}
}

// tableName checks a [[notify]] or [[module]] name; "" when wrong.
func (s scope) tableName(n tomlString, header int, example string) string {
	switch v := n.v; {
	case v != nil && validName(*v):
		s.account = *v
		return *v
	case v != nil:
		s.errf("name", "invalid name %q: use letters, digits, '.', '_' and '-' (at most 64)", *v)
	case !n.given():
		s.lateAt(header, "name", `missing: every [[%s]] needs a name, like name = %q`, s.kind, example)
	}
	return ""
}

func (d *decoder) notifies(p toml.Primitive, cfg *Config) []Notify {
	tables, elems, ok := d.tables("notify", p)
	if !ok {
		return nil
	}
	var servers []watched
	for _, a := range cfg.Accounts {
		if a.Enabled {
			servers = append(servers, watched{host: hostKey(a.Server), account: a.Name, line: a.Line})
		}
	}
	var out []Notify
	first := map[string]int{}
	for i, m := range tables {
		s := scope{d: d, base: path{"notify", index(i)}, index: i + 1, kind: "notify"}
		header := d.lines.line(s.base)
		var t notifyTable
		if err := d.md.PrimitiveDecode(elems[i], &t); err != nil {
			s.errAt(header, "", "cannot decode the table: %v", err)
			continue
		}
		errsBefore, lateBefore := len(d.errs), len(d.late)
		name := s.tableName(t.Name, header, "ntfy")
		s.account = name
		s.keys(s.written(m), &t)
		n := Notify{Name: name, File: d.file, Line: header, servers: servers}

		var sources []string
		if t.URL.v != nil {
			sources = append(sources, "url")
		}
		if t.URLEnv.v != nil {
			sources = append(sources, "url_env")
		}
		if t.URLCommand.v != nil {
			sources = append(sources, "url_command")
		}
		if t.URLKeyring.v != nil && *t.URLKeyring.v {
			sources = append(sources, "url_keyring")
		}
		if t.Webhook.v != nil {
			sources = append(sources, "webhook")
		}
		slices.SortStableFunc(sources, func(a, b string) int { return s.line(a) - s.line(b) })
		switch {
		case len(sources) == 0:
			s.lateAt(header, "url", `missing: set url = "ntfy://..." (or url_env, url_command, url_keyring), or webhook = "https://..."`)
		case len(sources) > 1:
			s.lateAt(s.line(sources[1]), sources[1], "only one of url, url_env, url_command, url_keyring and webhook may be set, but %s is also set (line %d)", sources[0], s.line(sources[0]))
		default:
			n.urlKey, n.URLLine = sources[0], s.line(sources[0])
		}
		if v := t.URL.v; v != nil {
			u, err := url.Parse(*v)
			switch {
			case err != nil || u.Scheme == "" || u.Opaque != "":
				s.errf("url", "not a service URL: want SERVICE://..., like ntfy://ntfy.example.org/alerts (the value is not shown: it may hold a token)")
			case hasPassword(u):
				s.errf("url", "the URL holds a password: passwords are not stored in the config; put the URL in url_env, url_command or url_keyring")
			default:
				n.URL, n.Kind = credential.NewSecret(*v), strings.ToLower(u.Scheme)
				if err := n.CheckURL(u); err != nil {
					d.errs = append(d.errs, err.(*Error))
				}
			}
		}
		if v := t.URLEnv.v; v != nil {
			if bad := envName(*v); bad != "" {
				s.errf("url_env", "%s", bad)
			} else {
				n.URLSource = Credential{Source: CredentialEnv, Env: *v, File: d.file, Line: s.line("url_env")}
			}
		}
		if v := t.URLCommand.v; v != nil {
			if strings.TrimSpace(*v) == "" {
				s.errf("url_command", "empty command")
			} else {
				n.URLSource = Credential{Source: CredentialCommand, Command: *v, File: d.file, Line: s.line("url_command")}
				d.commandSafe(s, "url_command")
			}
		}
		if v := t.URLKeyring.v; v != nil && *v {
			n.URLSource = Credential{Source: CredentialKeyring, File: d.file, Line: s.line("url_keyring")}
		}
		if n.URLSource.Source != CredentialNone {
			n.URLSource.Untrusted = d.untrusted
		}
		if v := t.Webhook.v; v != nil {
			if err := checkWebhook(*v); err != nil {
				s.errf("webhook", "%v", err)
			} else {
				n.Webhook, n.Kind = *v, "webhook"
			}
		}
		var secretKeys []string
		if v := t.WebhookSecretEnv.v; v != nil {
			secretKeys = append(secretKeys, "webhook_secret_env")
			if bad := envName(*v); bad != "" {
				s.errf("webhook_secret_env", "%s", bad)
			} else {
				n.WebhookSecret = Credential{Source: CredentialEnv, Env: *v, File: d.file, Line: s.line("webhook_secret_env")}
			}
		}
		if v := t.WebhookSecretCommand.v; v != nil {
			secretKeys = append(secretKeys, "webhook_secret_command")
			if strings.TrimSpace(*v) == "" {
				s.errf("webhook_secret_command", "empty command")
			} else {
				n.WebhookSecret = Credential{Source: CredentialCommand, Command: *v, File: d.file, Line: s.line("webhook_secret_command")}
				d.commandSafe(s, "webhook_secret_command")
			}
		}
		switch {
		case len(secretKeys) > 1:
			s.lateAt(s.line(secretKeys[1]), secretKeys[1], "only one of webhook_secret_env and webhook_secret_command may be set")
		case len(secretKeys) == 1 && t.Webhook.v == nil:
			s.lateAt(s.line(secretKeys[0]), secretKeys[0], `set webhook = "https://..." too: the secret signs what smtpwatch posts to a webhook`)
		}
		if n.WebhookSecret.Source != CredentialNone {
			n.WebhookSecret.Untrusted = d.untrusted
		}
		n.Accounts = s.strings("accounts", t.Accounts, func(a string) error {
			if _, ok := cfg.Account(a); !ok {
				var known []string
				for _, ac := range cfg.Accounts {
					known = append(known, ac.Name)
				}
				if len(known) == 0 {
					return fmt.Errorf("no account named %q: the file has no [[account]]", a)
				}
				return fmt.Errorf("no account named %q (accounts: %s)", a, strings.Join(known, ", "))
			}
			return nil
		})
		var topics []health.Topic
		for _, o := range s.strings("on", t.On, func(o string) error {
			if !slices.Contains(health.Topics, health.Topic(o)) {
				var all []string
				for _, t := range health.Topics {
					all = append(all, string(t))
				}
				return fmt.Errorf("unknown topic %q: want some of %s", o, strings.Join(all, ", "))
			}
			return nil
		}) {
			topics = append(topics, health.Topic(o))
		}
		if t.On.set {
			n.On = topics
			if len(topics) == 0 && len(t.On.items) == 0 {
				s.errf("on", "empty: the channel would never say anything; leave the key out for every topic")
			}
		}
		if len(d.errs) != errsBefore || len(d.late) != lateBefore || name == "" {
			continue
		}
		key := strings.ToLower(name)
		if ln, dup := first[key]; dup {
			s.lateAt(s.line("name"), "name", "duplicate [[notify]] name %q (also on line %d; names ignore case)", name, ln)
			continue
		}
		first[key] = s.line("name")
		out = append(out, n)
	}
	return out
}

func hasPassword(u *url.URL) bool {
	if u.User == nil {
		return false
	}
	_, ok := u.User.Password()
	return ok
}

// envName says what is wrong with an environment variable's name, "" if
// nothing.
func envName(v string) string {
	if v == "" || strings.ContainsAny(v, "=\x00") || strings.IndexFunc(v, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }) >= 0 {
		return `want the name of an environment variable, like "SMTPWATCH_NTFY_URL"`
	}
	return ""
}

// checkWebhook accepts an https URL, or http to this machine (a local
// relay): notifications name accounts and servers.
func checkWebhook(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New(`not a URL: want "https://host/path"`)
	}
	if u.User != nil {
		return errors.New("no user or password in the webhook URL: sign the requests with webhook_secret_env or webhook_secret_command")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		h := hostKey(u.Hostname())
		if a, err := netip.ParseAddr(h); (err == nil && a.IsLoopback()) || h == "localhost" {
			return nil
		}
		return errors.New("http:// only to this machine (127.0.0.1, ::1, localhost): use https://")
	}
	return fmt.Errorf("scheme %q: want https://", u.Scheme)
}

// commandSafe refuses a command key in a file that group or others may
// write: they could change the command smtpwatch runs.
func (d *decoder) commandSafe(s scope, key string) {
	if d.info != nil && runtime.GOOS != "windows" && d.info.Mode().Perm()&0o022 != 0 {
		s.errf(key, "%s is writable by group or others (mode %04o), so someone else could change the command; run: chmod go-w %s",
			d.file, d.info.Mode().Perm(), shellQuote(d.file))
	}
}

func (d *decoder) modules(p toml.Primitive, accounts map[string]int) []Module {
	tables, elems, ok := d.tables("module", p)
	if !ok {
		return nil
	}
	var out []Module
	first := map[string]int{}
	for i, m := range tables {
		s := scope{d: d, base: path{"module", index(i)}, index: i + 1, kind: "module"}
		header := d.lines.line(s.base)
		var t moduleTable
		if err := d.md.PrimitiveDecode(elems[i], &t); err != nil {
			s.errAt(header, "", "cannot decode the table: %v", err)
			continue
		}
		errsBefore, lateBefore := len(d.errs), len(d.late)
		name := s.tableName(t.Name, header, "fleet")
		s.account = name
		written := s.written(m)
		written = slices.DeleteFunc(written, func(k string) bool {
			switch k {
			case "server", "port", "preset":
				s.errf(k, "a module has no %s: each request names the server (/probe?target=HOST:PORT&module=%s)", k, name)
				return true
			}
			return false
		})
		s.keys(written, &t)
		settings := Settings{
			Security: t.Security.v, Username: t.Username.v, PasswordEnv: t.PasswordEnv.v,
			PasswordCommand: t.PasswordCommand.v, PasswordKeyring: t.PasswordKeyring.v,
			From: t.From.v, Rcpt: t.Rcpt.v, CAFile: t.CAFile.v, EHLOName: t.EHLOName.v,
			TLSSkipVerify: t.TLSSkipVerify.v, AllowPlaintextAuth: t.AllowPlaintextAuth.v,
			Schedule: Schedule{Timeout: t.Timeout.v, CertWarnDays: t.CertWarnDays.v, SlowThreshold: t.SlowThreshold.v},
		}
		a, probs := Resolve(name, settings, Schedule{}, Origin{
			File: d.file, Dir: d.dir, NoServer: true,
			Line: func(key string) int {
				if key == "" {
					return header
				}
				return s.line(key)
			},
		})
		s.problems(probs)
		if a.Credential.Source == CredentialCommand {
			d.commandSafe(s, "password_command")
		}
		if a.Credential.Source != CredentialNone {
			a.Credential.Untrusted = d.untrusted
		}
		a.Server, a.Port = "", 0
		mod := Module{Name: name, Account: a, File: d.file, Line: header}
		mod.Targets = s.strings("targets", t.Targets, checkTarget)
		if t.Targets.set && len(t.Targets.items) == 0 {
			s.errf("targets", "empty: no request could use the module; list the servers it may check")
		}
		if a.Credential.Source != CredentialNone && !t.Targets.set {
			s.lateAt(s.line(a.credentialKey()), a.credentialKey(), `set targets = ["smtp.example.org", "*.example.org"] too: a module that logs in checks only the servers it lists, or /probe would send its password to any server a request names`)
		}
		if len(d.errs) != errsBefore || len(d.late) != lateBefore || name == "" {
			continue
		}
		key := strings.ToLower(name)
		if ln, dup := accounts[key]; dup {
			s.lateAt(s.line("name"), "name", "module name %q is an account's name too (line %d): both name keyring entries; pick another", name, ln)
			continue
		}
		if ln, dup := first[key]; dup {
			s.lateAt(s.line("name"), "name", "duplicate [[module]] name %q (also on line %d; names ignore case)", name, ln)
			continue
		}
		first[key] = s.line("name")
		out = append(out, mod)
	}
	return out
}

// credentialKey is the key that set the account's credential source.
func (a Account) credentialKey() string {
	switch a.Credential.Source {
	case CredentialEnv:
		return "password_env"
	case CredentialCommand:
		return "password_command"
	case CredentialKeyring:
		return "password_keyring"
	}
	return ""
}

// checkTarget accepts a module's targets item: a host name, "*.domain" or
// an IP address, each with an optional ":port".
func checkTarget(t string) error {
	host := t
	if h, p, err := splitTarget(t); err == nil {
		host = h
		if p != 0 && (p < 1 || p > 65535) {
			return fmt.Errorf("invalid target %q: the port must be a number from 1 to 65535", t)
		}
	} else {
		return fmt.Errorf("invalid target %q: %v", t, err)
	}
	host = strings.TrimPrefix(host, "*.")
	if !validHost(host) || strings.Contains(host, "/") {
		return fmt.Errorf("invalid target %q: want a host name, *.domain or an IP address, with an optional :port", t)
	}
	return nil
}

// splitTarget splits HOST[:PORT] ([IPv6]:PORT in brackets).
func splitTarget(t string) (string, int, error) {
	h, p, err := ParseServer(strings.Replace(t, "*.", "wildcard-", 1))
	if err != nil {
		return "", 0, errors.New("want HOST or HOST:PORT")
	}
	if strings.HasPrefix(t, "*.") {
		h = "*." + strings.TrimPrefix(h, "wildcard-")
	}
	return h, p, nil
}
