//go:build !windows

package credential

import (
	"context"
	"os/exec"
	"syscall"
)

// shellCommand runs command with sh -c in a process group of its own, so
// that cancelling ctx kills the shell and everything it started.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	return cmd
}
