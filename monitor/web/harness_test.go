package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/engine"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/history"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

// The tests run the dashboard on a real loopback listener in front of the
// real engine, which checks real SMTP servers (smtptest) on loopback and
// records into a real history database. Nothing is faked but the tray's
// icons (monitor may not import icons/).

const (
	pwEnv = "SMTPWATCH_WEB_TEST_PW"
	user  = "me@example.test"
	pass  = "right"
)

type bed struct {
	t       testing.TB
	ctx     context.Context
	dir     string
	cfgPath string
	ca      *smtptest.CA
	caFile  string
	smtp    *smtptest.Server
	eng     *countingEngine
	store   *history.Store
	srv     *Server
	base    string // http://127.0.0.1:PORT
	now     atomic.Pointer[time.Time]
}

// countingEngine is the real engine, counting the checks and pauses the
// pages ask for, so that a test can tell that a refused request did
// nothing.
type countingEngine struct {
	*engine.Engine
	checks, pauses atomic.Int64
}

func (e *countingEngine) Check(ctx context.Context, account string) ([]probe.Result, error) {
	e.checks.Add(1)
	return e.Engine.Check(ctx, account)
}

func (e *countingEngine) Pause(account string, until time.Time) error {
	e.pauses.Add(1)
	return e.Engine.Pause(account, until)
}

const configText = `# smtpwatch test config, written by hand
state_dir = %q

[online]
targets = []

# the first account
[[account]]
name = "alpha"
server = "127.0.0.1"
port = %d   # the test server
security = "starttls"
username = %q
password_env = %q
ca_file = %q
interval = "2s"
timeout = "10s"
failure_threshold = 0

[[account]]
name = "beta"
server = "127.0.0.1"
port = %d
security = "starttls"
ca_file = %q
interval = "1m"
`

type bedOptions struct {
	mutate func(*Options)
}

func newBed(t testing.TB, bo ...bedOptions) *bed {
	t.Helper()
	b := &bed{t: t, dir: t.TempDir()}
	b.ca = smtptest.NewCA(t, "Web Test CA", "smtpwatch tests")
	cert := b.ca.Issue(t, smtptest.Leaf{})
	b.smtp = smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{user: pass}})
	t.Setenv(pwEnv, pass)
	b.caFile = filepath.Join(b.dir, "ca.pem")
	if err := os.WriteFile(b.caFile, b.ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	b.cfgPath = filepath.Join(b.dir, "config.toml")
	text := fmt.Sprintf(configText, filepath.Join(b.dir, "state"), b.smtp.Port, user, pwEnv, b.caFile, b.smtp.Port, b.caFile)
	if err := os.WriteFile(b.cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(b.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.ctx = ctx
	b.store, err = history.Open(ctx, filepath.Join(b.dir, "state", "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Config: cfg, Store: b.store, Deps: probe.Deps{OnlineTargets: []string{}}})
	if err != nil {
		t.Fatal(err)
	}
	b.eng = &countingEngine{Engine: eng}
	engDone := make(chan struct{})
	go func() { defer close(engDone); _ = eng.Run(ctx) }()

	o := Options{
		Engine: b.eng, History: b.store, ConfigPath: b.cfgPath,
		Reload: func() {
			if c, err := config.Load(b.cfgPath); err == nil {
				eng.Reload(c)
			}
		},
		Icon:   func(state string) []byte { return []byte("\x89PNG " + state) },
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, x := range bo {
		if x.mutate != nil {
			x.mutate(&o)
		}
	}
	b.srv, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveDone := make(chan error, 1)
	go func() { serveDone <- b.srv.Serve(ctx, ln) }()
	b.base = "http://" + ln.Addr().String()
	deadline := time.Now().Add(5 * time.Second)
	for b.srv.Addr().Port() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the dashboard did not start serving")
		}
		time.Sleep(time.Millisecond) // bounded: Serve records the address first
	}
	t.Cleanup(func() {
		cancel()
		if err := <-serveDone; err != nil {
			t.Errorf("Serve: %v", err)
		}
		<-engDone
		b.store.Close()
	})
	return b
}

// client is a browser without a session: cookies kept, redirects not
// followed (the tests look at them).
func (b *bed) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login is a browser that opened a fresh login link.
func (b *bed) login() *http.Client {
	b.t.Helper()
	c := b.client()
	u, err := b.srv.LoginURL()
	if err != nil {
		b.t.Fatal(err)
	}
	resp, err := c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("login: %s", resp.Status)
	}
	return c
}

type response struct {
	code int
	body string
	hdr  http.Header
}

func (b *bed) do(c *http.Client, method, path string, form url.Values, hdr map[string]string) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		if k == "Host" {
			// The cookie goes too, as the worst case: a browser keeps
			// cookies by host name, and Go's client by req.Host.
			req.Host = v
			if c.Jar != nil {
				for _, ck := range c.Jar.Cookies(req.URL) {
					req.Header.Add("Cookie", ck.String())
				}
			}
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(raw), resp.Header}
}

func (b *bed) get(c *http.Client, path string) response { return b.do(c, "GET", path, nil, nil) }

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token the pages give this browser.
func (b *bed) csrf(c *http.Client) string {
	b.t.Helper()
	r := b.get(c, "/")
	m := csrfField.FindStringSubmatch(r.body)
	if r.code != 200 || m == nil {
		b.t.Fatalf("no CSRF token on the overview (%d):\n%s", r.code, r.body)
	}
	return m[1]
}

func (b *bed) post(c *http.Client, path string, form url.Values) response {
	b.t.Helper()
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf(c))
	}
	return b.do(c, "POST", path, form, nil)
}

// waitState waits until the engine says the account is in state.
func (b *bed) waitState(name string, state health.State, within time.Duration) health.AccountStatus {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := b.eng.Status()
		if a, _, ok := findStatus(st, name); ok && a.State == state {
			return a
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s not %s within %v: %+v", name, state, within, st)
		}
		time.Sleep(20 * time.Millisecond) // bounded polling of the engine
	}
}

func (b *bed) readConfig() string {
	b.t.Helper()
	data, err := os.ReadFile(b.cfgPath)
	if err != nil {
		b.t.Fatal(err)
	}
	return string(data)
}
