package icons_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"testing"

	"smtpwatch/icons"
	"smtpwatch/icons/internal/artwork"
)

// The sizes every icon must exist at: the two PNGs, then the ICO entries.
var (
	pngSizes = map[string]int{"png/%s.png": 64, "png/%s-22.png": 22}
	icoSizes = []int{16, 24, 32, 48}
)

// Panels the icons must show on: white, and the near-black of dark themes.
var (
	white     = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	nearBlack = color.NRGBA{0x20, 0x20, 0x20, 0xff}
)

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.FromSlash(name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodePNG(t *testing.T, name string, data []byte, size int) *image.NRGBA {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("%s: not a PNG", name)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if b := img.Bounds(); b.Dx() != size || b.Dy() != size {
		t.Fatalf("%s: %dx%d, want %dx%d", name, b.Dx(), b.Dy(), size, size)
	}
	n, ok := img.(*image.NRGBA)
	if !ok {
		t.Fatalf("%s: decoded as %T, want *image.NRGBA (8-bit RGBA with alpha)", name, img)
	}
	return n
}

// icoEntry is one ICONDIRENTRY and the image it points at.
type icoEntry struct {
	width, height int
	planes, bits  uint16
	data          []byte
}

// parseICO reads an ICO container by the format, independently of the
// generator's writer.
func parseICO(data []byte) ([]icoEntry, error) {
	le := binary.LittleEndian
	if len(data) < 6 {
		return nil, fmt.Errorf("short ICONDIR")
	}
	if reserved, typ := le.Uint16(data), le.Uint16(data[2:]); reserved != 0 || typ != 1 {
		return nil, fmt.Errorf("ICONDIR reserved=%d type=%d, want 0 and 1 (icon)", reserved, typ)
	}
	count := int(le.Uint16(data[4:]))
	end := 6 + 16*count
	if len(data) < end {
		return nil, fmt.Errorf("short directory for %d entries", count)
	}
	var entries []icoEntry
	for i := range count {
		e := data[6+16*i : 6+16*(i+1)]
		side := func(b byte) int {
			if b == 0 {
				return 256
			}
			return int(b)
		}
		size, offset := int(le.Uint32(e[8:])), int(le.Uint32(e[12:]))
		if offset < end || size <= 0 || offset+size > len(data) {
			return nil, fmt.Errorf("entry %d: %d bytes at %d outside the data (file %d bytes, directory ends at %d)",
				i, size, offset, len(data), end)
		}
		if e[2] != 0 || e[3] != 0 {
			return nil, fmt.Errorf("entry %d: colour count %d, reserved %d, want 0 and 0", i, e[2], e[3])
		}
		entries = append(entries, icoEntry{
			width: side(e[0]), height: side(e[1]),
			planes: le.Uint16(e[4:]), bits: le.Uint16(e[6:]),
			data: data[offset : offset+size],
		})
	}
	return entries, nil
}

// renderings returns every committed image of every state, decoded and
// checked for size: key "<state>" then "<size>" ("16".."64").
func renderings(t *testing.T) map[string]map[int]*image.NRGBA {
	t.Helper()
	all := make(map[string]map[int]*image.NRGBA)
	for _, state := range icons.States {
		all[state] = make(map[int]*image.NRGBA)
		for pattern, size := range pngSizes {
			name := fmt.Sprintf(pattern, state)
			all[state][size] = decodePNG(t, name, readFile(t, name), size)
		}
		name := "ico/" + state + ".ico"
		entries, err := parseICO(readFile(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i, e := range entries {
			where := fmt.Sprintf("%s entry %d", name, i)
			all[state][e.width] = decodePNG(t, where, e.data, e.width)
		}
	}
	return all
}

func TestStatesMatchArtwork(t *testing.T) {
	if !slices.Equal(icons.States, artwork.States) {
		t.Fatalf("icons.States = %q, artwork.States = %q: keep them the same", icons.States, artwork.States)
	}
	want := []string{"starting", "ok", "degraded", "failing", "offline", "paused"}
	if !slices.Equal(icons.States, want) {
		t.Fatalf("States = %q, want %q (the health states of DESIGN.md, display order)", icons.States, want)
	}
}

// Every state has both PNGs at their sizes, and PNG serves the committed
// 64 px file.
func TestPNG(t *testing.T) {
	for _, state := range icons.States {
		for pattern, size := range pngSizes {
			name := fmt.Sprintf(pattern, state)
			decodePNG(t, name, readFile(t, name), size)
		}
		got := icons.PNG(state)
		decodePNG(t, "PNG("+state+")", got, 64)
		if want := readFile(t, "png/"+state+".png"); !bytes.Equal(got, want) {
			t.Errorf("PNG(%q) is not png/%s.png", state, state)
		}
	}
}

// Every state has an ICO that lists exactly 16, 24, 32 and 48 px, 32-bit,
// whose images are PNGs that decode at those sizes.
func TestICO(t *testing.T) {
	for _, state := range icons.States {
		name := "ico/" + state + ".ico"
		entries, err := parseICO(readFile(t, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var sizes []int
		for i, e := range entries {
			where := fmt.Sprintf("%s entry %d", name, i)
			if e.width != e.height {
				t.Errorf("%s: %dx%d, want square", where, e.width, e.height)
			}
			if e.planes != 1 || e.bits != 32 {
				t.Errorf("%s: planes=%d bits=%d, want 1 and 32", where, e.planes, e.bits)
			}
			decodePNG(t, where, e.data, e.width)
			sizes = append(sizes, e.width)
		}
		if !slices.Equal(sizes, icoSizes) {
			t.Errorf("%s lists sizes %v, want %v", name, sizes, icoSizes)
		}
	}
}

// Tray serves ICO on Windows and the 64 px PNG elsewhere.
func TestTray(t *testing.T) {
	for _, state := range icons.States {
		want := readFile(t, "png/"+state+".png")
		if runtime.GOOS == "windows" {
			want = readFile(t, "ico/"+state+".ico")
		}
		if !bytes.Equal(icons.Tray(state), want) {
			t.Errorf("Tray(%q) on %s is not the right file", state, runtime.GOOS)
		}
	}
}

func TestUnknownStateIsStarting(t *testing.T) {
	for _, state := range []string{"", "OK", "unknown", "failed"} {
		if !bytes.Equal(icons.PNG(state), icons.PNG("starting")) {
			t.Errorf("PNG(%q) is not the starting icon", state)
		}
		if !bytes.Equal(icons.Tray(state), icons.Tray("starting")) {
			t.Errorf("Tray(%q) is not the starting icon", state)
		}
	}
}

// No two states share an icon, at any size.
func TestIconsDiffer(t *testing.T) {
	all := renderings(t)
	for i, a := range icons.States {
		for _, b := range icons.States[i+1:] {
			for size, img := range all[a] {
				if bytes.Equal(img.Pix, all[b][size].Pix) {
					t.Errorf("%s and %s look the same at %d px", a, b, size)
				}
			}
		}
	}
}

// The committed files are exactly what the drawing code produces now, and
// there are no others: nobody edited a PNG by hand or forgot to regenerate.
func TestFilesUpToDate(t *testing.T) {
	want, err := artwork.Files()
	if err != nil {
		t.Fatal(err)
	}
	sheet, err := artwork.EncodePNG(artwork.Preview(1))
	if err != nil {
		t.Fatal(err)
	}
	want["preview.png"] = sheet

	for name, data := range want {
		got, err := os.ReadFile(filepath.FromSlash(name))
		if err != nil {
			t.Errorf("%v: run go generate ./icons/", err)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s differs from what internal/artwork draws%s: run go generate ./icons/",
				name, samePixels(got, data))
		}
	}
	for _, pattern := range []string{"png/*", "ico/*"} {
		onDisk, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range onDisk {
			if _, ok := want[filepath.ToSlash(name)]; !ok {
				t.Errorf("%s is not made by the generator: delete it, or add it to internal/artwork", name)
			}
		}
	}
}

// samePixels explains a byte mismatch: if only the PNG encoding differs
// (another Go version's compressor, say), it says so.
func samePixels(a, b []byte) string {
	ia, errA := png.Decode(bytes.NewReader(a))
	ib, errB := png.Decode(bytes.NewReader(b))
	if errA != nil || errB != nil {
		return ""
	}
	na, okA := ia.(*image.NRGBA)
	nb, okB := ib.(*image.NRGBA)
	if okA && okB && na.Rect == nb.Rect && bytes.Equal(na.Pix, nb.Pix) {
		return " (the pixels are the same, only the PNG encoding differs)"
	}
	return ""
}

// over composites c onto an opaque background, as a tray host does.
func over(c, bg color.NRGBA) [3]float64 {
	a := float64(c.A) / 255
	mix := func(f, b uint8) float64 { return (a*float64(f) + (1-a)*float64(b)) / 255 }
	return [3]float64{mix(c.R, bg.R), mix(c.G, bg.G), mix(c.B, bg.B)}
}

// luminance is the relative luminance Y (0..1) of an sRGB colour.
func luminance(rgb [3]float64) float64 {
	lin := func(v float64) float64 {
		if v <= 0.04045 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(rgb[0]) + 0.7152*lin(rgb[1]) + 0.0722*lin(rgb[2])
}

// lightness is CIE L* (0..100), luminance on a perceptually even scale.
func lightness(y float64) float64 {
	if y > 216.0/24389 {
		return 116*math.Cbrt(y) - 16
	}
	return y * 24389 / 27
}

// greyscale renders img on bg as lightness only, as someone who cannot tell
// the hues apart (or a monochrome panel) sees it.
func greyscale(img *image.NRGBA, bg color.NRGBA) []float64 {
	b := img.Bounds()
	out := make([]float64, 0, b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out = append(out, lightness(luminance(over(img.NRGBAAt(x, y), bg))))
		}
	}
	return out
}

// meanDifference is the mean absolute difference of two greyscale
// renderings, in L* units.
func meanDifference(a, b []float64) float64 {
	var sum float64
	for i := range a {
		sum += math.Abs(a[i] - b[i])
	}
	return sum / float64(len(a))
}

// Colour-blind safety: without hue, on either panel, every pair of states
// still differs clearly at tray sizes. The threshold is a mean of 4 L* over
// the whole icon; for scale, a 16 px icon differing only in its 9 px badge
// disc by 20 L* scores about 5. (A design whose red failing disc had the
// lightness of a grey paused disc scored 2.5 and failed.)
func TestStatesDistinctInGreyscale(t *testing.T) {
	const threshold = 5.0
	all := renderings(t)
	for _, size := range []int{16, 22, 24} {
		for _, bg := range []color.NRGBA{white, nearBlack} {
			worst, worstPair := math.Inf(1), ""
			for i, a := range icons.States {
				ga := greyscale(all[a][size], bg)
				for _, b := range icons.States[i+1:] {
					d := meanDifference(ga, greyscale(all[b][size], bg))
					if d < threshold {
						t.Errorf("%s and %s at %d px on %v differ by only %.1f L* in greyscale, want >= %.1f",
							a, b, size, bg, d, threshold)
					}
					if d < worst {
						worst, worstPair = d, a+"/"+b
					}
				}
			}
			t.Logf("%d px on %v: closest pair %s, %.1f L*", size, bg, worstPair, worst)
		}
	}
}

// contrastShare is the share of img's painted area (weighted by alpha) whose
// colour has a WCAG contrast ratio of at least 3:1 with the panel bg, the
// minimum for graphical objects (WCAG 2.1, 1.4.11).
func contrastShare(img *image.NRGBA, bg color.NRGBA) float64 {
	yBg := luminance(over(bg, bg))
	var painted, contrasting float64
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := img.NRGBAAt(x, y)
			a := float64(c.A) / 255
			if a == 0 {
				continue
			}
			painted += a
			opaque := c
			opaque.A = 255
			yc := luminance(over(opaque, bg))
			if (math.Max(yc, yBg)+0.05)/(math.Min(yc, yBg)+0.05) >= 3 {
				contrasting += a
			}
		}
	}
	if painted == 0 {
		return 0
	}
	return contrasting / painted
}

// minContrastShare is how much of an icon must stand out from the panel.
// Outlines carry an icon on a light panel, fills on a dark one, so neither
// panel sees all of it. The weakest icon, degraded on white (an amber
// triangle on a white envelope, both carried by their ink outline), scores
// 36% at 22 px; the same icon with its outline removed scores 11%.
const minContrastShare = 0.30

// Every icon stands out against a white and a near-black panel at 22 px
// (and the 16 px Windows size): enough of it has 3:1 contrast with the
// panel, which the dark outline gives on white and the light fills on dark.
func TestContrastOnLightAndDarkPanels(t *testing.T) {
	all := renderings(t)
	for _, state := range icons.States {
		for _, size := range []int{16, 22} {
			for _, bg := range []color.NRGBA{white, nearBlack} {
				share := contrastShare(all[state][size], bg)
				t.Logf("%s at %d px on %v: %.0f%% contrasting", state, size, bg, 100*share)
				if share < minContrastShare {
					t.Errorf("%s at %d px on %v: only %.0f%% of the icon has 3:1 contrast with the panel, want >= %.0f%%",
						state, size, bg, 100*share, 100*minContrastShare)
				}
			}
		}
	}
}

// The contrast measure fails what it should: a grey glyph without an
// outline vanishes on a dark panel, a pale one on a white panel, and the
// amber degraded icon without its ink outline on a white panel.
func TestContrastShareRejectsOneSidedIcons(t *testing.T) {
	glyph := func(c color.NRGBA) *image.NRGBA {
		img := image.NewNRGBA(image.Rect(0, 0, 22, 22))
		for y := 4; y < 18; y++ {
			for x := 2; x < 20; x++ {
				img.SetNRGBA(x, y, c)
			}
		}
		return img
	}
	dark := glyph(color.NRGBA{0x40, 0x40, 0x40, 0xff})
	pale := glyph(color.NRGBA{0xe0, 0xe0, 0xe0, 0xff})
	if s := contrastShare(dark, nearBlack); s >= minContrastShare {
		t.Errorf("dark glyph on near-black scores %.2f, want < %.2f", s, minContrastShare)
	}
	if s := contrastShare(pale, white); s >= minContrastShare {
		t.Errorf("pale glyph on white scores %.2f, want < %.2f", s, minContrastShare)
	}
	if s := contrastShare(dark, white); s < minContrastShare {
		t.Errorf("dark glyph on white scores %.2f, want >= %.2f", s, minContrastShare)
	}

	// The real degraded icon passes on white only thanks to its outline.
	name := "png/degraded-22.png"
	img := decodePNG(t, name, readFile(t, name), 22)
	if s := contrastShare(img, white); s < minContrastShare {
		t.Fatalf("%s on white scores %.2f, want >= %.2f", name, s, minContrastShare)
	}
	stripped := image.NewNRGBA(img.Rect)
	for i := 0; i < len(img.Pix); i += 4 {
		c := color.NRGBA{img.Pix[i], img.Pix[i+1], img.Pix[i+2], 255}
		if lightness(luminance(over(c, c))) > 30 { // keep all but the ink
			copy(stripped.Pix[i:i+4], img.Pix[i:i+4])
		}
	}
	if s := contrastShare(stripped, white); s >= minContrastShare {
		t.Errorf("%s without its ink outline scores %.2f on white, want < %.2f", name, s, minContrastShare)
	}
}

// The generator's sizes are the ones these tests hold the files to.
func TestArtworkSizes(t *testing.T) {
	if !slices.Equal(artwork.ICOSizes, icoSizes) {
		t.Errorf("artwork.ICOSizes = %v, want %v", artwork.ICOSizes, icoSizes)
	}
	var sizes []int
	for _, size := range pngSizes {
		sizes = append(sizes, size)
	}
	sort.Ints(sizes)
	if got := []int{artwork.SmallPNGSize, artwork.PNGSize}; !slices.Equal(got, sizes) {
		t.Errorf("artwork PNG sizes = %v, want %v", got, sizes)
	}
}
