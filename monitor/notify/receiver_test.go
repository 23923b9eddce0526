package notify

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

// request is what a receiver got.
type request struct {
	Method, Path, Query string
	Header              http.Header
	Body                string
}

// receiver is a real HTTP server on loopback standing in for ntfy, Gotify,
// a chat service's webhook or a JSON webhook: it records every request and
// answers as told.
type receiver struct {
	t   *testing.T
	srv *httptest.Server
	got chan request

	mu     sync.Mutex
	status int           // the answer; 0 is 200
	delay  time.Duration // wait this long before answering (a slow receiver)
	hits   int
}

func newReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, got: make(chan request, 64)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// newTLSReceiver serves HTTPS with httptest's own certificate, which
// nothing trusts unless told to.
func newTLSReceiver(t *testing.T) *receiver {
	r := &receiver{t: t, got: make(chan request, 64)}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes refused on purpose
	r.srv.StartTLS()
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	status, delay := r.status, r.delay
	r.hits++
	r.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
			return
		}
	}
	r.got <- request{Method: req.Method, Path: req.URL.Path, Query: req.URL.RawQuery, Header: req.Header.Clone(), Body: string(body)}
	w.Header().Set("Content-Type", "application/json")
	if status != 0 && status != http.StatusOK {
		// As ntfy and Gotify answer an error.
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"code":%d01,"http":%d,"error":"receiver answered %d","errorCode":%d,"errorDescription":"receiver answered %d"}`, status, status, status, status, status)
		return
	}
	io.WriteString(w, `{"id":1}`)
}

// drain forgets the requests recorded so far.
func (r *receiver) drain() {
	for {
		select {
		case <-r.got:
		default:
			return
		}
	}
}

func (r *receiver) set(status int, delay time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status, r.delay = status, delay
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hits
}

// hostPort is the receiver's 127.0.0.1:PORT.
func (r *receiver) hostPort() string {
	return strings.TrimPrefix(strings.TrimPrefix(r.srv.URL, "http://"), "https://")
}

// next waits (at most 10 s) for the next request.
func (r *receiver) next() request {
	r.t.Helper()
	select {
	case req := <-r.got:
		return req
	case <-time.After(10 * time.Second):
		r.t.Fatal("no request within 10 s")
		return request{}
	}
}

// none checks that no request came within d.
func (r *receiver) none(d time.Duration) {
	r.t.Helper()
	select {
	case req := <-r.got:
		r.t.Fatalf("unexpected request %+v", req)
	case <-time.After(d):
	}
}

// channels parses a config file and makes its channels.
func channels(t *testing.T, file string, o SenderOptions) (*config.Config, []Channel) {
	t.Helper()
	cfg, err := config.Parse("c.toml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, Channels(cfg, o)
}

// failing is charter's failure as the engine announces it.
func failing(account, provider string) health.Event {
	return health.Event{
		Kind: health.EventTransition, Account: account, Provider: provider, From: health.OK, To: health.Failing,
		Cause: probe.CauseAuthRejected, Message: "Your password was rejected by the server (535 5.7.8 Authentication credentials invalid).",
		Advice: []string{"Re-enter the password for me@charter.net (smtpwatch password set charter)."},
		At:     time.Date(2026, 3, 10, 14, 2, 0, 0, time.UTC),
	}
}

// decided is the notification the policy makes of events that came
// together.
func decided(t *testing.T, f Filter, events ...health.Event) health.Event {
	t.Helper()
	p := NewPolicy()
	p.Loc = time.UTC
	for _, e := range events {
		p.Observe(e, now)
	}
	notes := p.Flush(now.Add(CoalesceWindow), health.Status{}).Compose(f)
	if len(notes) != 1 {
		t.Fatalf("%d notifications", len(notes))
	}
	notes[0].ID = 4242
	return Event(notes[0], now)
}

func send(t *testing.T, c Channel, ev health.Event) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Sender.Send(ctx, ev)
}
