package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// dashEngine is the fake engine of a daemon that serves the dashboard.
type dashEngine struct {
	*fakeEngine
	url string
	err error
	n   int
}

func (d *dashEngine) DashboardURL() (string, error) {
	d.n++
	return fmt.Sprintf("%s%d", d.url, d.n), d.err
}

func serveEngine(t *testing.T, eng Engine) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run", "smtpwatch.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	o := defaultOptions()
	logger := slog.New(slog.DiscardHandler)
	go func() { done <- serve(ctx, ln, newHandler(eng, nil, logger, o), logger, o) }()
	t.Cleanup(func() { cancel(); <-done })
	return path
}

// The socket gives the user's own processes a fresh one-time link to the
// dashboard per request; a daemon that serves none says why, and one
// whose engine knows nothing of a dashboard has no such endpoint.
func TestDashboardLink(t *testing.T) {
	d := &dashEngine{fakeEngine: newFakeEngine(), url: "http://127.0.0.1:4242/login?token=t"}
	c := NewClient(serveEngine(t, d))
	defer c.Close()
	u1, err := c.DashboardURL(testCtx(t))
	u2, err2 := c.DashboardURL(testCtx(t))
	if err != nil || err2 != nil || u1 != d.url+"1" || u2 != d.url+"2" {
		t.Fatalf("%q, %v; %q, %v", u1, err, u2, err2)
	}
	if code, _ := request(t, c.socket, "GET", PathDashboard, ""); code != 405 {
		t.Errorf("GET %s: %d, want 405", PathDashboard, code)
	}

	off := &dashEngine{fakeEngine: newFakeEngine(), err: fmt.Errorf("%w: ui = false in /x/config.toml", ErrNoDashboard)}
	c2 := NewClient(serveEngine(t, off))
	defer c2.Close()
	_, err = c2.DashboardURL(testCtx(t))
	var ae *Error
	if !errors.As(err, &ae) || ae.StatusCode != 404 || !strings.Contains(ae.Message, "ui = false in /x/config.toml") {
		t.Errorf("a daemon without the dashboard: %v", err)
	}

	c3 := NewClient(serveEngine(t, newFakeEngine()))
	defer c3.Close()
	if _, err := c3.DashboardURL(testCtx(t)); !errors.As(err, &ae) || ae.StatusCode != 404 || !strings.Contains(ae.Message, "no such endpoint") {
		t.Errorf("an engine without a dashboard: %v", err)
	}
}
