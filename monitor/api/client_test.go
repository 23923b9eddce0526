package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

func TestClientAgainstServer(t *testing.T) {
	eng := newFakeEngine()
	s := startServer(t, eng, nil, nil)
	c := NewClient(s.path)
	defer c.Close()
	ctx := testCtx(t)

	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != health.Failing || len(st.Accounts) != 2 || st.Accounts[0].Last.SMTP.Code != 535 {
		t.Errorf("Status: %+v", st)
	}

	rs, err := c.Check(ctx, "")
	if err != nil || len(rs) != 2 || rs[0].Cause != probe.CauseAuthRejected || rs[1].Duration != 180*time.Millisecond {
		t.Errorf("Check all: %v, %+v", err, rs)
	}
	rs, err = c.Check(ctx, "charter")
	if err != nil || len(rs) != 1 || rs[0].Name != "charter" {
		t.Errorf("Check charter: %v, %+v", err, rs)
	}

	before := time.Now()
	if err := c.Pause(ctx, "charter", 2*time.Hour); err != nil {
		t.Errorf("Pause: %v", err)
	}
	if err := c.Pause(ctx, "", 0); err != nil {
		t.Errorf("Pause until resumed: %v", err)
	}
	tomorrow := time.Now().Add(20 * time.Hour).Truncate(time.Second)
	if err := c.PauseUntil(ctx, "work", tomorrow); err != nil {
		t.Errorf("PauseUntil: %v", err)
	}
	if err := c.Resume(ctx, "charter"); err != nil {
		t.Errorf("Resume: %v", err)
	}

	eng.mu.Lock()
	defer eng.mu.Unlock()
	if len(eng.pauses) != 3 {
		t.Fatalf("pauses %v", eng.pauses)
	}
	if p := eng.pauses[0]; p.account != "charter" || p.until.Before(before.Add(2*time.Hour)) || p.until.After(time.Now().Add(2*time.Hour)) {
		t.Errorf("Pause 2h reached the engine as %v", p)
	}
	if p := eng.pauses[1]; p.account != "" || !p.until.IsZero() {
		t.Errorf("Pause 0 reached the engine as %v, want all accounts until resumed", p)
	}
	if p := eng.pauses[2]; p.account != "work" || !p.until.Equal(tomorrow) {
		t.Errorf("PauseUntil reached the engine as %v, want work until %v", p, tomorrow)
	}
	if len(eng.resumes) != 1 || eng.resumes[0] != "charter" {
		t.Errorf("resumes %q", eng.resumes)
	}
}

func TestClientUnknownAccount(t *testing.T) {
	s := startServer(t, newFakeEngine(), nil, nil)
	c := NewClient(s.path)
	ctx := testCtx(t)
	for name, call := range map[string]func() error{
		"check":  func() error { _, err := c.Check(ctx, "nobody"); return err },
		"pause":  func() error { return c.Pause(ctx, "nobody", time.Hour) },
		"resume": func() error { return c.Resume(ctx, "nobody") },
	} {
		err := call()
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 {
			t.Errorf("%s: %v, want an *Error with status 404", name, err)
			continue
		}
		if !errors.Is(err, ErrUnknownAccount) {
			t.Errorf("%s: %v does not wrap ErrUnknownAccount", name, err)
		}
		if err.Error() != `unknown account "nobody"` {
			t.Errorf("%s: message %q, want the server's", name, err)
		}
	}
}

func TestClientPauseNegative(t *testing.T) {
	if err := NewClient(filepath.Join(t.TempDir(), "none.sock")).Pause(context.Background(), "", -time.Hour); err == nil {
		t.Error("negative pause accepted")
	}
}

func TestClientNotRunning(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	staleSocket(t, stale)
	for name, path := range map[string]string{
		"no socket file": filepath.Join(dir, "none.sock"),
		"no directory":   filepath.Join(dir, "missing", "smtpwatch.sock"),
		"stale socket":   stale,
	} {
		c := NewClient(path)
		ctx := testCtx(t)
		_, err := c.Status(ctx)
		if !errors.Is(err, ErrNotRunning) {
			t.Errorf("%s: Status: %v, want ErrNotRunning", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "daemon is not running") || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: message %q, want it to say the daemon is not running and name the socket", name, err)
		}
		if _, err := c.Events(ctx); !errors.Is(err, ErrNotRunning) {
			t.Errorf("%s: Events: %v, want ErrNotRunning", name, err)
		}
	}
}

func TestClientContextEnds(t *testing.T) {
	eng := newFakeEngine()
	eng.checkGate, eng.gateHonoursCtx = make(chan struct{}), true
	defer close(eng.checkGate)
	s := startServer(t, eng, nil, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := NewClient(s.path).Check(ctx, "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want the context's deadline", err)
	}
}

func TestClientNonJSONError(t *testing.T) {
	// Something other than smtpwatch on the socket: the status line stands in
	// for the message.
	path := filepath.Join(t.TempDir(), "other.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "teapot", http.StatusTeapot)
	}), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	_, err = NewClient(path).Status(testCtx(t))
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTeapot || apiErr.Message != "418 I'm a teapot" {
		t.Errorf("got %#v", err)
	}
	if _, err := NewClient(path).Events(testCtx(t)); err == nil {
		t.Error("Events accepted a non-stream answer")
	}
}

func TestReadEvents(t *testing.T) {
	stream := strings.Join([]string{
		": comment",
		"event: transition",
		`data: {"kind":"transition","account":"a","to":"failing"}`,
		"",
		"event: reminder", // kind from the event field
		`data: {"account":"b",`,
		`data: "to":"failing"}`,
		"",
		"data: not json",
		"",
		"id: 7",
		"retry: 100",
		`data: {"kind":"recovery","account":"c"}`,
		"",
		`data: {"kind":"transition","account":"unterminated"}`, // no blank line: not dispatched
	}, "\n")
	out := make(chan health.Event, 10)
	readEvents(context.Background(), strings.NewReader(stream), out)
	close(out)
	var got []string
	for ev := range out {
		got = append(got, string(ev.Kind)+":"+ev.Account)
	}
	if want := "transition:a reminder:b recovery:c"; strings.Join(got, " ") != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReadEventsBounded(t *testing.T) {
	huge := "data: " + strings.Repeat("x", maxEventBytes-100) + "\n"
	stream := huge + huge + "\n" + `data: {"kind":"recovery","account":"ok"}` + "\n\n"
	out := make(chan health.Event, 10)
	readEvents(context.Background(), strings.NewReader(stream), out)
	close(out)
	var got []string
	for ev := range out {
		got = append(got, ev.Account)
	}
	if len(got) != 1 || got[0] != "ok" {
		t.Errorf("got %q, want the oversized event skipped and the next one read", got)
	}
}
