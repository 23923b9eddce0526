package e2e

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestConfigCheckStopsOnSignal: `smtpwatch check` stops at once on SIGINT
// or SIGTERM wherever it is — while loading its config file (a FIFO that
// is opened but never written), or while waiting for a server that never
// greets — and says why. Before, a config that took long to load held it
// past SIGTERM. Runs the real binary; needs no Postfix.
func TestConfigCheckStopsOnSignal(t *testing.T) {
	bin := smtpwatchBin(t)
	dir := t.TempDir()

	// A server that accepts and never says a word.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run("config load "+sig.String(), func(t *testing.T) {
			fifo := filepath.Join(dir, "config-"+sig.String()+".toml")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("no FIFO here: %v", err)
			}
			cmd, stderr := startCheck(t, bin, "check", "--config", fifo)
			// Open the FIFO for writing once the check has it open for
			// reading, and never write: its read then blocks for good.
			var w *os.File
			deadline := time.Now().Add(20 * time.Second)
			for w == nil {
				f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
				switch {
				case err == nil:
					w = f
				case !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline):
					cmd.Process.Kill()
					t.Fatalf("the check never opened its config: %v", err)
				default:
					time.Sleep(10 * time.Millisecond) // polling a FIFO: nothing to wait on
				}
			}
			defer w.Close()
			stopAndWait(t, cmd, sig, stderr)
		})
		t.Run("silent server "+sig.String(), func(t *testing.T) {
			cmd, stderr := startCheck(t, bin, "check", "--server", ln.Addr().String(), "--security", "starttls",
				"--timeout", "60s", "--online-targets", "none", "--alternatives", "none")
			deadline := time.Now().Add(20 * time.Second)
			for !hasConnection(cmd.Process.Pid) {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("the check never connected")
				}
				time.Sleep(10 * time.Millisecond) // polling /proc: nothing to wait on
			}
			stopAndWait(t, cmd, sig, stderr)
		})
	}
}

func startCheck(t *testing.T, bin string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS=disabled:")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// stopAndWait sends sig and wants the process gone within 5 s, with exit
// status 3 and a message that names the signal.
func stopAndWait(t *testing.T, cmd *exec.Cmd, sig syscall.Signal, stderr *bytes.Buffer) {
	t.Helper()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Errorf("exit: %v, want status 3", err)
		}
		want := map[syscall.Signal]string{syscall.SIGTERM: "stopped: terminated signal received", syscall.SIGINT: "stopped: interrupt signal received"}[sig]
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q lacks %q", stderr.String(), want)
		}
	case <-ctx.Done():
		cmd.Process.Kill()
		<-done
		t.Fatalf("still running 5 s after %v", sig)
	}
}

// hasConnection reports whether the process has a TCP connection open.
func hasConnection(pid int) bool {
	fds, _ := filepath.Glob(filepath.Join("/proc", strconv.Itoa(pid), "fd", "*"))
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "socket:") {
			return true
		}
	}
	return false
}
