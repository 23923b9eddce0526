package tray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"syscall"

	"github.com/gen2brain/beeep"
	"golang.org/x/sys/windows"
)

// newPlatform refuses session 0 (a Windows service has no desktop) and
// sends notifications as toasts through gen2brain/beeep.
//
// Build the Windows binary as a GUI program, so that starting it at logon
// opens no console window:
//
//	GOOS=windows go build -ldflags -H=windowsgui -o smtpwatch.exe ./cmd/smtpwatch
//
// Such a binary has no console for the other subcommands' output; ship it
// beside a console build, or start it as smtpwatch.exe run from a logon task.
func newPlatform(ctx context.Context, o Options, log *slog.Logger) (*platform, error) {
	var session uint32
	if err := windows.ProcessIdToSessionId(windows.GetCurrentProcessId(), &session); err == nil && session == 0 {
		return nil, fmt.Errorf("%w: running in session 0 (a service) has no desktop", ErrUnavailable)
	}
	beeep.AppName = "smtpwatch"
	return &platform{
		notify:       &beeepNotifier{icons: newIconFiles(o.StateDir)},
		open:         shellOpen,
		tooltipLimit: 127, // NOTIFYICONDATA's szTip holds 128 UTF-16 units with the NUL
		close:        func() {},
	}, nil
}

// shellOpen opens path with its associated program (cmd /c start) without
// a console window.
func shellOpen(path string) error {
	if path == "" {
		return errors.New("nothing to open")
	}
	cmd := exec.Command("cmd", "/c", "start", "", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{HideWindow: true}
	return startDetached(cmd)
}
