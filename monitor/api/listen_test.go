package api

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestListenRefusesWhileAnotherAnswers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smtpwatch.sock")
	first, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()

	second, err := Listen(path)
	if err == nil {
		second.Close()
		t.Fatal("a second Listen on a live socket succeeded")
	}
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("error %v does not wrap ErrAlreadyRunning", err)
	}
	if want := "another smtpwatch is running for this user (socket " + path + ")"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	// The first daemon's socket is untouched and still answers.
	if !answers(path) {
		t.Error("the refused Listen broke the running daemon's socket")
	}
}

// staleSocket leaves a socket file that nothing listens on, as a daemon
// that was killed does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket file: %v", err)
	}
}

func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smtpwatch.sock")
	staleSocket(t, path)
	if answers(path) {
		t.Fatal("the stale socket answers")
	}
	ln, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer ln.Close()
	if !answers(path) {
		t.Error("the new socket does not answer")
	}
}

func TestListenLeavesOtherFilesAlone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smtpwatch.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(path)
	if err == nil {
		ln.Close()
		t.Fatal("Listen replaced a regular file")
	}
	if !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("error %q, want it to say the file is not a socket", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Error("the file was changed")
	}
}

func TestCloseRemovesSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "smtpwatch.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close: %v, want the socket file gone", err)
	}
}

func TestListenPathTooLong(t *testing.T) {
	path := filepath.Join(t.TempDir(), strings.Repeat("d", 120), "smtpwatch.sock")
	if ln, err := Listen(path); err == nil || !strings.Contains(err.Error(), "bytes long") {
		if ln != nil {
			ln.Close()
		}
		t.Errorf("got %v, want a clear error about the length", err)
	}
}
