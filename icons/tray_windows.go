package icons

import _ "embed"

var (
	//go:embed ico/starting.ico
	startingICO []byte
	//go:embed ico/ok.ico
	okICO []byte
	//go:embed ico/degraded.ico
	degradedICO []byte
	//go:embed ico/failing.ico
	failingICO []byte
	//go:embed ico/offline.ico
	offlineICO []byte
	//go:embed ico/paused.ico
	pausedICO []byte
)

var icos = map[string][]byte{
	"starting": startingICO,
	"ok":       okICO,
	"degraded": degradedICO,
	"failing":  failingICO,
	"offline":  offlineICO,
	"paused":   pausedICO,
}

// Tray returns the icon of state in the format the platform's system tray
// takes (fyne.io/systray SetIcon): here an ICO holding 16, 24, 32 and 48 px
// images, so Windows picks the one for the display scaling; the 64x64 PNG
// elsewhere. An unknown state gets the "starting" icon. The bytes are shared
// and must not be modified.
func Tray(state string) []byte {
	if b, ok := icos[state]; ok {
		return b
	}
	return startingICO
}
