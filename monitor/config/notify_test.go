package config

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

const watchedAccount = `[[account]]
name = "charter"
server = "smtp.charter.net"
username = "me@charter.net"
password_env = "CHARTER_PW"

`

// TestNotifyAndModuleErrors: every mistake in a [[notify]] or [[module]]
// table is named by file, line, table and key, byte for byte.
func TestNotifyAndModuleErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"no name", `[[notify]]
url = "ntfy://ntfy.example.org/x"
`, `c.toml:1: notify #1: name: missing: every [[notify]] needs a name, like name = "ntfy"`},
		{"no url", `[[notify]]
name = "phone"
`, `c.toml:1: notify "phone": url: missing: set url = "ntfy://..." (or url_env, url_command, url_keyring), or webhook = "https://..."`},
		{"two sources", `[[notify]]
name = "phone"
url = "ntfy://ntfy.example.org/x"
url_env = "X"
`, `c.toml:4: notify "phone": url_env: only one of url, url_env, url_command, url_keyring and webhook may be set, but url is also set (line 3)`},
		{"unknown service", `[[notify]]
name = "phone"
url = "ntfyy://ntfy.example.org/x"
`, `c.toml:3: notify "phone": url: unknown service "ntfyy": want one of shoutrrr's (ntfy, gotify, slack, teams, telegram, matrix, discord, pushover, smtp, generic...)`},
		{"password in the file", `[[notify]]
name = "mail"
url = "smtp://me:S3cret-pw@mail.example.org:587/?from=a@example.org&to=b@example.org"
`, `c.toml:3: notify "mail": url: the URL holds a password: passwords are not stored in the config; put the URL in url_env, url_command or url_keyring`},
		{"not a url", `[[notify]]
name = "phone"
url = "tok3n-without-scheme"
`, `c.toml:3: notify "phone": url: not a service URL: want SERVICE://..., like ntfy://ntfy.example.org/alerts (the value is not shown: it may hold a token)`},
		{"mail through the watched server", watchedAccount + `[[notify]]
name = "mail"
url = "smtp://SMTP.Charter.NET.:25/?from=a@example.org&to=b@example.org"
`, `c.toml:9: notify "mail": url: sends e-mail through SMTP.Charter.NET., the server of account "charter" (line 1): an alert about that server would fail with it; send alerts through another server`},
		{"unknown account", watchedAccount + `[[notify]]
name = "phone"
url = "ntfy://ntfy.example.org/x"
accounts = ["charter", "work"]
`, `c.toml:10: notify "phone": accounts: no account named "work" (accounts: charter)`},
		{"unknown topic", `[[notify]]
name = "phone"
url = "ntfy://ntfy.example.org/x"
on = ["failing", "down"]
`, `c.toml:4: notify "phone": on: unknown topic "down": want some of failing, offline, recovered, expiring, sign_in_required, config_error`},
		{"webhook over http elsewhere", `[[notify]]
name = "hook"
webhook = "http://hooks.example.org/x"
`, `c.toml:3: notify "hook": webhook: http:// only to this machine (127.0.0.1, ::1, localhost): use https://`},
		{"secret without webhook", `[[notify]]
name = "phone"
url = "ntfy://ntfy.example.org/x"
webhook_secret_env = "S"
`, `c.toml:4: notify "phone": webhook_secret_env: set webhook = "https://..." too: the secret signs what smtpwatch posts to a webhook`},
		{"unknown key", `[[notify]]
name = "phone"
urll = "ntfy://ntfy.example.org/x"
`, `c.toml:3: notify "phone": urll: unknown key; did you mean "url"?`},
		{"duplicate", `[[notify]]
name = "phone"
url = "ntfy://ntfy.example.org/x"
[[notify]]
name = "Phone"
url = "ntfy://ntfy.example.org/y"
`, `c.toml:5: notify "Phone": name: duplicate [[notify]] name "Phone" (also on line 2; names ignore case)`},
		{"single brackets", `[notify]
name = "phone"
`, `c.toml:1: notify: want [[notify]] with double brackets, one per table; got [notify]`},
		{"module logs in anywhere", `[[module]]
name = "fleet"
username = "mon@example.org"
password_env = "FLEET_PW"
`, `c.toml:4: module "fleet": password_env: set targets = ["smtp.example.org", "*.example.org"] too: a module that logs in checks only the servers it lists, or /probe would send its password to any server a request names`},
		{"module server key", `[[module]]
name = "fleet"
server = "smtp.example.org"
`, `c.toml:3: module "fleet": server: a module has no server: each request names the server (/probe?target=HOST:PORT&module=fleet)`},
		{"module bad target", `[[module]]
name = "fleet"
targets = ["smtp example org"]
`, `c.toml:3: module "fleet": targets: invalid target "smtp example org": want HOST or HOST:PORT`},
		{"module named like an account", watchedAccount + `[[module]]
name = "Charter"
`, `c.toml:8: module "Charter": name: module name "Charter" is an account's name too (line 1): both name keyring entries; pick another`},
		{"module bad security", `[[module]]
name = "fleet"
security = "ssl3"
`, `c.toml:3: module "fleet": security: unknown security "ssl3": want starttls, tls, none or auto`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.toml", []byte(tc.file))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse = %v, want an *Error", err)
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "S3cret-pw") {
				t.Errorf("the error shows the password: %s", err)
			}
		})
	}
}

func TestNotifyAndModuleParse(t *testing.T) {
	c, err := Parse("c.toml", []byte(watchedAccount+`[[notify]]
name = "phone"
url = "ntfy://ntfy.example.org/alerts"
accounts = ["Charter"]
on = ["failing", "sign_in_required"]

[[notify]]
name = "hook"
webhook = "http://127.0.0.1:8080/hook"
webhook_secret_env = "HOOK_SECRET"

[[notify]]
name = "mail"
url_env = "MAIL_URL"

[[module]]
name = "fleet"
security = "tls"
username = "mon@example.org"
password_command = "echo pw"
targets = ["*.example.org", "[2001:db8::25]:465", "mx.example.net:587"]
timeout = "10s"
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Notify) != 3 || len(c.Modules) != 1 {
		t.Fatalf("notify %d, modules %d", len(c.Notify), len(c.Modules))
	}
	ph := c.Notify[0]
	if ph.Name != "phone" || ph.Kind != "ntfy" || ph.URL.Reveal() != "ntfy://ntfy.example.org/alerts" || !slices.Equal(ph.Accounts, []string{"Charter"}) ||
		!slices.Equal(ph.On, []health.Topic{health.TopicFailing, health.TopicSignIn}) || ph.Line != 7 || ph.URLLine != 9 {
		t.Errorf("phone: %+v", ph)
	}
	if s := ph.URL.String(); s != "[redacted]" {
		t.Errorf("the URL prints as %q", s)
	}
	hook := c.Notify[1]
	if hook.Webhook != "http://127.0.0.1:8080/hook" || hook.Kind != "webhook" || hook.WebhookSecret.Source != CredentialEnv || hook.Accounts != nil || hook.On != nil {
		t.Errorf("hook: %+v", hook)
	}
	t.Setenv("HOOK_SECRET", "k3y")
	if k, err := hook.WebhookKey(context.Background()); err != nil || k.Reveal() != "k3y" {
		t.Errorf("WebhookKey = %v, %v", k, err)
	}

	// A URL from the environment is checked when it is read: e-mail alerts
	// through the watched server are refused then, at the key that names it.
	mail := c.Notify[2]
	t.Setenv("MAIL_URL", "smtp://alerts:pw@smtp.charter.net:587/?from=a@example.org&to=b@example.org")
	_, err = mail.NotifyURL(context.Background())
	if err == nil || err.Error() != `c.toml:20: notify "mail": url_env: sends e-mail through smtp.charter.net, the server of account "charter" (line 1): an alert about that server would fail with it; send alerts through another server` {
		t.Errorf("NotifyURL of a watched server: %v", err)
	}
	t.Setenv("MAIL_URL", "smtp://alerts:pw@mail.example.org:587/?from=a@example.org&to=b@example.org")
	if u, err := mail.NotifyURL(context.Background()); err != nil || !strings.HasPrefix(u.Reveal(), "smtp://alerts:pw@mail.example.org") {
		t.Errorf("NotifyURL = %v", err)
	}
	t.Setenv("MAIL_URL", "")
	if _, err := mail.NotifyURL(context.Background()); err == nil || err.Error() != `c.toml:20: notify "mail": url_env: environment variable MAIL_URL is empty` {
		t.Errorf("NotifyURL of an empty variable: %v", err)
	}

	m := c.Modules[0]
	if m.Name != "fleet" || m.Account.Security != probe.SecurityTLS || m.Account.Username != "mon@example.org" ||
		m.Account.Credential.Source != CredentialCommand || m.Account.Timeout.Seconds() != 10 {
		t.Errorf("module: %+v", m)
	}
	for _, tc := range []struct {
		host string
		port int
		want bool
	}{
		{"smtp.example.org", 0, true}, {"SMTP.EXAMPLE.ORG.", 465, true}, {"example.org", 465, false},
		{"2001:db8::25", 465, true}, {"2001:db8::25", 587, false}, {"mx.example.net", 587, true},
		{"mx.example.net", 0, false}, {"evil.example.com", 465, false}, {"example.org.evil.com", 465, false},
	} {
		if got := m.Allows(tc.host, tc.port); got != tc.want {
			t.Errorf("Allows(%q, %d) = %v, want %v", tc.host, tc.port, got, tc.want)
		}
	}
	a := m.For("smtp.example.org", 0)
	if a.Server != "smtp.example.org" || a.Port != 465 || a.Name != "fleet" {
		t.Errorf("For: %+v", a)
	}
}
