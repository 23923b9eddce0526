// Package icons holds the smtpwatch tray icons, one per health state
// (see States), as embedded files: a 64x64 PNG for Linux and macOS, whose
// trays scale it to the panel, and on Windows a multi-size ICO (16, 24, 32
// and 48 px). It is data only: lookups, no drawing.
//
// Each icon is an envelope with a badge, distinct in shape and lightness as
// well as colour, and outlined so that it shows on light and dark panels:
// starting is a hollow envelope with a white disc holding three dots, ok a
// green disc with a check mark, degraded an amber triangle with "!", failing
// a red disc with a cross, offline a grey envelope struck through, paused a
// hollow envelope with a white disc holding two pause bars.
//
// The files in png/ and ico/ are generated; never edit them by hand. The
// drawing is code in internal/artwork; change it there and regenerate with
//
//	go generate ./icons/
//
// which runs gen/ to rewrite png/<state>.png (64 px), png/<state>-22.png
// (22 px, for packaging), ico/<state>.ico and preview.png, a contact sheet of
// every state at 16 to 32 px on a light and a dark panel: look at it before
// committing. The tests fail while the committed files differ from what the
// code draws.
package icons

//go:generate go run ./gen -preview

import _ "embed"

// States are the health states that have an icon, in display order. They
// are the state names used by the monitor package. Do not modify.
var States = []string{"starting", "ok", "degraded", "failing", "offline", "paused"}

var (
	//go:embed png/starting.png
	startingPNG []byte
	//go:embed png/ok.png
	okPNG []byte
	//go:embed png/degraded.png
	degradedPNG []byte
	//go:embed png/failing.png
	failingPNG []byte
	//go:embed png/offline.png
	offlinePNG []byte
	//go:embed png/paused.png
	pausedPNG []byte
)

var pngs = map[string][]byte{
	"starting": startingPNG,
	"ok":       okPNG,
	"degraded": degradedPNG,
	"failing":  failingPNG,
	"offline":  offlinePNG,
	"paused":   pausedPNG,
}

// PNG returns the 64x64 PNG icon of state. An unknown state gets the
// "starting" icon. The bytes are shared by every caller and must not be
// modified.
func PNG(state string) []byte {
	if b, ok := pngs[state]; ok {
		return b
	}
	return startingPNG
}
