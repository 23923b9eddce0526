//go:build windows || (darwin && cgo)

package tray

import (
	"context"

	"github.com/gen2brain/beeep"

	"smtpwatch/icons"
)

// beeepNotifier shows notifications with gen2brain/beeep: toasts on
// Windows, the notification center on macOS. beeep takes no context and
// waits for the toast; ctx is not consulted.
type beeepNotifier struct{ icons *iconFiles }

func (n *beeepNotifier) Notify(_ context.Context, note notification) error {
	if p, err := n.icons.path(note.Icon); err == nil && p != "" {
		return beeep.Notify(note.Title, note.Body, p)
	}
	return beeep.Notify(note.Title, note.Body, icons.PNG(string(note.Icon)))
}
