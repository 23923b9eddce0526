package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/history"
	"smtpwatch/monitor/smtptest"
)

// eventually polls cond until it holds or the bound passes.
func eventually(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, bound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// smtpwatch run, in-process and headless: the real engine, API and history
// against a real SMTP server; the config reloads on save, a broken config
// is an event and the last good one stays; cancelling stops it cleanly.
func TestRunDaemon(t *testing.T) {
	tb := newTestbed(t)
	t.Setenv("SMTPWATCH_RUN_TEST_PW", testPass)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.toml")
	sock := filepath.Join(dir, "run", "smtpwatch.sock")
	stateDir := filepath.Join(dir, "state")
	host, port, _ := net.SplitHostPort(tb.srv.Addr)
	good := fmt.Sprintf(`state_dir = %q
[online]
targets = [%q]
[defaults]
interval = "2s"
[[account]]
name = "local"
server = %q
port = %s
security = "starttls"
username = %q
password_env = "SMTPWATCH_RUN_TEST_PW"
ca_file = %q
`, stateDir, tb.online, host, port, testUser, tb.caFile)
	write := func(s string) {
		t.Helper()
		tmp := cfgPath + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cfgPath); err != nil { // as editors save
			t.Fatal(err)
		}
	}
	write(good)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &cli{env: map[string]string{}, ctx: ctx}
	exited := make(chan int, 1)
	go func() {
		exited <- c.run(t, "run", "--config", cfgPath, "--headless", "--socket", sock, "--log-level", "debug")
	}()

	client := api.NewClient(sock)
	defer client.Close()
	status := func() health.Status {
		qctx, qcancel := context.WithTimeout(context.Background(), time.Second)
		defer qcancel()
		st, _ := client.Status(qctx)
		return st
	}
	eventually(t, 10*time.Second, "the account is ok", func() bool {
		st := status()
		return len(st.Accounts) == 1 && st.Accounts[0].State == health.OK
	})
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %v %v: want mode 0600", fi, err)
	}
	ectx, ecancel := context.WithCancel(context.Background())
	defer ecancel()
	events, err := client.Events(ectx)
	if err != nil {
		t.Fatal(err)
	}

	// A broken config: an event naming the file, line and key; the account
	// keeps being watched.
	write(good + "\n[[account]]\nname = \"bad\"\nserver = \"x.example.test\"\nsecurity = \"ssl3\"\n")
	var ev health.Event
	select {
	case ev = <-events:
	case <-time.After(5 * time.Second):
		t.Fatal("no event for a broken config")
	}
	if ev.Kind != health.EventConfigError || !strings.Contains(ev.Message, cfgPath+":") || !strings.Contains(ev.Message, "security") {
		t.Fatalf("event %+v: want config_error naming the file, line and key", ev)
	}
	if st := status(); len(st.Accounts) != 1 || st.Accounts[0].State != health.OK {
		t.Fatalf("after a broken config: %+v, want the last good config running", st)
	}

	// A good config with a second account that cannot connect: it is
	// picked up and fails (failure_threshold 0: at the first failure).
	write(good + fmt.Sprintf("\n[[account]]\nname = \"closed\"\nserver = \"127.0.0.1\"\nport = %d\nsecurity = \"tls\"\nfailure_threshold = 0\n",
		smtptest.Port(t, smtptest.ClosedPort(t))))
	eventually(t, 10*time.Second, "the new account fails", func() bool {
		st := status()
		return len(st.Accounts) == 2 && st.Accounts[1].State == health.Failing && st.Accounts[1].Cause == "connection_refused" &&
			st.State == health.Failing
	})

	// Stop: within 2 s, socket gone, history kept.
	stopped := time.Now()
	cancel() // as SIGTERM does
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("exit %d\n%s", code, c.stderr.String())
		}
	case <-time.After(3 * time.Second):
		t.Fatal("run did not return after it was told to stop")
	}
	if d := time.Since(stopped); d > 2*time.Second {
		t.Errorf("stopping took %v, want under 2 s", d)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	h, err := history.OpenReadOnly(context.Background(), filepath.Join(stateDir, "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	sums, err := h.Summaries(context.Background(), "local", time.Now().Add(-time.Hour))
	if err != nil || len(sums) != 1 || sums[0].Probes == 0 {
		t.Errorf("history summaries %+v, %v: want the checks recorded", sums, err)
	}
	if log, _ := os.ReadFile(filepath.Join(stateDir, "smtpwatch.log")); !strings.Contains(string(log), "smtpwatch running") || strings.Contains(string(log), testPass) {
		t.Errorf("log file: want the start line and never the password:\n%s", log)
	}
}
