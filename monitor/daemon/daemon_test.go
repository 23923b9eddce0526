package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/config"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/instance"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

// These tests run the whole daemon in-process — lock, history, engine, API
// on a Unix socket — against real SMTP servers on loopback.

const pwEnv = "SMTPWATCH_DAEMON_TEST_PW"

// runDir is a short directory for a socket (sun_path is 104 bytes on some
// systems), standing for one XDG_RUNTIME_DIR.
func runDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "swd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// setup writes a config with one account "a" on srv (trusting ca, the
// password from pwEnv, checked every interval) and returns its path and
// the options to start a daemon on it with the given socket.
func setup(t *testing.T, srv *smtptest.Server, ca *smtptest.CA, interval string) (string, func(socket string) Options) {
	t.Helper()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf(`state_dir = %q
[online]
targets = []
[[account]]
name = "a"
server = "127.0.0.1"
port = %d
security = "starttls"
username = "me@example.test"
password_env = %q
ca_file = %q
interval = %q
timeout = "10s"
failure_threshold = 0
`, filepath.Join(dir, "state"), srv.Port, pwEnv, caFile, interval)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, func(socket string) Options {
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return Options{ConfigPath: path, Config: cfg, Socket: socket, Version: "test"}
	}
}

// One daemon per state directory, whatever the socket: a second one with
// another runtime directory (as under ssh or cron, without
// XDG_RUNTIME_DIR) refuses to start, names the first's process, and
// leaves no socket behind; once the first stops, it starts.
func TestOneDaemonPerStateDir(t *testing.T) {
	ca := smtptest.NewCA(t, "Daemon Test CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{"me@example.test": "pw"}})
	t.Setenv(pwEnv, "pw")
	_, opts := setup(t, srv, ca, "1m")
	sock1 := filepath.Join(runDir(t), "smtpwatch.sock")
	sock2 := filepath.Join(runDir(t), "smtpwatch.sock")

	d1, err := Start(context.Background(), opts(sock1))
	if err != nil {
		t.Fatal(err)
	}
	defer d1.Stop()

	d2, err := Start(context.Background(), opts(sock2))
	var held *instance.HeldError
	if !errors.Is(err, instance.ErrHeld) || !errors.As(err, &held) || held.PID != os.Getpid() {
		if d2 != nil {
			d2.Stop()
		}
		t.Fatalf("second daemon: %v; want it refused, naming process %d", err, os.Getpid())
	}
	if !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Errorf("the message does not name the other process: %v", err)
	}
	if _, err := os.Lstat(sock2); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused daemon left its socket behind: %v", err)
	}
	c := api.NewClient(sock1)
	defer c.Close()
	if st, err := c.Status(context.Background()); err != nil || len(st.Accounts) != 1 {
		t.Fatalf("the first daemon after the second was refused: %+v, %v", st, err)
	}

	if err := d1.Stop(); err != nil {
		t.Fatal(err)
	}
	d3, err := Start(context.Background(), opts(sock2))
	if err != nil {
		t.Fatalf("after the first stopped: %v", err)
	}
	if err := d3.Stop(); err != nil {
		t.Fatal(err)
	}
	if log, err := os.ReadFile(d3.LogPath()); err != nil || strings.Count(string(log), "smtpwatch running") != 2 ||
		strings.Count(string(log), "smtpwatch stopped") != 2 {
		t.Errorf("the log should show two daemons, one after the other (%v):\n%s", err, log)
	}
}

// unixGet GETs path from the daemon's socket.
func unixGet(t *testing.T, socket, path string) string {
	t.Helper()
	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}}}
	defer cl.CloseIdleConnections()
	resp, err := cl.Get("http://smtpwatch" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v\n%s", path, resp.Status, err, b)
	}
	return string(b)
}

// metricValue reads one sample from the Prometheus text format; -1 when
// absent.
func metricValue(text, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// While the server holds a login verdict — a rejected password, or a
// temporary refusal backed off — the connection checks keep succeeding,
// and neither /v1/status nor /metrics may say the account works.
func TestHeldLoginVerdictIsNotWorking(t *testing.T) {
	ca := smtptest.NewCA(t, "Held Verdict CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	for _, c := range []struct {
		name  string
		opts  smtptest.Options
		cause probe.Cause
	}{
		{"rejected", smtptest.Options{Users: map[string]string{"me@example.test": "another"}}, probe.CauseAuthRejected},
		{"temporary", smtptest.Options{Users: map[string]string{"me@example.test": "pw"},
			AuthError: &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure"}},
			probe.CauseAuthTemporaryFailure},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Cert = &cert
			srv := smtptest.Start(t, c.opts)
			t.Setenv(pwEnv, "pw")
			_, opts := setup(t, srv, ca, "2s")
			sock := filepath.Join(runDir(t), "smtpwatch.sock")
			d, err := Start(context.Background(), opts(sock))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Stop()
			okSeries := `smtpwatch_probe_total{account="a",status="ok"}`
			deadline := time.Now().Add(20 * time.Second)
			for metricValue(unixGet(t, sock, "/metrics"), okSeries) < 2 {
				if time.Now().After(deadline) {
					t.Fatalf("no two successful connection checks within 20 s:\n%s", unixGet(t, sock, "/metrics"))
				}
				time.Sleep(200 * time.Millisecond) // bounded polling of the daemon
			}
			if n := srv.AuthAttempts.Load(); n != 1 {
				t.Errorf("%d AUTH attempts, want 1", n)
			}
			m := unixGet(t, sock, "/metrics")
			for state, want := range map[health.State]float64{health.Failing: 1, health.OK: 0, health.Degraded: 0} {
				if got := metricValue(m, fmt.Sprintf(`smtpwatch_account_state{account="a",state="%s"}`, state)); got != want {
					t.Errorf("account_state %s = %v, want %v", state, got, want)
				}
			}
			cl := api.NewClient(sock)
			defer cl.Close()
			st, err := cl.Status(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			a := st.Accounts[0]
			if st.State != health.Failing || a.State != health.Failing || a.Cause != c.cause || a.Last == nil ||
				a.Last.Cause != c.cause || a.Pending != "" {
				t.Errorf("status %+v / %+v: want failing with %s, explained by the login", st.State, a, c.cause)
			}
			if c.cause == probe.CauseAuthTemporaryFailure && a.AuthRetryAt.IsZero() {
				t.Errorf("no auth_retry_at in %+v", a)
			}
			raw := unixGet(t, sock, api.PathStatus)
			if c.cause == probe.CauseAuthTemporaryFailure && !strings.Contains(raw, `"auth_retry_at"`) {
				t.Errorf("/v1/status lacks auth_retry_at:\n%s", raw)
			}
		})
	}
}

// Stop ends the daemon within ShutdownLimit while a check is in flight,
// and removes the socket.
func TestStopIsBounded(t *testing.T) {
	ca := smtptest.NewCA(t, "Stop CA", "smtpwatch tests")
	silent := smtptest.Start(t, smtptest.Options{Handler: smtptest.Silent})
	t.Setenv(pwEnv, "pw")
	_, opts := setup(t, silent, ca, "1m")
	sock := filepath.Join(runDir(t), "smtpwatch.sock")
	d, err := Start(context.Background(), opts(sock))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for silent.Accepted.Load() == 0 {
		if time.Now().After(deadline) {
			d.Stop()
			t.Fatal("no check reached the server within 10 s")
		}
		time.Sleep(20 * time.Millisecond) // bounded: the first check comes at once
	}
	began := time.Now()
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > ShutdownLimit {
		t.Errorf("Stop took %v with a check in flight, want at most %v", took, ShutdownLimit)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket left behind: %v", err)
	}
	select {
	case <-d.Done():
	default:
		t.Error("Done is not closed after Stop")
	}
}
