package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/config"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/notify"
	"smtpwatch/monitor/smtptest"
)

// The whole daemon, headless: an account starts failing; the decision is
// made once and reaches the webhook channel (signed), the API's event
// stream (where a tray would show it) and a late subscriber as a replay;
// a channel that is down is retried and shown failing in /v1/status and
// /metrics, while the checks go on.
func TestDaemonAlerts(t *testing.T) {
	got := make(chan *http.Request, 8)
	bodies := make(chan []byte, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
	}))
	defer hook.Close()
	dir := t.TempDir()
	listen := smtptest.ClosedPort(t)
	down := smtptest.ClosedPort(t)
	closed := smtptest.ClosedPort(t) // the account's server: nothing listens
	path := filepath.Join(dir, "config.toml")
	t.Setenv("SMTPWATCH_DAEMON_TEST_HOOK", "k3y")
	text := fmt.Sprintf(`state_dir = %q
metrics_listen = %q
[online]
targets = []
[[account]]
name = "a"
server = "127.0.0.1"
port = %s
security = "starttls"
interval = "1h"
timeout = "5s"
failure_threshold = 0

[[notify]]
name = "hook"
webhook = "%s/alerts"
webhook_secret_env = "SMTPWATCH_DAEMON_TEST_HOOK"

[[notify]]
name = "down"
webhook = "http://%s/alerts"
`, filepath.Join(dir, "state"), listen, strings.Split(closed, ":")[1], hook.URL, down)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(runDir(t), "s.sock")
	c := api.NewClient(sock)
	defer c.Close()
	d, err := Start(context.Background(), Options{ConfigPath: path, Config: cfg, Socket: sock, Version: "test",
		NotifyRetry: notify.Retry{Attempts: 2, First: 10 * time.Millisecond, Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	events, err := c.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var r *http.Request
	select {
	case r = <-got:
	case <-ctx.Done():
		t.Fatal("no webhook request")
	}
	body := <-bodies
	if !notify.Verify([]byte("k3y"), r.Header.Get(notify.HeaderTimestamp), body, r.Header.Get(notify.HeaderSignature)) {
		t.Errorf("the signature does not verify: %v", r.Header)
	}
	var ev health.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.Notification == nil || ev.Notification.Title != "Mail from a can't be sent" || ev.Cause != "connection_refused" {
		t.Fatalf("webhook body %s: %v", body, err)
	}

	// The stream carries the same decision, with its own ID (the desktop's
	// words are composed for every account).
	var streamed *health.Notification
	for streamed == nil {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if e.Kind == health.EventNotification {
				streamed = e.Notification
			}
		case <-ctx.Done():
			t.Fatal("no notification on the event stream")
		}
	}
	if streamed.Title != ev.Notification.Title || streamed.Replay {
		t.Errorf("streamed %+v", streamed)
	}
	// A late subscriber hears it once, as a replay naming it.
	late, err := c.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-late:
		if e.Notification == nil || !e.Notification.Replay || len(e.Notification.Covers) != 1 || e.Notification.Covers[0] != streamed.ID {
			t.Errorf("late subscriber's first event: %+v %+v", e, e.Notification)
		}
	case <-ctx.Done():
		t.Fatal("no replay for a late subscriber")
	}

	// The channel that is down: retried, given up, shown.
	var down1 health.ChannelStatus
	for deadline := time.Now().Add(10 * time.Second); ; {
		st, err := c.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Channels) == 2 && st.Channels[1].Dropped == 1 {
			down1 = st.Channels[1]
			if st.Channels[0].Name != "hook" || st.Channels[0].Failing || st.Channels[0].Sent != 1 {
				t.Errorf("hook channel: %+v", st.Channels[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("channels: %+v", st.Channels)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if down1.Name != "down" || !down1.Failing || !strings.Contains(down1.Error, "connection refused") || down1.Kind != "webhook" {
		t.Errorf("down channel: %+v", down1)
	}
	resp, err := http.Get("http://" + listen + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`smtpwatch_notify_channel_up{channel="down"} 0`, `smtpwatch_notify_channel_up{channel="hook"} 1`,
		`smtpwatch_notify_sent_total{channel="hook"} 1`, `smtpwatch_notify_failures_total{channel="down"} 2`, `smtpwatch_notify_dropped_total{channel="down"} 1`} {
		if !strings.Contains(string(m), want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Checks go on meanwhile.
	if rs, err := c.Check(ctx, "a"); err != nil || len(rs) != 1 || rs[0].Cause != "connection_refused" {
		t.Errorf("a check while a channel fails: %+v %v", rs, err)
	}
}
