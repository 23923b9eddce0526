package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	kservice "github.com/kardianos/service"

	"smtpwatch/service"
)

// A Windows service must answer the Service Control Manager: say within
// seconds that it started, and stop when told. `smtpwatch run` started by
// the SCM (kardianos's Interactive() is false) runs the same daemon as
// ever inside a managedDaemon, which kardianos drives; systemd, SysV init
// and launchd need no answer and stop the daemon with SIGTERM, so there
// `run` is just run.

// managedStopWait bounds Stop: the SCM gives a service about 20 s to stop
// at shutdown.
const managedStopWait = 15 * time.Second

// managedDaemon runs a daemon (run, until its context ends) as a
// kardianos service program. Start returns at once, the daemon running
// in the background; Stop cancels it and waits, bounded by stopWait, for
// it to return. A daemon that ends by itself (it could not start: a
// broken config, the socket taken) is a failure the SCM must hear of:
// exit is called with its exit status, so the SCM's recovery (restart)
// applies.
type managedDaemon struct {
	run      func(ctx context.Context) int
	exit     func(code int)
	stopWait time.Duration

	mu       sync.Mutex
	cancel   context.CancelFunc
	done     chan struct{}
	code     int
	stopping bool
}

// Start starts the daemon and returns.
func (m *managedDaemon) Start(kservice.Service) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done != nil {
		return errors.New("already started")
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel, m.done = cancel, make(chan struct{})
	go func() {
		code := m.run(ctx)
		m.mu.Lock()
		m.code = code
		stopping := m.stopping
		m.mu.Unlock()
		close(m.done)
		if !stopping {
			m.exit(code)
		}
	}()
	return nil
}

// Stop ends the daemon and waits until it has returned, bounded.
func (m *managedDaemon) Stop(kservice.Service) error {
	m.mu.Lock()
	if m.done == nil {
		m.mu.Unlock()
		return nil
	}
	m.stopping = true
	m.cancel()
	done := m.done
	m.mu.Unlock()
	t := time.NewTimer(m.stopWait)
	defer t.Stop()
	select {
	case <-done:
		return nil
	case <-t.C:
		return fmt.Errorf("the daemon did not stop within %s", m.stopWait)
	}
}

// exitCode is the daemon's exit status once it has returned.
func (m *managedDaemon) exitCode() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.code
}

// runManaged is `smtpwatch run`: under the Windows Service Control
// Manager through kardianos, with the log going to the Event Log as well;
// elsewhere runDaemon itself.
func (a *app) runManaged(ctx context.Context, args []string) int {
	if !underServiceManager() {
		return a.runDaemon(ctx, args)
	}
	m := &managedDaemon{run: func(ctx context.Context) int { return a.runDaemon(ctx, args) }, exit: exitProcess, stopWait: managedStopWait}
	s, err := kservice.New(m, &kservice.Config{Name: service.DefaultName})
	if err != nil {
		return a.fail("%v", err)
	}
	if l, err := s.Logger(nil); err == nil {
		a.stderr = eventLogWriter{l}
	}
	if err := s.Run(); err != nil {
		return a.fail("%v", err)
	}
	return m.exitCode()
}

// eventLogWriter sends each line the daemon logs (a whole slog record per
// Write) to a kardianos Logger — the Event Log on Windows — at the
// record's level.
type eventLogWriter struct{ l kservice.Logger }

func (w eventLogWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimRight(p, "\n"))
	var err error
	switch recordLevel(p) {
	case "ERROR":
		err = w.l.Error(line)
	case "WARN":
		err = w.l.Warning(line)
	default:
		err = w.l.Info(line)
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// recordLevel is the level of one record written by slog's text or JSON
// handler ("DEBUG", "INFO", "WARN", "ERROR"; "" when it says none). It
// reads the level where the handlers put it, right after the time, so a
// message that mentions a level does not fool it.
func recordLevel(p []byte) string {
	if v, ok := bytes.CutPrefix(p, []byte(`{"time":"`)); ok {
		if i := bytes.Index(v, []byte(`","level":"`)); i >= 0 {
			v = v[i+len(`","level":"`):]
			if j := bytes.IndexByte(v, '"'); j >= 0 {
				return levelWord(v[:j])
			}
		}
		return ""
	}
	f := bytes.Fields(p)
	for i, w := range f {
		if i > 1 {
			break
		}
		if v, ok := bytes.CutPrefix(w, []byte("level=")); ok {
			return levelWord(v)
		}
	}
	return ""
}

// levelWord is slog's level name without an offset ("WARN+2" is WARN).
func levelWord(v []byte) string {
	if i := bytes.IndexAny(v, "+-"); i > 0 {
		v = v[:i]
	}
	return string(v)
}
