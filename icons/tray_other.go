//go:build !windows

package icons

// Tray returns the icon of state in the format the platform's system tray
// takes (fyne.io/systray SetIcon): the 64x64 PNG, as from PNG, here; ICO on
// Windows. An unknown state gets the "starting" icon. The bytes are shared
// and must not be modified.
func Tray(state string) []byte { return PNG(state) }
