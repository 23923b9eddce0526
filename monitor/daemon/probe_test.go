package daemon

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/smtptest"
)

const fleetEnv = "SMTPWATCH_DAEMON_TEST_FLEET_PW"

// probeDaemon runs a daemon with account "a" on srv, the metrics listener,
// and the modules "fleet" (logs in, to 127.0.0.1 only) and "open" (no
// login, any server). It returns the listener's base URL and what
// restarts the daemon on the same state.
func probeDaemon(t *testing.T, srv *smtptest.Server, ca *smtptest.CA, extra string) (string, func() *Daemon) {
	t.Helper()
	path, _ := setup(t, srv, ca, "1h")
	listen := smtptest.ClosedPort(t)
	dir := filepath.Dir(path)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("metrics_listen = %q\nmax_concurrency = 1\n", listen) + string(b) + fmt.Sprintf(`
[[module]]
name = "fleet"
security = "starttls"
username = "me@example.test"
password_env = %q
ca_file = %q
targets = ["127.0.0.1"]
timeout = "10s"

[[module]]
name = "open"
security = "starttls"
ca_file = %q
`, fleetEnv, filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.pem")) + extra
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() *Daemon {
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Start(context.Background(), Options{ConfigPath: path, Config: cfg, Socket: filepath.Join(runDir(t), "s.sock"), Version: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	return "http://" + listen, start
}

// scrape GETs a /probe URL as Prometheus does, with its scrape timeout
// header when timeout is not "".
func scrape(t *testing.T, u, timeout string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if timeout != "" {
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeout)
	}
	var resp *http.Response
	for i := 0; i < 50; i++ { // the listener starts with the daemon
		resp, err = http.DefaultClient.Do(req)
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// value is a sample's value in the text format, "" when absent.
func value(body, series string) string {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	if m := re.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// /probe?account= checks the account now through the engine and says so
// in the blackbox_exporter's manner.
func TestProbeAccount(t *testing.T) {
	ca := smtptest.NewCA(t, "Daemon Test CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{"me@example.test": "pw"}})
	t.Setenv(pwEnv, "pw")
	base, start := probeDaemon(t, srv, ca, "")
	d := start()
	defer d.Stop()

	before := srv.Accepted.Load()
	code, body := scrape(t, base+"/probe?account=a", "5")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	for series, want := range map[string]string{
		"smtpwatch_probe_success":                             "1",
		`smtpwatch_probe_cause{cause="ok",status="ok"}`:       "1",
		"smtpwatch_probe_auth_verified":                       "1",
		`smtpwatch_probe_tls_version_info{version="TLS 1.3"}`: "1",
	} {
		if got := value(body, series); got != want {
			t.Errorf("%s = %q, want %s\n%s", series, got, want, body)
		}
	}
	for _, s := range []string{"smtpwatch_probe_duration_seconds", `smtpwatch_probe_phase_duration_seconds{phase="tls"}`, "smtpwatch_probe_cert_expiry_timestamp_seconds"} {
		if value(body, s) == "" {
			t.Errorf("no %s:\n%s", s, body)
		}
	}
	if srv.Accepted.Load() <= before {
		t.Error("/probe did not check the server")
	}

	for _, tc := range []struct {
		query, header string
		code          int
		says          string
	}{
		{"", "", 400, "want account=NAME"},
		{"?account=nobody", "", 404, "unknown account"},
		{"?module=nobody&target=127.0.0.1", "", 404, "unknown module"},
		{"?account=a&module=open&target=127.0.0.1", "", 400, "not both"},
		{"?module=fleet&target=evil.example.com:587", "", 403, "does not list evil.example.com:587"},
		{"?module=open&target=bad%20host", "", 400, "bad target"},
		{"?account=a", "soon", 400, "not a number of seconds"},
		{"?account=a&x=1", "", 400, "unknown parameter"},
	} {
		code, body := scrape(t, base+"/probe"+tc.query, tc.header)
		if code != tc.code || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %s; want %d and %q", tc.query, code, body, tc.code, tc.says)
		}
	}
}

// A rejected password is never sent again through /probe: not for an
// account (the engine's lock holds), not for a module — also after a
// restart — until it changes.
func TestProbeNeverRetriesARejectedPassword(t *testing.T) {
	ca := smtptest.NewCA(t, "Daemon Test CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{"me@example.test": "pw"}})
	t.Setenv(pwEnv, "wrong")
	t.Setenv(fleetEnv, "wrong-too")
	base, start := probeDaemon(t, srv, ca, "")
	d := start()
	stopped := false
	defer func() {
		if !stopped {
			d.Stop()
		}
	}()

	// The account's first check logs in and is rejected.
	deadline := time.Now().Add(10 * time.Second)
	for srv.AuthAttempts.Load() < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := srv.AuthAttempts.Load(); n != 1 {
		t.Fatalf("%d logins at start, want 1", n)
	}
	for range 3 {
		code, body := scrape(t, base+"/probe?account=a", "5")
		if code != 200 || value(body, "smtpwatch_probe_success") != "0" || value(body, `smtpwatch_probe_cause{cause="auth_rejected",status="ok"}`) != "1" ||
			value(body, "smtpwatch_probe_logged_in") != "0" || value(body, "smtpwatch_probe_auth_verified") != "0" {
			t.Fatalf("/probe of a rejected account: %d\n%s", code, body)
		}
	}
	if n := srv.AuthAttempts.Load(); n != 1 {
		t.Fatalf("/probe?account sent the rejected password again: %d logins", n)
	}

	target := base + "/probe?module=fleet&target=" + srv.Addr
	code, body := scrape(t, target, "5")
	if code != 200 || value(body, `smtpwatch_probe_cause{cause="auth_rejected",status="failing"}`) != "1" || value(body, "smtpwatch_probe_logged_in") != "1" {
		t.Fatalf("first module probe: %d\n%s", code, body)
	}
	for range 3 {
		code, body = scrape(t, target, "5")
		if code != 200 || value(body, "smtpwatch_probe_success") != "0" || value(body, `smtpwatch_probe_cause{cause="auth_rejected",status="ok"}`) != "1" || value(body, "smtpwatch_probe_logged_in") != "0" {
			t.Fatalf("module probe after the rejection: %d\n%s", code, body)
		}
	}
	if n := srv.AuthAttempts.Load(); n != 2 {
		t.Fatalf("the module's rejected password was sent again: %d logins, want 2", n)
	}

	// After a restart, the fingerprint in the state dir still holds it back.
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	t.Setenv(pwEnv, "pw") // the account's password changed: it logs in
	d = start()
	stopped = false
	deadline = time.Now().Add(10 * time.Second)
	for srv.AuthAttempts.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	code, body = scrape(t, target, "5")
	if code != 200 || value(body, "smtpwatch_probe_success") != "0" || value(body, "smtpwatch_probe_logged_in") != "0" {
		t.Fatalf("module probe after a restart: %d\n%s", code, body)
	}
	if n := srv.AuthAttempts.Load(); n != 3 {
		t.Fatalf("%d logins after the restart, want 3 (the account's new password only)", n)
	}

	// A changed password is tried at once, and works.
	t.Setenv(fleetEnv, "pw")
	code, body = scrape(t, target, "5")
	if code != 200 || value(body, "smtpwatch_probe_success") != "1" || value(body, "smtpwatch_probe_auth_verified") != "1" || value(body, "smtpwatch_probe_logged_in") != "1" {
		t.Fatalf("module probe with the new password: %d\n%s", code, body)
	}
}

// /probe honours Prometheus's scrape timeout, and runs a bounded number of
// checks at once: a request that cannot start in time gets 503.
func TestProbeTimeoutAndConcurrency(t *testing.T) {
	ca := smtptest.NewCA(t, "Daemon Test CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{"me@example.test": "pw"}})
	t.Setenv(pwEnv, "pw")
	var slow []*smtptest.Server
	for range 4 {
		slow = append(slow, smtptest.Start(t, smtptest.Options{Handler: smtptest.Silent}))
	}
	base, start := probeDaemon(t, srv, ca, "")
	d := start()
	defer d.Stop()

	t0 := time.Now()
	code, body := scrape(t, base+"/probe?module=open&target="+slow[0].Addr, "1.5")
	if el := time.Since(t0); code != 200 || el > 1500*time.Millisecond {
		t.Fatalf("a 1.5 s scrape took %v: %d\n%s", el, code, body)
	}
	if value(body, "smtpwatch_probe_success") != "0" || value(body, `smtpwatch_probe_cause{cause="greeting_timeout",status="failing"}`) != "1" {
		t.Errorf("a server that never greets:\n%s", body)
	}

	// max_concurrency = 1: one module check runs at a time, two requests
	// may wait for it. A third request that cannot start its check within
	// its own 1.5 s scrape gets 503, not a late answer.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = scrape(t, base+"/probe?module=open&target="+slow[i+1].Addr, "4")
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); slow[1].Accepted.Load()+slow[2].Accepted.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no check started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t0 = time.Now()
	code, body = scrape(t, base+"/probe?module=open&target="+slow[3].Addr, "1.5")
	if el := time.Since(t0); code != http.StatusServiceUnavailable || el > 1500*time.Millisecond {
		t.Errorf("a probe that could not start: %d after %v\n%s", code, el, body)
	}
	if n := slow[3].Accepted.Load(); n != 0 {
		t.Errorf("the refused probe connected anyway (%d)", n)
	}
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Errorf("the two probes in hand: %v", codes)
	}
}

// During the back-off after a temporary login refusal (454), /probe does
// not log in either: Prometheus scraping often cannot hammer a throttled
// server.
func TestProbeWaitsOutTheBackoff(t *testing.T) {
	ca := smtptest.NewCA(t, "Daemon Test CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{"me@example.test": "pw"},
		AuthError: &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure"}})
	t.Setenv(pwEnv, "pw")
	base, start := probeDaemon(t, srv, ca, "")
	d := start()
	defer d.Stop()
	for deadline := time.Now().Add(10 * time.Second); srv.AuthAttempts.Load() < 1; {
		if time.Now().After(deadline) {
			t.Fatal("no login at start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for range 3 {
		code, body := scrape(t, base+"/probe?account=a", "5")
		if code != 200 || value(body, "smtpwatch_probe_success") != "0" || value(body, "smtpwatch_probe_logged_in") != "0" ||
			value(body, `smtpwatch_probe_cause{cause="auth_temporary_failure",status="ok"}`) != "1" {
			t.Fatalf("/probe during the back-off: %d\n%s", code, body)
		}
	}
	if n := srv.AuthAttempts.Load(); n != 1 {
		t.Errorf("%d logins, want 1: /probe logged in during the back-off", n)
	}
}
