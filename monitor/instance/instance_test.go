package instance

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAcquireTwice(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir)
	var he *HeldError
	if !errors.Is(err, ErrHeld) || !errors.As(err, &he) || he.PID != os.Getpid() {
		t.Fatalf("second Acquire: %v, want a HeldError naming process %d", err, os.Getpid())
	}
	if pid, held, err := Holder(dir); err != nil || !held || pid != os.Getpid() {
		t.Fatalf("Holder = %d, %v, %v; want %d, true", pid, held, err, os.Getpid())
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, held, err := Holder(dir); err != nil || held {
		t.Fatalf("after Release: held %v, err %v", held, err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

func TestHolderWithoutFile(t *testing.T) {
	if _, held, err := Holder(t.TempDir()); err != nil || held {
		t.Fatalf("empty dir: held %v, err %v", held, err)
	}
}

// TestKilledHolderReleases runs a second process that takes the lock, kills
// it with SIGKILL and checks the lock is free at once: a crashed daemon never
// blocks the next one.
func TestKilledHolderReleases(t *testing.T) {
	if dir := os.Getenv("INSTANCE_TEST_HOLD"); dir != "" {
		if _, err := Acquire(dir); err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString("held\n")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledHolderReleases$")
	cmd.Env = append(os.Environ(), "INSTANCE_TEST_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "held" {
		t.Fatalf("child did not take the lock: %q", line)
	}
	_, err = Acquire(dir)
	var he *HeldError
	if !errors.As(err, &he) || he.PID != cmd.Process.Pid {
		t.Fatalf("while the child holds it: %v, want process %d", err, cmd.Process.Pid)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
}

// TestAcquireWhileSomeoneLooks: Holder holds the lock for an instant to see
// whether it is free (`smtpwatch service status` does that); a daemon
// starting in that instant still gets it.
func TestAcquireWhileSomeoneLooks(t *testing.T) {
	dir := t.TempDir()
	f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ok, err := tryLock(f); !ok || err != nil {
		t.Fatalf("tryLock: %v %v", ok, err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(30 * time.Millisecond) // the look, made long
		unlock(f)
		close(released)
	}()
	l, err := Acquire(dir)
	<-released
	if err != nil {
		t.Fatalf("Acquire while the lock was looked at: %v", err)
	}
	l.Release()
}
