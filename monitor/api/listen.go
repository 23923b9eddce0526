package api

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// ErrAlreadyRunning is wrapped by Listen's error when another daemon
// answers on the socket.
var ErrAlreadyRunning = errors.New("another smtpwatch is running for this user")

// maxSocketPath is the longest socket path every OS takes: sun_path is
// 104 bytes on macOS and the BSDs (108 on Linux and Windows), with a NUL.
const maxSocketPath = 103

// probeTimeout bounds the dial that tells a live socket from a stale one.
const probeTimeout = time.Second

// Listen makes the API's Unix socket at path: it creates the directory
// (mode 0700; on Windows with the descriptor of PrivateDirSDDL) if
// needed, refuses with an error wrapping ErrAlreadyRunning
// if something answers on an existing socket there, removes the socket if
// nothing does (a daemon that was killed leaves it behind), binds, and
// makes the socket mode 0600 (on Windows the directory's ACL protects it;
// see the package doc). A file at path that is not a socket is left alone
// and reported as an error.
//
// Closing the listener removes the socket file; Serve closes it.
func Listen(path string) (net.Listener, error) {
	if len(path) > maxSocketPath {
		return nil, fmt.Errorf("api: listen: socket path %s is %d bytes long; the OS allows %d", path, len(path), maxSocketPath)
	}
	if err := makeSocketDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("api: listen: %w", err)
	}
	fi, err := os.Lstat(path)
	switch {
	case err == nil:
		if answers(path) {
			return nil, alreadyRunning(path)
		}
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("api: listen: %s exists and is not a socket; move it away", path)
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("api: listen: removing stale socket: %w", err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("api: listen: %w", err)
	}

	ln, err := net.Listen("unix", path)
	if err != nil {
		// Another daemon may have bound it since we looked.
		if answers(path) {
			return nil, alreadyRunning(path)
		}
		return nil, fmt.Errorf("api: listen: %w", err)
	}
	if runtime.GOOS != "windows" {
		// Bound with the umask's mode; tighten it before serving. The 0700
		// directory keeps others out in between.
		if err := os.Chmod(path, 0o600); err != nil {
			ln.Close()
			return nil, fmt.Errorf("api: listen: %w", err)
		}
	}
	return ln, nil
}

func alreadyRunning(path string) error {
	return fmt.Errorf("%w (socket %s)", ErrAlreadyRunning, path)
}

// answers reports whether something accepts connections on the socket.
func answers(path string) bool {
	c, err := net.DialTimeout("unix", path, probeTimeout)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
