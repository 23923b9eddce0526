//go:build linux

package api

import (
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// nobody is the user the test connects as: not the daemon's, not root.
const nobody = 65534

// TestAnotherUserCannotConnect: the README promises a socket "only you can
// open". Another local user tries, for real: a copy of this test binary
// runs as uid 65534 and dials the socket, once where only the socket's own
// mode stands in the way (its directory is open to all) and once in the
// directory Listen makes. Both must be refused; a connection that gets
// through would let any user of the machine read the status and pause the
// checks. Needs root to change user; the daemon side runs as root here,
// which is "another user" for uid 65534 all the same.
func TestAnotherUserCannotConnect(t *testing.T) {
	if os.Getenv("API_TEST_DIAL") != "" {
		c, err := net.Dial("unix", os.Getenv("API_TEST_DIAL"))
		switch {
		case err == nil:
			c.Close()
			os.Exit(10) // connected
		case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM):
			os.Exit(11) // refused by permissions
		}
		os.Exit(12)
	}
	if os.Getuid() != 0 {
		t.Skip("needs root to run a process as another user")
	}
	old := syscall.Umask(0) // the worst umask: a socket would be bound 0777
	defer syscall.Umask(old)

	// A directory every user may enter, outside the test's 0700 temp dir.
	open, err := os.MkdirTemp("", "swapi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(open) })
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(open, "api.test")
	copyExecutable(t, bin)

	for name, path := range map[string]string{
		"socket in an open directory":  filepath.Join(open, "smtpwatch.sock"),
		"socket in Listen's directory": filepath.Join(open, "run", "smtpwatch.sock"),
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := Listen(path)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
			// The same dial as root gets through: the socket works.
			if c, err := net.Dial("unix", path); err != nil {
				t.Fatalf("root cannot connect: %v", err)
			} else {
				c.Close()
			}
			cmd := exec.Command(bin, "-test.run=^TestAnotherUserCannotConnect$")
			cmd.Env = []string{"API_TEST_DIAL=" + path}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("the other user's process: %v\n%s", err, out)
			}
			switch ee.ExitCode() {
			case 11:
			case 10:
				t.Fatalf("uid %d connected to %s", nobody, path)
			default:
				t.Fatalf("the other user's dial failed for another reason (exit %d):\n%s", ee.ExitCode(), out)
			}
		})
	}
}

// copyExecutable copies this test binary to dst, readable and executable
// by everyone (the build directory is not).
func copyExecutable(t *testing.T, dst string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
