//go:build !windows && !darwin

package main

import (
	"errors"
	"os"
	"os/exec"
)

// openBrowser opens url in the desktop's browser with xdg-open, without
// waiting for it. Outside a graphical session it opens nothing: xdg-open
// would start a text browser that takes over the terminal.
func openBrowser(url string) error {
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return errors.New("no graphical session")
	}
	return startDetached(exec.Command("xdg-open", url))
}
