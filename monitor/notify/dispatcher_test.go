package notify

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/metrics"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

// eventually polls cond every 10 ms for at most d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stream records what the dispatcher puts on the event stream.
type stream struct {
	mu     sync.Mutex
	events []health.Event
}

func (s *stream) announce(e health.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
}

func (s *stream) titles() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.events {
		out = append(out, e.Notification.Title)
	}
	return out
}

// syncBuffer is a log a test reads while the dispatcher writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func channelStatus(d *Dispatcher, name string) health.ChannelStatus {
	for _, c := range d.Channels() {
		if c.Name == name {
			return c
		}
	}
	return health.ChannelStatus{}
}

// TestDispatcherFansOut: one decision goes to the event stream and to
// every channel, each composing its part; channels that fail (a receiver
// that answers 500, one that is down, one whose certificate nothing
// trusts, one that never answers in time) are retried with backoff and
// given up, logged once, shown in Channels and the metrics — and hold up
// neither the decisions nor the other channels.
func TestDispatcherFansOut(t *testing.T) {
	all, only := newReceiver(t), newReceiver(t)
	broken, slow, tlsBad := newReceiver(t), newReceiver(t), newTLSReceiver(t)
	broken.set(http.StatusInternalServerError, 0)
	slow.set(0, 2*time.Second)
	down := smtptest.ClosedPort(t)
	_, chs := channels(t, fmt.Sprintf(`[[account]]
name = "charter"
server = "smtp.charter.net"
[[account]]
name = "work"
server = "mail.work.example"

[[notify]]
name = "all"
url = "ntfy://%s/all?disabletls=yes"
[[notify]]
name = "work-failures"
url = "ntfy://%s/work?disabletls=yes"
accounts = ["work"]
on = ["failing"]
[[notify]]
name = "broken"
url = "ntfy://%s/broken?disabletls=yes"
[[notify]]
name = "down"
webhook = "http://%s/hook"
[[notify]]
name = "slow"
url = "generic://%s/slow?disabletls=yes"
[[notify]]
name = "tls"
webhook = "%s/hook"
`, all.hostPort(), only.hostPort(), broken.hostPort(), down, slow.hostPort(), tlsBad.srv.URL), SenderOptions{Origin: "mailmon"})

	var st stream
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	status := health.Status{State: health.Failing, Accounts: []health.AccountStatus{
		{Name: "charter", Provider: "Charter", State: health.Failing}, {Name: "work", State: health.Failing},
	}}
	var stMu sync.Mutex
	d := New(Options{
		Status:   func() health.Status { stMu.Lock(); defer stMu.Unlock(); return status },
		Announce: st.announce, Observer: m, Loc: time.UTC, Coalesce: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Retry:  Retry{Attempts: 4, First: 20 * time.Millisecond, Max: 80 * time.Millisecond, Timeout: 300 * time.Millisecond},
	}, chs)
	events := make(chan health.Event, 8)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, events) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	start := time.Now()
	events <- failing("charter", "Charter")
	work := failing("work", "")
	work.Cause, work.Message, work.Advice = probe.CauseConnectionRefused, "The server refused the connection.", nil
	events <- work

	// The decision, once: the stream and "all" get both accounts, the
	// filtered channel its own.
	got := all.next()
	if got.Header.Get("Title") != "Mail from Charter and work can't be sent" ||
		got.Body != "Charter: password rejected.\nwork: connection refused.\nOpen the smtpwatch menu for what to change.\n\n— smtpwatch on mailmon" {
		t.Errorf("all: %q %q", got.Header.Get("Title"), got.Body)
	}
	if got := only.next(); got.Header.Get("Title") != "Mail from work can't be sent" || !strings.HasPrefix(got.Body, "The server refused the connection.") {
		t.Errorf("work-failures: %q %q", got.Header.Get("Title"), got.Body)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("the first notifications took %v (a slow channel held them up?)", el)
	}
	if titles := st.titles(); len(titles) != 1 || titles[0] != "Mail from Charter and work can't be sent" {
		t.Errorf("stream: %q", titles)
	}

	// The failing channels are retried, then given up, and say why.
	for _, name := range []string{"broken", "down", "tls", "slow"} {
		eventually(t, 5*time.Second, name+" given up", func() bool { return channelStatus(d, name).Dropped == 1 })
		c := channelStatus(d, name)
		if !c.Failing || c.Since.IsZero() || c.Error == "" || c.Sent != 0 {
			t.Errorf("%s: %+v", name, c)
		}
		if v := testutil.ToFloat64(m.NotifyUp(name)); v != 0 {
			t.Errorf("%s: notify_channel_up = %v", name, v)
		}
	}
	if n := broken.count(); n != 4 {
		t.Errorf("broken: %d attempts, want 4", n)
	}
	for name, want := range map[string]string{"broken": "500", "down": "connection refused", "tls": "certificate", "slow": "no answer in time"} {
		if c := channelStatus(d, name); !strings.Contains(c.Error, want) && !strings.Contains(c.Error, "previous attempt") {
			t.Errorf("%s: error %q lacks %q", name, c.Error, want)
		}
	}

	// While the slow channel's attempt still hangs, the next decision
	// reaches the others at once.
	stMu.Lock()
	status.Accounts[0].State = health.OK
	stMu.Unlock()
	back := failing("charter", "Charter")
	back.Kind, back.From, back.To, back.Cause = health.EventRecovery, health.Failing, health.OK, probe.CauseOK
	broken.set(0, 0)
	broken.drain()
	t0 := time.Now()
	events <- back
	if got := all.next(); got.Header.Get("Title") != "Mail from Charter works again" {
		t.Errorf("all: %q", got.Header.Get("Title"))
	}
	if el := time.Since(t0); el > time.Second {
		t.Errorf("the recovery took %v to reach a working channel", el)
	}
	if got := broken.next(); got.Header.Get("Title") != "Mail from Charter works again" {
		t.Errorf("broken, now working: %q", got.Header.Get("Title"))
	}
	eventually(t, 2*time.Second, "broken works again", func() bool { return !channelStatus(d, "broken").Failing })
	only.none(100 * time.Millisecond) // work's channel takes no recoveries, nor charter's news

	c := channelStatus(d, "broken")
	if c.Sent != 1 || c.Error != "" || c.LastSent.IsZero() {
		t.Errorf("broken after it works again: %+v", c)
	}
	if v := testutil.ToFloat64(m.NotifyUp("broken")); v != 1 {
		t.Errorf("notify_channel_up{broken} = %v", v)
	}
	if v := testutil.ToFloat64(m.NotifySent("all")); v != 2 {
		t.Errorf("notify_sent_total{all} = %v", v)
	}
	if v := testutil.ToFloat64(m.NotifyFailed("broken")); v != 4 {
		t.Errorf("notify_failures_total{broken} = %v", v)
	}

	// Logged once per channel while it fails, and once when it works again.
	log := logs.String()
	if n := strings.Count(log, `msg="alert channel failing; retrying with backoff" channel=broken`); n != 1 {
		t.Errorf("broken's failure logged %d times:\n%s", n, log)
	}
	if n := strings.Count(log, `msg="alert channel works again" channel=broken`); n != 1 {
		t.Errorf("broken's recovery logged %d times:\n%s", n, log)
	}
}

// A notification that stands (an account still failing) is replayed to
// a late subscriber, naming what it repeats; a recovered one is not.
func TestDispatcherStanding(t *testing.T) {
	var st stream
	status := health.Status{Accounts: []health.AccountStatus{{Name: "charter", Provider: "Charter", State: health.Failing}}}
	var mu sync.Mutex
	d := New(Options{Status: func() health.Status { mu.Lock(); defer mu.Unlock(); return status }, Announce: st.announce, Coalesce: 10 * time.Millisecond}, nil)
	events := make(chan health.Event, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx, events)
	if r := d.Standing(status); r != nil {
		t.Fatalf("standing before anything was said: %+v", r)
	}
	events <- failing("charter", "Charter")
	eventually(t, 2*time.Second, "the failure said", func() bool { return len(st.titles()) == 1 })
	st.mu.Lock()
	said := st.events[0].Notification.ID
	st.mu.Unlock()
	r := d.Standing(status)
	if len(r) != 1 || !r[0].Notification.Replay || len(r[0].Notification.Covers) != 1 || r[0].Notification.Covers[0] != said ||
		r[0].Notification.Title != "Mail from Charter can't be sent" || r[0].Notification.ID == said {
		t.Fatalf("standing: %+v", r)
	}
	mu.Lock()
	status.Accounts[0].State = health.OK
	mu.Unlock()
	if r := d.Standing(status); r != nil {
		t.Errorf("standing once the account works: %+v", r)
	}
}

// forgetful records the channels a reload removed.
type forgetful struct {
	mu        sync.Mutex
	forgotten []string
}

func (f *forgetful) ChannelSent(string)     {}
func (f *forgetful) ChannelFailed(string)   {}
func (f *forgetful) ChannelDropped(string)  {}
func (f *forgetful) ChannelUp(string, bool) {}
func (f *forgetful) ChannelForget(ch string) {
	f.mu.Lock()
	f.forgotten = append(f.forgotten, ch)
	f.mu.Unlock()
}

// A reload keeps a channel that is still named (its counts, and the new
// settings), starts a new one, and stops and forgets a removed one.
func TestDispatcherReload(t *testing.T) {
	a, b := newReceiver(t), newReceiver(t)
	obs := &forgetful{}
	_, chs := channels(t, fmt.Sprintf(`[[notify]]
name = "a"
url = "ntfy://%s/a?disabletls=yes"
[[notify]]
name = "gone"
url = "ntfy://%s/gone?disabletls=yes"
`, a.hostPort(), a.hostPort()), SenderOptions{})
	status := health.Status{Accounts: []health.AccountStatus{{Name: "charter", State: health.Failing}}}
	d := New(Options{Status: func() health.Status { return status }, Observer: obs, Coalesce: 10 * time.Millisecond}, chs)
	events := make(chan health.Event, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx, events)
	events <- failing("charter", "Charter")
	a.next()
	a.next()
	eventually(t, 2*time.Second, "a counted", func() bool { return channelStatus(d, "a").Sent == 1 })

	// "a" now points at b; "gone" is gone; "new" comes.
	_, chs = channels(t, fmt.Sprintf(`[[notify]]
name = "new"
webhook = "http://%s/new"
[[notify]]
name = "A"
url = "ntfy://%s/a2?disabletls=yes"
`, b.hostPort(), b.hostPort()), SenderOptions{})
	d.SetChannels(chs)
	var names []string
	for _, c := range d.Channels() {
		names = append(names, c.Name)
	}
	if strings.Join(names, " ") != "new A" || channelStatus(d, "A").Sent != 1 || channelStatus(d, "A").Kind != "ntfy" {
		t.Errorf("channels after the reload: %+v", d.Channels())
	}
	obs.mu.Lock()
	if strings.Join(obs.forgotten, " ") != "gone" {
		t.Errorf("forgotten %q", obs.forgotten)
	}
	obs.mu.Unlock()
	recovered := failing("charter", "Charter")
	recovered.Kind, recovered.From, recovered.To = health.EventRecovery, health.Failing, health.OK
	events <- recovered
	got := map[string]bool{}
	for range 2 {
		got[b.next().Path] = true
	}
	if !got["/new"] || !got["/a2"] {
		t.Errorf("after the reload: %v", got)
	}
	a.none(100 * time.Millisecond)
}
