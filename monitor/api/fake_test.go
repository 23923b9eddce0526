package api

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeEngine stands in for the daemon's engine. Engine is the seam this
// package declares for it; everything between the fake and the test's
// client (socket, HTTP server, handlers, client) is the real thing.
type fakeEngine struct {
	mu      sync.Mutex
	status  health.Status
	results []probe.Result // the known accounts, by Name
	subs    map[chan health.Event]bool
	checks  []string
	pauses  []pauseCall
	resumes []string
	// checkGate, when set, holds Check until it is closed, or until its
	// ctx ends if gateHonoursCtx (else it misbehaves and ignores ctx).
	checkGate      chan struct{}
	gateHonoursCtx bool
	// subscribed gets a value for every Subscribe.
	subscribed chan struct{}
}

type pauseCall struct {
	account string
	until   time.Time
}

func newFakeEngine() *fakeEngine {
	since := time.Date(2026, 3, 4, 14, 2, 0, 0, time.Local)
	charter := probe.Result{
		Name: "charter", Provider: "Charter", Server: "smtp.charter.net", Port: 587, Security: probe.SecurityStartTLS,
		Status: probe.StatusFailing, Cause: probe.CauseAuthRejected, Message: "Your password was rejected by the server.",
		SMTP:      &probe.Reply{Code: 535, EnhancedCode: "5.7.8", Message: "Authentication credentials invalid"},
		Phases:    []probe.Phase{{Name: probe.PhaseAuth, Duration: 55 * time.Millisecond, Detail: "535 5.7.8"}},
		CheckedAt: since.Add(time.Minute).UTC(), Duration: 196 * time.Millisecond,
	}
	work := probe.Result{
		Name: "work", Server: "mail.example.com", Port: 465, Security: probe.SecurityTLS,
		Status: probe.StatusOK, Cause: probe.CauseOK, CheckedAt: since.UTC(), Duration: 180 * time.Millisecond,
	}
	return &fakeEngine{
		status: health.Status{State: health.Failing, Accounts: []health.AccountStatus{
			{Name: "charter", Provider: "Charter", State: health.Failing, Cause: probe.CauseAuthRejected, Since: since.UTC(), AuthLocked: true, Last: &charter},
			{Name: "work", State: health.OK, Cause: probe.CauseOK, Since: since.Add(-time.Hour).UTC(), Last: &work},
		}},
		results:    []probe.Result{charter, work},
		subs:       map[chan health.Event]bool{},
		subscribed: make(chan struct{}, 64),
	}
}

func (f *fakeEngine) Status() health.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status
}

func (f *fakeEngine) Subscribe(ctx context.Context) <-chan health.Event {
	ch := make(chan health.Event, 16)
	f.mu.Lock()
	f.subs[ch] = true
	f.mu.Unlock()
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, ch)
		close(ch)
	})
	f.subscribed <- struct{}{}
	return ch
}

// publish sends ev to every subscriber.
func (f *fakeEngine) publish(ev health.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		ch <- ev
	}
}

func (f *fakeEngine) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

func (f *fakeEngine) known(account string) error {
	if account == "" || slices.ContainsFunc(f.results, func(r probe.Result) bool { return r.Name == account }) {
		return nil
	}
	// As the real engine does: health's sentinel, which api's is.
	return fmt.Errorf("%w %q", health.ErrUnknownAccount, account)
}

func (f *fakeEngine) Check(ctx context.Context, account string) ([]probe.Result, error) {
	f.mu.Lock()
	f.checks = append(f.checks, account)
	gate, honour := f.checkGate, f.gateHonoursCtx
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctxDone(ctx, honour):
			return nil, ctx.Err()
		}
	}
	if err := f.known(account); err != nil {
		return nil, err
	}
	var rs []probe.Result
	for _, r := range f.results {
		if account == "" || r.Name == account {
			rs = append(rs, r)
		}
	}
	return rs, nil
}

func (f *fakeEngine) Pause(account string, until time.Time) error {
	if err := f.known(account); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pauses = append(f.pauses, pauseCall{account, until})
	return nil
}

func (f *fakeEngine) Resume(account string) error {
	if err := f.known(account); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resumes = append(f.resumes, account)
	return nil
}

// ctxDone is ctx.Done(), or nil (never ready) when ctx is to be ignored.
func ctxDone(ctx context.Context, honour bool) <-chan struct{} {
	if honour {
		return ctx.Done()
	}
	return nil
}

// waitFor polls cond until it holds, failing the test after 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			t.Fatalf("timed out after 5 s waiting for %s", what)
		case <-tick.C:
		}
	}
}

// server is a running API server on a socket in a temp dir.
type server struct {
	path   string
	engine *fakeEngine
	cancel context.CancelFunc
	done   chan error // Serve's result
	log    *recordHandler
}

// startServer runs Serve's insides with options o (defaultOptions with
// changes) and stops it when the test ends.
func startServer(t testing.TB, eng *fakeEngine, g prometheus.Gatherer, change func(*options)) *server {
	t.Helper()
	o := defaultOptions()
	if change != nil {
		change(&o)
	}
	path := filepath.Join(t.TempDir(), "run", "smtpwatch.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordHandler{}
	logger := slog.New(rec)
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{path: path, engine: eng, cancel: cancel, done: make(chan error, 1), log: rec}
	go func() { s.done <- serve(ctx, ln, newHandler(eng, g, logger, o), logger, o) }()
	t.Cleanup(func() {
		s.stop(t)
		if msgs := rec.matching("panic"); len(msgs) > 0 {
			t.Errorf("the server logged panics: %q", msgs)
		}
	})
	return s
}

// stop ends the server and waits, bounded, for Serve to return.
func (s *server) stop(t testing.TB) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for a second stop
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return within 5 s of its context ending")
		return nil
	}
}

// httpClient is a plain HTTP client over the socket, for requests the
// Client type would not send.
func httpClient(path string) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		}},
	}
}

// testCtx is bounded so that no test waits forever on the server.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recordHandler keeps the messages logged.
type recordHandler struct {
	mu   sync.Mutex
	msgs []string
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.msgs = append(h.msgs, r.Message)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordHandler) matching(s string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, m := range h.msgs {
		if strings.Contains(m, s) {
			out = append(out, m)
		}
	}
	return out
}
