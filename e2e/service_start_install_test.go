package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"testing"
)

// TestServiceStartInstall runs what the Windows Start menu entry runs,
// `smtpwatch service start --install`, here where it can run (the
// autostart entry of a Linux user without a user manager): the first time
// it installs smtpwatch for the user's logins, writes the config and
// starts the daemon; the next time it only says the daemon runs, and
// installs nothing twice.
func TestServiceStartInstall(t *testing.T) {
	s := newServiceEnv(t)
	m := expect(t, s.run(t, "service", "start", "--install"), 0,
		`^Installed: autostart entry `+regexp.QuoteMeta(s.entry)+`, started at login\.\nWrote the commented config file `+regexp.QuoteMeta(s.config)+
			`.*\nStarted \(process (\d+)\)\.\n$`)
	pid, _ := strconv.Atoi(m[1])
	killAtEnd(t, pid)
	t.Cleanup(func() { s.run(t, "service", "uninstall") })
	expect(t, s.run(t, "service", "start", "--install"), 0, fmt.Sprintf(`^Already running \(process %d\)\.\n$`, pid))
	expect(t, s.run(t, "service", "status"), 0, fmt.Sprintf(`^Installed: autostart entry .*\nRunning \(process %d\)`, pid))
	expect(t, s.run(t, "service", "stop"), 0, fmt.Sprintf(`^Stopped \(process %d\)\.\n$`, pid))
	m = expect(t, s.run(t, "service", "start", "--install"), 0, `^Started \(process (\d+)\)\.\n$`)
	pid, _ = strconv.Atoi(m[1])
	killAtEnd(t, pid)
}
