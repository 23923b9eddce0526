package artwork

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
)

// Sizes of the generated files, in pixels.
const (
	// PNGSize is the main PNG: Linux StatusNotifierItem hosts and macOS scale
	// it to the panel.
	PNGSize = 64
	// SmallPNGSize is the PNG drawn for the usual Linux panel size.
	SmallPNGSize = 22
)

// ICOSizes are the images in each ICO file, smallest first: 16 and 24 for the
// Windows notification area at 100% and 150% scaling, 32 and 48 for 200% and
// for Explorer.
var ICOSizes = []int{16, 24, 32, 48}

// PreviewSizes are the sizes shown on the contact sheet.
var PreviewSizes = []int{16, 22, 24, 32}

// Panel colours the contact sheet shows the icons on.
var (
	LightPanel = color.NRGBA{0xff, 0xff, 0xff, 0xff}
	DarkPanel  = color.NRGBA{0x20, 0x20, 0x20, 0xff}
)

// Files returns every generated icon file, keyed by its slash-separated path
// relative to the icons directory: png/<state>.png (64 px),
// png/<state>-22.png and ico/<state>.ico.
func Files() (map[string][]byte, error) {
	files := make(map[string][]byte)
	for _, state := range States {
		big, err := EncodePNG(Render(state, PNGSize))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", state, err)
		}
		small, err := EncodePNG(Render(state, SmallPNGSize))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", state, err)
		}
		var images []*image.NRGBA
		for _, size := range ICOSizes {
			images = append(images, Render(state, size))
		}
		ico, err := EncodeICO(images)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", state, err)
		}
		files["png/"+state+".png"] = big
		files[fmt.Sprintf("png/%s-%d.png", state, SmallPNGSize)] = small
		files["ico/"+state+".ico"] = ico
	}
	return files, nil
}

// EncodePNG encodes img as PNG with the best compression. For a given Go
// version the output is deterministic.
func EncodePNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// EncodeICO writes an ICO container holding images as PNG-compressed
// entries, which Windows accepts since Vista. Each image must be square and
// at most 256 px.
//
// Layout (all little-endian): ICONDIR {reserved=0, type=1 (icon), count}
// followed by count ICONDIRENTRY {width, height (0 means 256), colours=0,
// reserved=0, planes=1, bits per pixel=32, byte size, offset}, then the PNG
// data of each entry in the same order.
func EncodeICO(images []*image.NRGBA) ([]byte, error) {
	const dirSize, entrySize = 6, 16
	pngs := make([][]byte, len(images))
	for i, img := range images {
		b := img.Bounds()
		if b.Dx() != b.Dy() || b.Dx() < 1 || b.Dx() > 256 {
			return nil, fmt.Errorf("encode ico: image %d is %dx%d, want square up to 256 px", i, b.Dx(), b.Dy())
		}
		data, err := EncodePNG(img)
		if err != nil {
			return nil, fmt.Errorf("encode ico: %w", err)
		}
		pngs[i] = data
	}
	var buf bytes.Buffer
	le := binary.LittleEndian
	buf.Write(le.AppendUint16(nil, 0))                   // reserved
	buf.Write(le.AppendUint16(nil, 1))                   // type: icon
	buf.Write(le.AppendUint16(nil, uint16(len(images)))) // count
	offset := dirSize + entrySize*len(images)
	for i, img := range images {
		side := byte(img.Bounds().Dx()) // 256 wraps to 0, as the format wants
		buf.Write([]byte{side, side, 0, 0})
		buf.Write(le.AppendUint16(nil, 1))  // colour planes
		buf.Write(le.AppendUint16(nil, 32)) // bits per pixel
		buf.Write(le.AppendUint32(nil, uint32(len(pngs[i]))))
		buf.Write(le.AppendUint32(nil, uint32(offset)))
		offset += len(pngs[i])
	}
	for _, data := range pngs {
		buf.Write(data)
	}
	return buf.Bytes(), nil
}

// Preview draws the contact sheet: every state (columns, in States order) at
// every PreviewSizes size (rows), first on a light strip, then on a dark
// one. scale > 1 enlarges the sheet with nearest-neighbour pixels, for
// inspecting single pixels.
func Preview(scale int) *image.NRGBA {
	const cell, pad = 40, 6
	height := 0
	for _, size := range PreviewSizes {
		height += size + 2*pad
	}
	sheet := image.NewNRGBA(image.Rect(0, 0, cell*len(States), 2*height))
	y := 0
	for _, panel := range []color.NRGBA{LightPanel, DarkPanel} {
		draw.Draw(sheet, image.Rect(0, y, sheet.Bounds().Dx(), y+height), image.NewUniform(panel), image.Point{}, draw.Src)
		for _, size := range PreviewSizes {
			for col, state := range States {
				x := col*cell + (cell-size)/2
				at := image.Rect(x, y+pad, x+size, y+pad+size)
				draw.Draw(sheet, at, Render(state, size), image.Point{}, draw.Over)
			}
			y += size + 2*pad
		}
	}
	if scale <= 1 {
		return sheet
	}
	big := image.NewNRGBA(image.Rect(0, 0, sheet.Bounds().Dx()*scale, sheet.Bounds().Dy()*scale))
	for y := range big.Bounds().Dy() {
		for x := range big.Bounds().Dx() {
			big.SetNRGBA(x, y, sheet.NRGBAAt(x/scale, y/scale))
		}
	}
	return big
}
