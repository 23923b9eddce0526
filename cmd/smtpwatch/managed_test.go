package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kservice "github.com/kardianos/service"

	"smtpwatch/monitor/api"
)

// The Service Control Manager's side of `smtpwatch run`, driven here as
// kardianos drives it on Windows (the SCM itself cannot run here): Start
// answers at once while the real daemon comes up and then answers on its
// socket; Stop ends it cleanly — socket gone, exit status 0 — within its
// bound.
func TestManagedDaemon(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	sock := filepath.Join(dir, "api", "smtpwatch.sock")
	state := filepath.Join(dir, "state")
	if err := os.WriteFile(cfg, []byte("[online]\ntargets = []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	c := &cli{env: map[string]string{}}
	a := &app{stdout: &c.stdout, stderr: &syncBuffer{}, getenv: func(string) string { return "" }, logger: slog.New(slog.DiscardHandler)}
	exits := make(chan int, 1)
	m := &managedDaemon{
		run: func(ctx context.Context) int {
			return a.runDaemon(ctx, []string{"--config", cfg, "--headless", "--socket", sock, "--state-dir", state})
		},
		exit:     func(code int) { exits <- code },
		stopWait: 10 * time.Second,
	}
	began := time.Now()
	if err := m.Start(nil); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > time.Second {
		t.Errorf("Start took %v: the SCM wants an answer at once", took)
	}
	client := api.NewClient(sock)
	defer client.Close()
	eventually(t, 10*time.Second, "the daemon answers", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := client.Status(ctx)
		return err == nil
	})
	if _, err := os.Stat(filepath.Join(state, "history.db")); err != nil {
		t.Errorf("--state-dir not used: %v", err)
	}
	if err := m.Stop(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after Stop: %v", err)
	}
	if m.exitCode() != 0 {
		t.Errorf("exit status %d after Stop", m.exitCode())
	}
	select {
	case code := <-exits:
		t.Errorf("a stop the SCM asked for exited the process (%d) before the SCM heard it stopped", code)
	default:
	}
}

// A daemon that cannot start ends the process with its exit status, so
// the SCM sees a failure and restarts it; Stop then has nothing to wait
// for, and a daemon that will not end makes Stop fail at its bound rather
// than hang the SCM.
func TestManagedDaemonFailures(t *testing.T) {
	a := &app{stdout: &bytes.Buffer{}, stderr: &syncBuffer{}, getenv: func(string) string { return "" }, logger: slog.New(slog.DiscardHandler)}
	exits := make(chan int, 1)
	gone := filepath.Join(t.TempDir(), "gone.toml")
	m := &managedDaemon{run: func(ctx context.Context) int { return a.runDaemon(ctx, []string{"--config", gone, "--headless"}) },
		exit: func(code int) { exits <- code }, stopWait: time.Second}
	if err := m.Start(nil); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-exits:
		if code != exitUnknown {
			t.Errorf("exit status %d, want %d", code, exitUnknown)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a daemon without its config did not end the process")
	}
	if err := m.Stop(nil); err != nil {
		t.Errorf("Stop after the daemon ended: %v", err)
	}

	release := make(chan struct{})
	defer close(release)
	stuck := &managedDaemon{run: func(context.Context) int { <-release; return 0 }, exit: func(int) {}, stopWait: 200 * time.Millisecond}
	stuck.Start(nil)
	began := time.Now()
	if err := stuck.Stop(nil); err == nil || time.Since(began) > 5*time.Second {
		t.Errorf("Stop of a daemon that does not end: %v after %v", err, time.Since(began))
	}
}

// eventLog records what would go to the Event Log.
type eventLog struct{ lines []string }

func (e *eventLog) Error(v ...any) error {
	e.lines = append(e.lines, "error: "+strings.TrimSpace(sprint(v)))
	return nil
}
func (e *eventLog) Warning(v ...any) error {
	e.lines = append(e.lines, "warning: "+strings.TrimSpace(sprint(v)))
	return nil
}
func (e *eventLog) Info(v ...any) error {
	e.lines = append(e.lines, "info: "+strings.TrimSpace(sprint(v)))
	return nil
}
func (e *eventLog) Errorf(f string, v ...any) error   { return e.Error(f) }
func (e *eventLog) Warningf(f string, v ...any) error { return e.Warning(f) }
func (e *eventLog) Infof(f string, v ...any) error    { return e.Info(f) }

func sprint(v []any) string {
	var b strings.Builder
	for _, x := range v {
		b.WriteString(x.(string))
	}
	return b.String()
}

var _ kservice.Logger = (*eventLog)(nil)

// What the daemon logs reaches the Event Log at its own level, from the
// text and the JSON handlers alike; a message that speaks of a level does
// not change it.
func TestEventLogWriter(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		el := &eventLog{}
		a := &app{stderr: eventLogWriter{el}}
		newLogger, err := a.loggerFactory(daemonFlags{logFormat: format, logLevel: "debug"})
		if err != nil {
			t.Fatal(err)
		}
		var file bytes.Buffer
		l := newLogger(&file)
		l.Info("checking level=ERROR in a message", "account", "work")
		l.Warn("slow server")
		l.Error("cannot open history", "err", `"level":"INFO"`)
		l.Log(context.Background(), slog.LevelWarn+2, "nearly an error")
		l.Debug("detail")
		want := []string{"info", "warning", "error", "warning", "info"}
		if len(el.lines) != len(want) {
			t.Fatalf("%s: %d entries: %q", format, len(el.lines), el.lines)
		}
		for i, w := range want {
			if !strings.HasPrefix(el.lines[i], w+": ") {
				t.Errorf("%s: entry %d = %q, want level %s", format, i, el.lines[i], w)
			}
		}
		if !strings.Contains(el.lines[2], "cannot open history") || strings.HasSuffix(el.lines[2], "\n") {
			t.Errorf("%s: entry %q", format, el.lines[2])
		}
	}
}
