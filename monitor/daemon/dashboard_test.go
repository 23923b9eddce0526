package daemon

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/smtptest"
)

// The daemon serves the dashboard on loopback and hands one-time links to
// it over its socket; after Stop nothing listens there any more. With
// ui = false there is none, and the socket says why.
func TestDashboardServed(t *testing.T) {
	ca := smtptest.NewCA(t, "Dashboard CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{"me@example.test": "pw"}})
	t.Setenv(pwEnv, "pw")
	path, opts := setup(t, srv, ca, "1m")
	sock := filepath.Join(runDir(t), "smtpwatch.sock")
	d, err := Start(context.Background(), opts(sock))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()

	c := api.NewClient(sock)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	link, err := c.DashboardURL(ctx)
	if err != nil || !strings.HasPrefix(link, "http://127.0.0.1:") || !strings.Contains(link, "/login?token=") {
		t.Fatalf("the link: %q, %v", link, err)
	}
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := browser.Get(link) // the session; net/http does not follow the page's Refresh
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	base := strings.SplitN(link, "/login", 2)[0]
	resp, err = browser.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `href="/account/a"`) || !strings.Contains(string(body), "/settings") {
		t.Fatalf("the overview: %s\n%s", resp.Status, body)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second); err == nil {
		conn.Close()
		t.Error("the dashboard still listens after Stop")
	}

	// ui = false: no listener, and the socket says why.
	text, _ := os.ReadFile(path)
	os.WriteFile(path, append([]byte("ui = false\n"), text...), 0o600)
	d2, err := Start(context.Background(), opts(sock))
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Stop()
	_, err = c.DashboardURL(ctx)
	var ae *api.Error
	if !errors.As(err, &ae) || ae.StatusCode != 404 || !strings.Contains(ae.Message, "ui = false in "+path) {
		t.Errorf("with ui = false: %v", err)
	}
	if _, err := d2.DashboardURL(); !errors.Is(err, api.ErrNoDashboard) {
		t.Errorf("DashboardURL with ui = false: %v", err)
	}
}

// ui_listen fixes the port; a port already taken leaves the daemon
// watching without a dashboard, and says so.
func TestDashboardFixedPort(t *testing.T) {
	ca := smtptest.NewCA(t, "Dashboard CA", "smtpwatch tests")
	srv := smtptest.Start(t, smtptest.Options{})
	t.Setenv(pwEnv, "pw")
	path, opts := setup(t, srv, ca, "1m")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	text, _ := os.ReadFile(path)
	os.WriteFile(path, append([]byte("ui_listen = \""+taken.Addr().String()+"\"\n"), text...), 0o600)
	sock := filepath.Join(runDir(t), "smtpwatch.sock")
	d, err := Start(context.Background(), opts(sock))
	if err != nil {
		t.Fatalf("a taken dashboard port stopped the daemon: %v", err)
	}
	_, err = d.DashboardURL()
	d.Stop()
	if !errors.Is(err, api.ErrNoDashboard) || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("a taken port: %v", err)
	}
	if log, _ := os.ReadFile(d.LogPath()); !strings.Contains(string(log), "the dashboard is not served") {
		t.Errorf("the log does not say so:\n%s", log)
	}

	port := taken.Addr().(*net.TCPAddr).Port
	taken.Close()
	d, err = Start(context.Background(), opts(sock))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	link, err := d.DashboardURL()
	if err != nil || !strings.HasPrefix(link, "http://"+taken.Addr().String()+"/login?token=") {
		t.Errorf("ui_listen port %d: %q, %v", port, link, err)
	}
}
