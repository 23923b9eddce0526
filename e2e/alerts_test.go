package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/api"
)

// mailAlertConfig writes a config with an e-mail [[notify]] channel "mail"
// through the e2e Postfix (STARTTLS on 10587, as the e2e user), its URL
// read by url_command from a 0600 file, for the recipient rcpt; accounts
// is appended as written. It returns the config's path and its directory.
func mailAlertConfig(t *testing.T, e *env, rcpt, accounts string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	u := url.URL{
		Scheme: "smtp", User: url.UserPassword(e.User, e.Password), Host: e.Addr(t, "STARTTLS"), Path: "/",
		RawQuery: url.Values{"from": {"smtpwatch-alerts@example.test"}, "to": {rcpt}, "subject": {"smtpwatch"}}.Encode(),
	}
	urlFile := filepath.Join(dir, "mail-url")
	if err := os.WriteFile(urlFile, []byte(u.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf("state_dir = %q\n\n[online]\ntargets = []\n%s\n[[notify]]\nname = \"mail\"\nurl_command = %q\n",
		filepath.Join(dir, "state"), accounts, "cat "+urlFile)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, dir
}

// postfixDelivered waits (at most bound) until Postfix's log shows a
// message for rcpt accepted from the e2e user and delivered (to discard).
func postfixDelivered(t *testing.T, e *env, rcpt string, bound time.Duration) {
	t.Helper()
	sent := regexp.MustCompile(`to=<` + regexp.QuoteMeta(rcpt) + `>.*status=sent`)
	deadline := time.Now().Add(bound)
	for {
		b, err := os.ReadFile(e.Log)
		if err != nil {
			t.Fatal(err)
		}
		if sent.Match(b) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Postfix delivered nothing to %s within %v; its log ends:\n%s", rcpt, bound, tail(string(b), 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// uniqueRcpt is a recipient no other test uses, to find in Postfix's log.
func uniqueRcpt(t *testing.T) string {
	return fmt.Sprintf("admin-%d-%s@example.org", time.Now().UnixNano(), strings.ToLower(regexp.MustCompile(`\W`).ReplaceAllString(t.Name(), "")))
}

// E-mail alerts through a real Postfix: `smtpwatch notify test` sends one
// and says so; a daemon whose account fails sends the alert by e-mail;
// the URL's password shows in no output; and a channel that would send
// through the server of a watched account is refused, with the file, the
// line and the key.
func TestMailAlerts(t *testing.T) {
	e := needEnv(t)

	rcpt := uniqueRcpt(t)
	cfg, _ := mailAlertConfig(t, e, rcpt, "")
	r := smtpwatch(t, e, "", nil, "notify", "test", "--config", cfg)
	if r.Exit != 0 || !strings.HasPrefix(r.Stdout, "✓ mail (url): delivered in ") {
		t.Fatalf("notify test:\n%s", r)
	}
	postfixDelivered(t, e, rcpt, 15*time.Second)
	if strings.Contains(r.Stdout+r.Stderr, e.Password) {
		t.Errorf("the password shows:\n%s", r)
	}

	// The daemon: an account on a loopback address where nothing listens
	// fails at its first check; the alert goes out by e-mail.
	rcpt = uniqueRcpt(t) + "x"
	cfg, dir := mailAlertConfig(t, e, rcpt, `
[[account]]
name = "down"
server = "127.0.0.2"
port = 10599
security = "starttls"
interval = "1h"
timeout = "5s"
failure_threshold = 0
`)
	files := daemonFiles{config: cfg, stateDir: filepath.Join(dir, "state")}
	files.runDir, _ = os.MkdirTemp("", "swd-")
	t.Cleanup(func() { os.RemoveAll(files.runDir) })
	files.socket = filepath.Join(files.runDir, "smtpwatch.sock")
	start := time.Now()
	d := startDaemon(t, e, files)
	postfixDelivered(t, e, rcpt, 20*time.Second)
	t.Logf("the alert reached Postfix %v after the daemon started", time.Since(start).Round(10*time.Millisecond))
	c := api.NewClient(files.socket)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil || len(st.Channels) != 1 || st.Channels[0].Sent != 1 || st.Channels[0].Failing {
		t.Errorf("channels: %+v %v", st.Channels, err)
	}
	d.signal(t, 15, 5*time.Second)
	logb, _ := os.ReadFile(filepath.Join(files.stateDir, "smtpwatch.log"))
	if strings.Contains(d.out.String()+string(logb), e.Password) || strings.Contains(string(logb), url.QueryEscape(e.User)+":") {
		t.Errorf("the URL's password shows in the daemon's output or log")
	}

	// Alerts through the server of a watched account are refused: at load
	// for a url in the file...
	port := strconv.Itoa(e.Port(t, "STARTTLS"))
	bad := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(bad, []byte(`[[account]]
name = "office"
server = "127.0.0.1"
port = `+port+`

[[notify]]
name = "mail"
url = "smtp://127.0.0.1:`+port+`/?from=a@example.test&to=b@example.org"
`), 0o600)
	r = smtpwatch(t, e, "", nil, "notify", "test", "--config", bad)
	want := bad + `:8: notify "mail": url: sends e-mail through 127.0.0.1, the server of account "office" (line 1): an alert about that server would fail with it; send alerts through another server`
	if r.Exit != 3 || !strings.Contains(r.Stderr, want) {
		t.Errorf("a url through the watched server:\n%s\nwant: %s", r, want)
	}
	// ...and when it is read, for a url_command.
	cfg, _ = mailAlertConfig(t, e, uniqueRcpt(t), `
[[account]]
name = "office"
server = "127.0.0.1"
port = `+port+"\n")
	r = smtpwatch(t, e, "", nil, "notify", "test", "--config", cfg)
	if r.Exit != 2 || !strings.Contains(r.Stdout, `notify "mail": url_command: sends e-mail through 127.0.0.1, the server of account "office"`) ||
		strings.Contains(r.Stdout+r.Stderr, e.Password) {
		t.Errorf("a url_command through the watched server:\n%s", r)
	}
}
