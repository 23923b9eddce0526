// Package paths says where smtpwatch keeps its files on each OS: the config
// (see config.DefaultPath), the state directory for history and the
// report, and the runtime directory for the daemon's socket.
package paths

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
)

// StateDir is where history and generated reports live:
// $XDG_STATE_HOME/smtpwatch or ~/.local/state/smtpwatch on Linux and other
// Unixes, ~/Library/Application Support/smtpwatch on macOS,
// %LocalAppData%\smtpwatch on Windows. It does not create it.
func StateDir() (string, error) {
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "smtpwatch"), nil
		}
		return "", errors.New("state dir: %LocalAppData% is not set")
	case "darwin":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(home, "Library", "Application Support", "smtpwatch"), nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "smtpwatch"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "state", "smtpwatch"), nil
}

// RuntimeDir is where the daemon's socket lives: $XDG_RUNTIME_DIR/smtpwatch
// when set (Linux desktops), else the state directory, which only the user
// can open. It does not create it.
func RuntimeDir() (string, error) {
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" {
		if d := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
			return filepath.Join(d, "smtpwatch"), nil
		}
	}
	return StateDir()
}

// SocketPath is the daemon's API socket.
func SocketPath() (string, error) {
	d, err := RuntimeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "smtpwatch.sock"), nil
}
