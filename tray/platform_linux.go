package tray

import (
	"context"
	"log/slog"
	"os/exec"
)

// newPlatform checks for a session bus first (ErrUnavailable without one)
// and sets up notifications on a private connection to it.
func newPlatform(ctx context.Context, o Options, log *slog.Logger) (*platform, error) {
	addr, err := desktop(ctx)
	if err != nil {
		return nil, err
	}
	n := newDBusNotifier(ctx, addr, newIconFiles(o.StateDir), log)
	return &platform{
		notify: n,
		open:   xdgOpen,
		background: func(ctx context.Context) {
			keepRegistered(ctx, addr, pollEvery, log)
		},
		title: "smtpwatch",
		close: n.Close,
	}, nil
}

// xdgOpen opens path with xdg-open and does not wait for the viewer.
func xdgOpen(path string) error {
	return startDetached(exec.Command("xdg-open", path))
}
