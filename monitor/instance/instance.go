// Package instance keeps smtpwatch to one daemon per state directory: the
// daemon holds an exclusive lock on <state dir>/smtpwatch.lock for its whole
// life, with its process id written in the file, so that a second daemon —
// started by cron or over ssh, where the socket's runtime directory differs
// — refuses to run on the same history and config, and so that `smtpwatch
// service` can tell whether a daemon runs and which process it is.
//
// The lock is the operating system's (flock on Unix, LockFileEx on
// Windows): it is released when the process ends, however it ends, so a
// killed daemon never leaves a stale lock behind.
package instance

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FileName is the lock file's name in the state directory.
const FileName = "smtpwatch.lock"

// ErrHeld is wrapped by Acquire's error when another process holds the
// lock; errors.As with *HeldError gives its process id.
var ErrHeld = errors.New("another smtpwatch daemon is running")

// HeldError says which process holds the lock.
type HeldError struct {
	Path string
	PID  int // 0 when the holder has not written its id yet
}

func (e *HeldError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("another smtpwatch daemon (process %d) is running with the same state directory (it holds %s)", e.PID, e.Path)
	}
	return fmt.Sprintf("another smtpwatch daemon is running with the same state directory (it holds %s)", e.Path)
}

func (e *HeldError) Unwrap() error { return ErrHeld }

// Acquire tries again this often, this many times, before it reports the
// lock as held: a look by Holder holds it for microseconds.
const (
	acquireTries = 5
	acquireRetry = 20 * time.Millisecond
)

// Lock is a held instance lock.
type Lock struct {
	f    *os.File
	path string
}

// Acquire takes the lock of stateDir (which must exist), waiting at most
// about 100 ms, and writes this process's id into the file. It returns an error wrapping
// ErrHeld (a *HeldError) when another process holds it. The lock lasts
// until Release or the end of the process.
func Acquire(stateDir string) (*Lock, error) {
	path := filepath.Join(stateDir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("instance lock: %w", err)
	}
	held, err := tryLock(f)
	// Holder takes the lock for an instant to see whether it is free; a
	// daemon starting in that instant must not give up. A real holder
	// keeps it.
	for i := 0; err == nil && !held && i < acquireTries; i++ {
		time.Sleep(acquireRetry)
		held, err = tryLock(f)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("instance lock %s: %w", path, err)
	}
	if !held {
		pid := readPID(f)
		f.Close()
		return nil, &HeldError{Path: path, PID: pid}
	}
	if err := writePID(f, os.Getpid()); err != nil {
		unlock(f)
		f.Close()
		return nil, fmt.Errorf("instance lock %s: %w", path, err)
	}
	return &Lock{f: f, path: path}, nil
}

// Release gives the lock up. The file stays: removing it would let a
// second daemon lock a new file while a third still waits on the old one.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	unlock(l.f)
	err := l.f.Close()
	l.f = nil
	return err
}

// Holder reports whether a process holds the lock of stateDir and, when it
// does, its process id (0 if it has not written it yet). A missing state
// directory or lock file means nobody holds it.
func Holder(stateDir string) (pid int, held bool, err error) {
	path := filepath.Join(stateDir, FileName)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("instance lock: %w", err)
	}
	defer f.Close()
	got, err := tryLock(f)
	if err != nil {
		return 0, false, fmt.Errorf("instance lock %s: %w", path, err)
	}
	if got {
		unlock(f)
		return 0, false, nil
	}
	return readPID(f), true, nil
}

func writePID(f *os.File, pid int) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0)
	return err
}

func readPID(f *os.File) int {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 32))
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 0
	}
	return n
}
