//go:build windows

package credential

import (
	"context"
	"os"
	"os/exec"
	"syscall"
)

// shellCommand runs command with cmd /C. The command line is passed as
// written: cmd.exe does its own parsing, which Go's argument quoting would
// break.
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	shell := os.Getenv("ComSpec")
	if shell == "" {
		shell = "cmd.exe"
	}
	cmd := exec.CommandContext(ctx, shell)
	cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: `cmd.exe /S /C "` + command + `"`}
	return cmd
}
