//go:build darwin && cgo

package tray

import (
	"context"
	"log/slog"
	"os/exec"

	"github.com/gen2brain/beeep"
)

// newPlatform sends notifications through gen2brain/beeep (the
// notification center) and opens files with open(1). The menu bar needs a
// cgo build made on a Mac.
func newPlatform(ctx context.Context, o Options, log *slog.Logger) (*platform, error) {
	beeep.AppName = "smtpwatch"
	return &platform{
		notify: &beeepNotifier{icons: newIconFiles(o.StateDir)},
		open:   func(path string) error { return startDetached(exec.Command("open", path)) },
		close:  func() {},
	}, nil
}
