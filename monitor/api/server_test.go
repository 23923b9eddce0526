package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/report"

	"github.com/prometheus/client_golang/prometheus"
)

func TestStatusEndpoint(t *testing.T) {
	s := startServer(t, newFakeEngine(), nil, nil)
	resp, err := httpClient(s.path).Get("http://x" + PathStatus)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var st health.Status
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.State != health.Failing || len(st.Accounts) != 2 || st.Accounts[0].Last == nil || st.Accounts[0].Last.Cause != probe.CauseAuthRejected || !st.Accounts[0].AuthLocked {
		t.Errorf("got %+v", st)
	}
}

func TestStatusNoAccountsIsAnEmptyList(t *testing.T) {
	eng := newFakeEngine()
	eng.status = health.Status{State: health.Starting}
	s := startServer(t, eng, nil, nil)
	resp, err := httpClient(s.path).Get("http://x" + PathStatus)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `"accounts":[]`) {
		t.Errorf("body %s: want an empty accounts list, not null", b)
	}
}

func TestCheckEndpoint(t *testing.T) {
	eng := newFakeEngine()
	s := startServer(t, eng, nil, nil)
	resp, err := httpClient(s.path).Post("http://x"+PathCheck, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc report.Document
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || doc.Status != probe.StatusFailing || len(doc.Accounts) != 2 {
		t.Fatalf("status %d, document %+v", resp.StatusCode, doc)
	}
	// The results keep check --json's form through the round trip.
	if got := doc.Accounts[0]; got.SMTP == nil || got.SMTP.Code != 535 || got.Phases[0].Duration != 55*time.Millisecond {
		t.Errorf("first result %+v", got)
	}

	resp2, err := httpClient(s.path).Post("http://x"+PathCheck+"?account=work", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	doc = report.Document{}
	if err := json.NewDecoder(resp2.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.Status != probe.StatusOK || len(doc.Accounts) != 1 || doc.Accounts[0].Name != "work" {
		t.Errorf("account=work: %+v", doc)
	}
	eng.mu.Lock()
	defer eng.mu.Unlock()
	if want := []string{"", "work"}; strings.Join(eng.checks, ",") != strings.Join(want, ",") {
		t.Errorf("engine checked %q, want %q", eng.checks, want)
	}
}

func TestPauseAndResumeEndpoints(t *testing.T) {
	now := time.Date(2026, 3, 4, 14, 0, 0, 0, time.UTC)
	eng := newFakeEngine()
	s := startServer(t, eng, nil, func(o *options) { o.now = func() time.Time { return now } })
	c := httpClient(s.path)
	until := now.Add(18 * time.Hour)
	for _, q := range []string{"?for=1h30m", "?account=charter&until=" + until.Format(time.RFC3339), ""} {
		resp, err := c.Post("http://x"+PathPause+q, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var st health.Status
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if resp.StatusCode != 200 || err != nil || len(st.Accounts) != 2 {
			t.Errorf("pause%s: status %d, %v, %+v: want 200 and the status", q, resp.StatusCode, err, st)
		}
	}
	resp, err := c.Post("http://x"+PathResume+"?account=work", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("resume: status %d", resp.StatusCode)
	}

	eng.mu.Lock()
	defer eng.mu.Unlock()
	want := []pauseCall{{"", now.Add(90 * time.Minute)}, {"charter", until}, {"", time.Time{}}}
	if len(eng.pauses) != len(want) {
		t.Fatalf("pauses %v, want %v", eng.pauses, want)
	}
	for i, p := range eng.pauses {
		if p.account != want[i].account || !p.until.Equal(want[i].until) {
			t.Errorf("pause %d: %v, want %v", i, p, want[i])
		}
	}
	if len(eng.resumes) != 1 || eng.resumes[0] != "work" {
		t.Errorf("resumes %q, want [work]", eng.resumes)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "smtpwatch_test_total", Help: "A test counter."})
	reg.MustRegister(c)
	c.Add(3)
	s := startServer(t, newFakeEngine(), reg, nil)
	resp, err := httpClient(s.path).Get("http://x/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), "smtpwatch_test_total 3") {
		t.Errorf("status %d, body:\n%s", resp.StatusCode, b)
	}
}

func TestMetricsWithoutGatherer(t *testing.T) {
	s := startServer(t, newFakeEngine(), nil, nil)
	code, msg := request(t, s.path, "GET", "/metrics", "")
	if code != 404 || !strings.Contains(msg, "not enabled") {
		t.Errorf("%d %q, want 404 metrics are not enabled", code, msg)
	}
}

// request sends a request with an optional body and returns the status and
// the error message of the JSON body ("" if none). It fails the test if an
// error status comes without a JSON error body.
func request(t *testing.T, path, method, target, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(testCtx(t), method, "http://x"+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient(path).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e errorBody
	if resp.StatusCode >= 400 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: %d with content type %q, want JSON", method, target, resp.StatusCode, ct)
		}
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
			t.Errorf("%s %s: %d without a JSON error: %v", method, target, resp.StatusCode, err)
		}
	}
	return resp.StatusCode, e.Error
}

func TestBadRequests(t *testing.T) {
	now := time.Date(2026, 3, 4, 14, 0, 0, 0, time.UTC)
	tests := []struct {
		name, method, target, body string
		code                       int
		msg                        string // in the error message
	}{
		{"unknown path", "GET", "/v2/status", "", 404, "no such endpoint"},
		{"root", "GET", "/", "", 404, "no such endpoint"},
		{"trailing slash", "GET", "/v1/status/", "", 404, "no such endpoint"},
		{"POST status", "POST", PathStatus, "", 405, "use GET"},
		{"GET check", "GET", PathCheck, "", 405, "use POST"},
		{"DELETE pause", "DELETE", PathPause, "", 405, "use POST"},
		{"PUT metrics", "PUT", PathMetrics, "", 405, "use GET"},
		{"unknown parameter", "GET", PathStatus + "?verbose=1", "", 400, `unknown parameter "verbose"`},
		{"misspelt account", "POST", PathCheck + "?acount=work", "", 400, `unknown parameter "acount"`},
		{"repeated account", "POST", PathCheck + "?account=work&account=charter", "", 400, "given 2 times"},
		{"bad escape", "POST", PathCheck + "?account=%zz", "", 400, "bad query string"},
		{"unknown account: check", "POST", PathCheck + "?account=nobody", "", 404, `unknown account "nobody"`},
		{"unknown account: pause", "POST", PathPause + "?account=nobody", "", 404, `unknown account "nobody"`},
		{"unknown account: resume", "POST", PathResume + "?account=nobody", "", 404, `unknown account "nobody"`},
		{"bad duration", "POST", PathPause + "?for=banana", "", 400, "not a duration"},
		{"days are not Go durations", "POST", PathPause + "?for=2d", "", 400, "not a duration"},
		{"negative duration", "POST", PathPause + "?for=-1h", "", 400, "more than 0"},
		{"zero duration", "POST", PathPause + "?for=0s", "", 400, "more than 0"},
		{"too long", "POST", PathPause + "?for=9000h", "", 400, "at most"},
		{"empty for", "POST", PathPause + "?for=", "", 400, "not a duration"},
		{"for and until", "POST", PathPause + "?for=1h&until=2026-03-05T08:00:00Z", "", 400, "not both"},
		{"bad until", "POST", PathPause + "?until=tomorrow", "", 400, "RFC 3339"},
		{"until in the past", "POST", PathPause + "?until=2026-03-04T13:00:00Z", "", 400, "in the next"},
		{"huge body", "POST", PathCheck, strings.Repeat("x", 1<<20), 413, "too large"},
		{"small body is ignored", "POST", PathResume, "account=charter", 200, ""},
	}
	s := startServer(t, newFakeEngine(), nil, func(o *options) { o.now = func() time.Time { return now } })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, msg := request(t, s.path, tt.method, tt.target, tt.body)
			if code != tt.code || !strings.Contains(msg, tt.msg) {
				t.Errorf("%d %q, want %d and an error with %q", code, msg, tt.code, tt.msg)
			}
		})
	}
}

func TestMethodNotAllowedSaysAllow(t *testing.T) {
	s := startServer(t, newFakeEngine(), nil, nil)
	resp, err := httpClient(s.path).Get("http://x" + PathCheck)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Allow"); got != "POST" {
		t.Errorf("Allow: %q, want POST", got)
	}
}

// rawRequest writes req on a new connection and reads the answer.
func rawRequest(t *testing.T, path, req string) *http.Response {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestChunkedHugeBody(t *testing.T) {
	// No Content-Length: the limit is found while reading.
	s := startServer(t, newFakeEngine(), nil, nil)
	conn, err := net.Dial("unix", s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "POST /v1/check HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	chunk := strings.Repeat("y", 1024)
	go func() { // the server may stop reading and answer first
		for range 64 {
			if _, err := io.WriteString(conn, "400\r\n"+chunk+"\r\n"); err != nil {
				return
			}
		}
		io.WriteString(conn, "0\r\n\r\n")
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("status %d, want 413", resp.StatusCode)
	}
}

func TestSlowBodyIsCutOff(t *testing.T) {
	s := startServer(t, newFakeEngine(), nil, func(o *options) { o.bodyTimeout = 100 * time.Millisecond })
	// Promise 100 bytes, send 1, then wait.
	resp := rawRequest(t, s.path, "POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx")
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
}

func TestHugeHeaderIsRefused(t *testing.T) {
	s := startServer(t, newFakeEngine(), nil, nil)
	resp := rawRequest(t, s.path, "GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("z", 64<<10)+"\r\n\r\n")
	resp.Body.Close()
	// net/http answers this one itself, in plain text.
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
}

func TestSlowHeadersAreCutOff(t *testing.T) {
	s := startServer(t, newFakeEngine(), nil, func(o *options) { o.readHeaderTimeout = 100 * time.Millisecond })
	conn, err := net.Dial("unix", s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET /v1/status HTTP/1.1\r\n") // and never the rest
	// The server gives up and closes; a read sees that well before our deadline.
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept a connection with unfinished headers open for 5 s")
	}
}

func TestEventsDeliverAndEndAtShutdown(t *testing.T) {
	eng := newFakeEngine()
	s := startServer(t, eng, nil, nil)
	ch, err := NewClient(s.path).Events(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	// Events has returned: the subscription is in place, so an event
	// published now must arrive.
	want := health.Event{Kind: health.EventTransition, Account: "charter", Provider: "Charter", From: health.OK, To: health.Failing,
		Cause: probe.CauseAuthRejected, Message: "The server rejected your password.\nRe-enter it.", At: time.Date(2026, 3, 4, 14, 2, 0, 0, time.UTC)}
	eng.publish(want)
	select {
	case got, ok := <-ch:
		if !ok {
			t.Fatal("stream ended before the event")
		}
		if got.Kind != want.Kind || got.Account != want.Account || got.Message != want.Message || !got.At.Equal(want.At) || got.To != want.To {
			t.Errorf("got %+v, want %+v", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5 s")
	}

	start := time.Now()
	if err := s.stop(t); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if d := time.Since(start); d > 2500*time.Millisecond {
		t.Errorf("shutdown with an open stream took %v, want within 2 s", d)
	}
	select {
	case ev, ok := <-ch:
		if ok {
			t.Errorf("unexpected event %+v after shutdown", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the event channel did not close within 5 s of the shutdown")
	}
	if _, err := os.Lstat(s.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket file after shutdown: %v, want it removed", err)
	}
}

func TestEventsWireFormatAndHeartbeat(t *testing.T) {
	eng := newFakeEngine()
	s := startServer(t, eng, nil, func(o *options) { o.heartbeat = 20 * time.Millisecond })
	// The body is not closed: that would read on to the end of the stream;
	// rawRequest's cleanup closes the connection.
	resp := rawRequest(t, s.path, "GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("content type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	if err != nil || line != ": heartbeat\n" {
		t.Fatalf("first line %q, %v: want a heartbeat comment", line, err)
	}
	eng.publish(health.Event{Kind: health.EventRecovery, Account: "work", To: health.OK, Message: "a\nb"})
	// Skip heartbeats to the event; its lines come together.
	for line == ": heartbeat\n" || line == "\n" {
		if line, err = r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	if line != "event: recovery\n" {
		t.Fatalf("line %q, want the event name", line)
	}
	data, _ := r.ReadString('\n')
	blank, _ := r.ReadString('\n')
	if !strings.HasPrefix(data, `data: {"kind":"recovery","account":"work"`) || !strings.Contains(data, `"message":"a\nb"`) || blank != "\n" {
		t.Errorf("data %q then %q", data, blank)
	}
}

func TestEventsClientLeavingEndsSubscription(t *testing.T) {
	eng := newFakeEngine()
	s := startServer(t, eng, nil, nil)
	ctx, cancel := context.WithCancel(testCtx(t))
	ch, err := NewClient(s.path).Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := eng.subscribers(); n != 1 {
		t.Fatalf("%d subscribers, want 1", n)
	}
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Error("event after cancel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("channel not closed within 5 s of cancel")
	}
	// The server notices the client left and unsubscribes.
	waitFor(t, "the server to drop the subscription of a client that left", func() bool { return eng.subscribers() == 0 })
}

func TestShutdownIsBoundedWithAStuckCheck(t *testing.T) {
	eng := newFakeEngine()
	eng.checkGate = make(chan struct{})
	defer close(eng.checkGate)
	s := startServer(t, eng, nil, func(o *options) { o.shutdownTimeout = 200 * time.Millisecond })

	errc := make(chan error, 1)
	go func() {
		_, err := NewClient(s.path).Check(testCtx(t), "")
		errc <- err
	}()
	waitFor(t, "the check to reach the engine", func() bool {
		eng.mu.Lock()
		defer eng.mu.Unlock()
		return len(eng.checks) > 0
	})
	start := time.Now()
	s.stop(t)
	if d := time.Since(start); d > time.Second {
		t.Errorf("Serve took %v to return with a stuck check, want about the 200 ms shutdown bound", d)
	}
	select {
	case err := <-errc:
		if err == nil {
			t.Error("the cut-off check returned no error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client's check did not end when the server closed")
	}
}

func TestCheckTimeout(t *testing.T) {
	eng := newFakeEngine()
	eng.checkGate, eng.gateHonoursCtx = make(chan struct{}), true
	defer close(eng.checkGate)
	s := startServer(t, eng, nil, func(o *options) { o.checkTimeout = 50 * time.Millisecond })
	code, msg := request(t, s.path, "POST", PathCheck, "")
	if code != http.StatusGatewayTimeout || !strings.Contains(msg, "longer than 50ms") {
		t.Errorf("%d %q, want 504 and the bound", code, msg)
	}
}

func TestServeMetricsTCP(t *testing.T) {
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "smtpwatch_up", Help: "Test."})
	reg.MustRegister(g)
	g.Set(1)

	// Find a free port, then let ServeMetrics listen on it.
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := probe.Addr().String()
	probe.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ServeMetrics(ctx, addr, reg, nil) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ServeMetrics: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("ServeMetrics did not return within 5 s")
		}
	}()

	c := &http.Client{Timeout: 5 * time.Second}
	var resp *http.Response
	waitFor(t, "the metrics listener", func() bool {
		resp, err = c.Get("http://" + addr + "/metrics")
		return err == nil
	})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "smtpwatch_up 1") {
		t.Errorf("metrics:\n%s", b)
	}
	// Only /metrics there: the control endpoints are not on TCP.
	for _, p := range []string{PathStatus, PathCheck, PathEvents, PathDashboard} {
		resp, err := c.Post("http://"+addr+p, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s over TCP: %d, want 404", p, resp.StatusCode)
		}
	}
}

func TestServeMetricsBadAddress(t *testing.T) {
	err := ServeMetrics(context.Background(), "256.0.0.1:99999", prometheus.NewRegistry(), nil)
	if err == nil || !strings.Contains(err.Error(), "metrics listener") {
		t.Errorf("got %v, want a listen error", err)
	}
}
