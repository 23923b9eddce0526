//go:build linux

package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// TestCheckPromptsForPassword: in a terminal, check --username without a
// password source asks for the password on the terminal, with echo off,
// and signs in with it — on a real pseudo-terminal.
func TestCheckPromptsForPassword(t *testing.T) {
	tb := newTestbed(t)
	t.Setenv("SMTPWATCH_PASSWORD", "")
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()

	// Everything the terminal shows.
	var (
		mu     sync.Mutex
		screen bytes.Buffer
	)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		buf := make([]byte, 1024)
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			screen.Write(buf[:n])
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	shown := func() string { mu.Lock(); defer mu.Unlock(); return screen.String() }

	var stdout bytes.Buffer
	a := &app{stdin: tty, stdout: &stdout, stderr: tty, getenv: func(string) string { return "" },
		logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- a.main(ctx, tb.adHoc("--username", testUser)) }()

	// Wait for the prompt, then for echo to be off, then type.
	waitFor(t, ctx, "the prompt", func() bool { return strings.Contains(shown(), "Password for "+testUser) })
	waitFor(t, ctx, "echo off", func() bool {
		tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		return err == nil && tio.Lflag&unix.ECHO == 0
	})
	if _, err := ptmx.Write([]byte(testPass + "\r")); err != nil {
		t.Fatal(err)
	}
	var code int
	select {
	case code = <-done:
	case <-ctx.Done():
		t.Fatalf("check did not finish; terminal shows %q", shown())
	}
	if code != 0 || !strings.Contains(stdout.String(), "AUTH PLAIN accepted") {
		t.Errorf("exit %d\n%s\nterminal: %q", code, stdout.String(), shown())
	}
	if !strings.Contains(stdout.String(), "Report for support") {
		t.Errorf("no report:\n%s", stdout.String())
	}
	tty.Close()
	<-readDone
	if strings.Contains(shown(), testPass) {
		t.Errorf("the terminal echoed the password: %q", shown())
	}
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}
