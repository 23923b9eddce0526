package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/daemon"
	"smtpwatch/monitor/smtptest"
)

// `smtpwatch open` gets a one-time link from the running daemon (a real
// one, in process) and opens it in the browser, or prints it with
// --print-url; the link opens the dashboard once.
func TestOpenDashboard(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf("state_dir = %q\n[online]\ntargets = []\n[[account]]\nname = \"plain\"\nserver = \"127.0.0.1\"\nport = %d\nsecurity = \"none\"\ninterval = \"1m\"\n",
		filepath.Join(dir, "state"), srv.Port)
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	runDir, err := os.MkdirTemp("", "swo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runDir) })
	sock := filepath.Join(runDir, "smtpwatch.sock")
	d, err := daemon.Start(context.Background(), daemon.Options{ConfigPath: cfgPath, Config: cfg, Socket: sock, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()

	run := func(args ...string) (int, string, string, []string) {
		var out, errb bytes.Buffer
		var opened []string
		a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(string) string { return "" },
			logger: slog.New(slog.DiscardHandler), openURL: func(u string) error { opened = append(opened, u); return nil }}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		code := a.main(ctx, args)
		return code, out.String(), errb.String(), opened
	}
	code, _, stderr, opened := run("open", "--socket", sock)
	if code != 0 || len(opened) != 1 || !strings.HasPrefix(opened[0], "http://127.0.0.1:") || !strings.Contains(stderr, "Opened the dashboard") {
		t.Fatalf("open: exit %d, opened %q, stderr %q", code, opened, stderr)
	}
	code, stdout, _, opened2 := run("open", "--print-url", "--socket", sock)
	link := strings.TrimSpace(stdout)
	if code != 0 || len(opened2) != 0 || !strings.Contains(link, "/login?token=") || link == opened[0] {
		t.Fatalf("--print-url: exit %d, %q, opened %q", code, stdout, opened2)
	}

	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	get := func(u string) int {
		resp, err := browser.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if get(opened[0]) != 200 || get(strings.SplitN(opened[0], "/login", 2)[0]+"/account/plain") != 200 {
		t.Error("the link does not open the dashboard")
	}
	if get(opened[0]) != http.StatusForbidden {
		t.Error("the link opened the dashboard twice")
	}

	d.Stop()
	code, _, stderr, _ = run("open", "--socket", sock)
	if code != exitUnknown || !strings.Contains(stderr, "daemon is not running") {
		t.Errorf("no daemon: exit %d, %q", code, stderr)
	}
}
