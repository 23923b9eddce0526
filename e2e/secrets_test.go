package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"smtpwatch/monitor/smtptest"
)

// quotingServer is a hostile submission server on loopback: STARTTLS with
// a certificate the test CA signed, AUTH PLAIN and LOGIN offered, and every
// AUTH answered with a 535 that quotes the credential back — the password
// in clear, the whole AUTH PLAIN blob, and the truncated prefix of it that
// real servers print ("AHVAeAB...").
func quotingServer(t *testing.T, e *env) *smtptest.Server {
	t.Helper()
	dir := filepath.Dir(e.CA)
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "good.pem"), filepath.Join(dir, "good-key.pem"))
	if err != nil {
		t.Fatalf("the e2e certificates: %v (rerun scripts/postfix-e2e)", err)
	}
	blob := base64.StdEncoding.EncodeToString([]byte("\x00" + e.User + "\x00" + e.Password))
	return smtptest.Start(t, smtptest.Options{
		Cert:  &cert,
		Users: map[string]string{e.User: "something else"},
		AuthError: &smtp.SMTPError{
			Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
			Message: fmt.Sprintf("Authentication failed for %s (%s...) (password=%s) login=%s",
				blob, blob[:7], e.Password, base64.StdEncoding.EncodeToString([]byte(e.Password))),
		},
	})
}

// leaks returns the forms of the secret found in out, by name.
func leaks(forms map[string]string, out string) []string {
	var found []string
	for name, s := range forms {
		if strings.Contains(out, s) {
			found = append(found, name)
		}
	}
	return found
}

// TestQuotedSecretNeverShown: a server that quotes the password back in its
// refusal must not get it — in clear or in any base64 form — into any output
// or stored file: the text report, --json, the Nagios line, the daemon's
// /v1/status, /v1/events, `status` and `status --json`, `history` and
// `history --json`, the dashboard's pages (overview, the account's report
// and history, the settings), the SQLite history (database and WAL), and
// the logs.
func TestQuotedSecretNeverShown(t *testing.T) {
	e := needEnv(t)
	srv := quotingServer(t, e)
	forms := secretForms(e.User, e.Password)
	// The truncated quote and the LOGIN form come from the server too.
	forms["the password's base64 prefix"] = base64.StdEncoding.EncodeToString([]byte(e.Password))[:12]

	t.Run("check", func(t *testing.T) {
		for _, format := range [][]string{{}, {"--json"}, {"--format", "nagios"}} {
			args := append([]string{"check", "--server", srv.Addr, "--security", "starttls",
				"--username", e.User, "--timeout", "10s", "--online-targets", "none", "--alternatives", "none"}, format...)
			r := smtpwatch(t, e, e.Password, nil, args...)
			if r.Exit != exitFailing {
				t.Errorf("%v: exit %d, want %d (password rejected)\n%s", format, r.Exit, exitFailing, r)
			}
			if !strings.Contains(r.Stdout, "535") {
				t.Errorf("%v: the report does not show the server's refusal:\n%s", format, r.Stdout)
			}
			if found := leaks(forms, r.Stdout+r.Stderr); len(found) > 0 {
				t.Errorf("%v: the output holds %v", format, found)
			}
		}
	})

	t.Run("daemon", func(t *testing.T) {
		files := writeDaemonConfig(t, e, onlineTarget(t), daemonAccount{
			name: "quoted", addr: srv.Addr, security: "starttls", interval: 2 * time.Second, timeout: 10 * time.Second,
		})
		d := startDaemon(t, e, files)
		events := followEvents(t, files.socket)

		d.waitStatus(t, e, "the rejection", time.Now(), 30*time.Second, accountIs("quoted", "failing", "auth_rejected"))
		// Let the event and the results reach history and the stream.
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(events.String(), "auth_rejected") && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond) // bounded polling of another process
		}
		if !strings.Contains(events.String(), "auth_rejected") {
			t.Errorf("/v1/events carried no auth_rejected event:\n%s", events.String())
		}

		outputs := map[string]string{
			"/v1/events":        events.String(),
			"/v1/status":        rawGet(t, files.socket, "/v1/status"),
			"/metrics":          rawGet(t, files.socket, "/metrics"),
			"the daemon output": d.out.String(),
		}
		for name, args := range map[string][]string{
			"status":         {"status", "--socket", files.socket},
			"status --json":  {"status", "--json", "--socket", files.socket},
			"history":        {"history", "--state-dir", files.stateDir, "--since", "1h"},
			"history --json": {"history", "--json", "--state-dir", files.stateDir, "--since", "1h"},
		} {
			r := smtpwatch(t, e, "", nil, args...)
			outputs[name] = r.Stdout + r.Stderr
		}
		if !strings.Contains(outputs["status --json"], "535") {
			t.Errorf("status --json does not show the refusal:\n%s", outputs["status --json"])
		}
		for path, page := range dashboardPages(t, e, files.socket, "/", "/account/quoted", "/settings", "/settings/account/quoted") {
			outputs["the dashboard's "+path] = page
		}
		if !strings.Contains(outputs["the dashboard's /account/quoted"], "535") {
			t.Errorf("the dashboard's account page does not show the refusal:\n%s", outputs["the dashboard's /account/quoted"])
		}
		d.signal(t, 15, 10*time.Second) // SIGTERM: history is closed and checkpointed
		files2, _ := filepath.Glob(filepath.Join(files.stateDir, "*"))
		for _, f := range files2 {
			b, err := os.ReadFile(f)
			if err != nil {
				continue // a socket or a directory
			}
			outputs["the file "+filepath.Base(f)] = string(b)
		}
		if _, ok := outputs["the file history.db"]; !ok {
			t.Errorf("no history.db in %s: %v", files.stateDir, files2)
		}
		for name, out := range outputs {
			if found := leaks(forms, out); len(found) > 0 {
				t.Errorf("%s holds %v", name, found)
			}
		}
	})
}

// dashboardPages signs in to the daemon's dashboard with a link from
// `smtpwatch open --print-url` and returns the pages at paths, as a
// browser gets them.
func dashboardPages(t *testing.T, e *env, socket string, paths ...string) map[string]string {
	t.Helper()
	r := smtpwatch(t, e, "", nil, "open", "--print-url", "--socket", socket)
	link := strings.TrimSpace(r.Stdout)
	if r.Exit != exitOK || !strings.HasPrefix(link, "http://127.0.0.1:") {
		t.Fatalf("open --print-url:\n%s", r)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	get := func(u string) string {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s\n%s", u, resp.Status, b)
		}
		return string(b)
	}
	get(link)
	base := strings.SplitN(link, "/login", 2)[0]
	pages := map[string]string{}
	for _, p := range paths {
		pages[p] = get(base + p)
	}
	return pages
}

// rawGet fetches path from the daemon's API socket and returns the body as
// it came.
func rawGet(t *testing.T, socket, path string) string {
	t.Helper()
	c := unixHTTP(socket)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://smtpwatch"+path, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
}

func unixHTTP(socket string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
}

// followEvents reads the daemon's event stream, as it comes, until the test
// ends.
func followEvents(t *testing.T, socket string) *syncBuffer {
	t.Helper()
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://smtpwatch/v1/events", nil)
	resp, err := unixHTTP(socket).Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET /v1/events: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
		}
	}()
	t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		wg.Wait()
	})
	return out
}
