//go:build !linux && !windows && !(darwin && cgo)

package tray

import "context"

// run: this build has no tray. macOS needs cgo for fyne.io/systray (build
// it on a Mac); other systems are not supported.
func run(context.Context, Options) error { return ErrUnavailable }
