// Package artwork draws the smtpwatch tray icons from code. It is shared by
// the generator (icons/gen), which writes the committed PNG and ICO files,
// and by the icons tests, which check that those files are exactly what this
// code draws today.
//
// Each icon is an envelope with a badge, so that every state differs in shape
// and not only in colour:
//
//	starting  hollow envelope, white disc with three dots
//	ok        white envelope, green disc with a check mark
//	degraded  white envelope, amber triangle with "!"
//	failing   white envelope, red disc with a cross
//	offline   grey envelope struck through by a slash, no badge
//	paused    hollow envelope, white disc with two pause bars
//
// Every part has a near-black outline around a light or coloured fill, so
// each icon shows on light panels (by the outline) and on dark panels (by
// the fill) alike; a hollow envelope is a light line beside a dark one.
//
// Shapes are signed distance functions on a 0..1 canvas (shapes.go), laid
// out with the named coordinates below, rounded onto the pixel grid of each
// output size (grid), and rendered with 8x8 supersampling and a box filter.
package artwork

import (
	"image"
	"image/color"
	"math"
)

// States lists the health states in display order. It must match
// icons.States (a test checks).
var States = []string{"starting", "ok", "degraded", "failing", "offline", "paused"}

// Palette. Badge colours are chosen for lightness as well as hue, so that
// the states stay apart in greyscale and for red-green colour blindness: the
// ok disc is light with a dark check, the failing disc darker with a light
// cross (opposite polarity), the amber triangle lighter still; the badges of
// the "hollow" states (starting, paused) are paper with ink glyphs.
var (
	ink       = color.NRGBA{0x1a, 0x1a, 0x1e, 0xff} // outlines, envelope flap, "!"
	paper     = color.NRGBA{0xfa, 0xfa, 0xfa, 0xff} // envelope body, glyphs on dark badges
	greyPaper = color.NRGBA{0x9a, 0x9a, 0x9a, 0xff} // offline envelope body
	green     = color.NRGBA{0x43, 0xb5, 0x4f, 0xff} // ok badge, L* 66, with an ink check
	amber     = color.NRGBA{0xff, 0xb0, 0x00, 0xff} // degraded badge, L* 78, with an ink "!"
	red       = color.NRGBA{0xd3, 0x2f, 0x2f, 0xff} // failing badge, L* 47, with a paper cross
	clear     = color.NRGBA{}                       // a hole: the panel shows through
)

// The design, on the 0..1 canvas. The envelope sits top left; the badge sits
// in the bottom right corner, overlapping the envelope, its outline touching
// the icon's edges.
const (
	outlineWidth = 0.04  // the dark contour around every part (at least 1 px)
	lineWidth    = 0.045 // envelope flap; the line of a hollow envelope (at least 1 px)
	glyphWidth   = 0.09  // check mark, cross, slash (at least 1.6 px)

	envelopeLeft   = 0.05
	envelopeTop    = 0.12
	envelopeRight  = 0.91
	envelopeBottom = 0.72
	envelopeCorner = 0.07
	flapDepth      = 0.55 // how far down the body the flap's point reaches

	badgeRadius = 0.28 // disc badges: all but degraded and offline

	// Glyphs inside a disc badge, in units of the badge radius r.
	checkStart, checkElbowX, checkElbowY, checkEndX, checkEndY = -0.48, -0.15, 0.33, 0.46, -0.44
	crossArm                                                   = 0.45
	pauseBarWidth, pauseGap, pauseHeight                       = 0.32, 0.35, 1.10
	dotRadius, dotStep                                         = 0.20, 0.55

	// The degraded badge: an upright triangle in the same corner.
	triangleHeight  = 0.52
	triangleHalf    = 0.31 // half the base
	triangleRounded = 0.025
	bangWidth       = 0.075 // the "!"; its stem and dot, as fractions of the triangle height:
	bangStemTop     = 0.30  // below the apex
	bangStemBottom  = 0.38  // above the base
	bangDotTop      = 0.26  // above the base

	// The offline slash, top left to bottom right.
	slashFromX, slashFromY = 0.13, 0.12
	slashToX, slashToY     = 0.87, 0.86
)

// grid rounds the design onto the device pixels of one output size
// (hinting): straight edges land on pixel edges and small glyphs get whole
// pixels, so the icons stay crisp at 16 px. All results are canvas units.
type grid struct{ px float64 }

// count is v in device pixels, rounded to the nearest whole pixel.
func (g grid) count(v float64) float64 { return math.Floor(v/g.px + 0.5) }

// whole rounds a width to whole pixels, at least one.
func (g grid) whole(v float64) float64 { return float64(math.Max(1, g.count(v)) * g.px) }

// odd rounds a width to an odd number of pixels, so that it centres on a
// pixel centre.
func (g grid) odd(v float64) float64 {
	n := float64(2*math.Floor(half(v/g.px-1)+0.5)) + 1
	return float64(math.Max(1, n) * g.px)
}

// edge is the pixel edge nearest to v.
func (g grid) edge(v float64) float64 { return float64(g.count(v) * g.px) }

// centre is the pixel centre nearest to v.
func (g grid) centre(v float64) float64 { return float64((math.Floor(v/g.px) + 0.5) * g.px) }

// align places the centre line of a band of width w (whole pixels) near v so
// that both its edges fall on pixel edges.
func (g grid) align(v, w float64) float64 {
	if int(g.count(w))%2 == 1 {
		return g.centre(v)
	}
	return g.edge(v)
}

// frame is the design rounded for one output size.
type frame struct {
	g                grid
	outline, line    float64
	glyph            float64
	body             box     // the envelope
	badge            vec     // centre of the disc badge, on a pixel centre
	radius           float64 // of the disc badge
	triangleX, bangW float64
}

// frameFor rounds the design for a size x size icon.
func frameFor(size int) frame {
	g := grid{px: 1 / float64(size)}
	f := frame{
		g:       g,
		outline: g.whole(outlineWidth),
		line:    g.whole(lineWidth),
		glyph:   math.Max(float64(1.6*g.px), glyphWidth),
		body: box{
			left:   g.edge(envelopeLeft),
			top:    g.edge(envelopeTop),
			right:  g.edge(envelopeRight),
			bottom: g.edge(envelopeBottom),
		},
	}
	// The badge disc touches the icon's right and bottom edges with its
	// outline; its centre sits on a pixel centre so it is symmetric.
	c := g.centre(1 - f.outline - badgeRadius)
	f.badge = vec{c, c}
	f.radius = 1 - f.outline - c
	f.bangW = g.whole(bangWidth)
	f.triangleX = g.align(1-f.outline-triangleHalf, f.bangW)
	return f
}

// layer is one shape painted in one opaque colour, or cut out with clear; an
// icon is a stack of layers, painted bottom first.
type layer struct {
	shape shape
	color color.NRGBA
}

// icon returns the layers of state. Unknown states draw as "starting".
func icon(state string, f frame) []layer {
	switch state {
	case "ok":
		return append(envelope(f, paper), badge(f, green, checkMark(f), ink)...)
	case "degraded":
		return append(envelope(f, paper), warningTriangle(f)...)
	case "failing":
		return append(envelope(f, paper), badge(f, red, crossMark(f), paper)...)
	case "offline":
		return append(envelope(f, greyPaper), slash(f)...)
	case "paused":
		return append(hollowEnvelope(f), badge(f, paper, pauseBars(f), ink)...)
	default: // "starting"
		return append(hollowEnvelope(f), badge(f, paper, dots(f), ink)...)
	}
}

// flap is the envelope's flap: a V from the two top corners to a point in
// the middle of the body.
func flap(f frame) shape {
	b, inset := f.body, half(f.line)
	tip := vec{half(b.left + b.right), b.top + float64(flapDepth*(b.bottom-b.top))}
	return intersect(stroke(f.line,
		vec{b.left + inset, b.top + inset},
		tip,
		vec{b.right - inset, b.top + inset},
	), roundedBox(b, envelopeCorner))
}

// envelope is a filled envelope with a dark contour and a dark flap.
func envelope(f frame, fill color.NRGBA) []layer {
	body := roundedBox(f.body, envelopeCorner)
	return []layer{
		{grow(body, f.outline), ink},
		{body, fill},
		{flap(f), ink},
	}
}

// hollowEnvelope is the envelope drawn as two lines side by side, ink
// outside and paper inside, with nothing filled in: on a light panel the ink
// line shows (the paper one merges with the panel), on a dark panel the paper
// line shows. The flap is done the same way, ink above and paper below.
func hollowEnvelope(f frame) []layer {
	body := roundedBox(f.body, envelopeCorner)
	flapInk := flap(f)
	below := vec{0, f.line}
	flapPaper := intersect(func(p vec) float64 { return flapInk(p.sub(below)) }, body)
	return []layer{
		{grow(body, f.outline), ink},
		{body, paper},
		{grow(body, -f.line), clear}, // cut out the inside
		{flapPaper, paper},
		{flapInk, ink},
	}
}

// badge is a disc in fill with a contour, and a glyph on top.
func badge(f frame, fill color.NRGBA, glyph shape, glyphColor color.NRGBA) []layer {
	disc := circle(f.badge, f.radius)
	return []layer{
		{grow(disc, f.outline), ink},
		{disc, fill},
		{glyph, glyphColor},
	}
}

// at is a point in the disc badge, in units of its radius from its centre,
// moved to the nearest pixel centre so that thin diagonal strokes between
// such points come out as clean pixel stairs at 16 px.
func (f frame) at(x, y float64) vec {
	return vec{
		f.g.centre(f.badge.x + float64(x*f.radius)),
		f.g.centre(f.badge.y + float64(y*f.radius)),
	}
}

// checkMark is a tick.
func checkMark(f frame) shape {
	return stroke(f.glyph,
		f.at(checkStart, 0),
		f.at(checkElbowX, checkElbowY),
		f.at(checkEndX, checkEndY))
}

// crossMark is an X.
func crossMark(f frame) shape {
	a := crossArm
	return union(
		stroke(f.glyph, f.at(-a, -a), f.at(a, a)),
		stroke(f.glyph, f.at(-a, a), f.at(a, -a)),
	)
}

// pauseBars are two upright bars, pixel-aligned: the gap is an odd number of
// pixels so the pair centres on the badge's pixel centre.
func pauseBars(f frame) shape {
	g, c := f.g, f.badge
	w := g.whole(math.Max(float64(pauseBarWidth*f.radius), float64(2*g.px)))
	gap := g.odd(float64(pauseGap * f.radius))
	h := g.odd(float64(pauseHeight * f.radius))
	top, bottom := c.y-half(h), c.y+half(h)
	return union(
		roundedBox(box{c.x - half(gap) - w, top, c.x - half(gap), bottom}, 0),
		roundedBox(box{c.x + half(gap), top, c.x + half(gap) + w, bottom}, 0),
	)
}

// dots are an ellipsis, each dot on a pixel centre and at least three pixels
// apart so they do not merge into a bar at 16 px.
func dots(f frame) shape {
	g, c := f.g, f.badge
	r := float64(dotRadius * f.radius)
	step := math.Max(g.whole(float64(dotStep*f.radius)), float64(3*g.px))
	return union(
		circle(vec{c.x - step, c.y}, r),
		circle(c, r),
		circle(vec{c.x + step, c.y}, r),
	)
}

// warningTriangle is an amber triangle with a dark "!", in the corner where
// the other states have their disc badge.
func warningTriangle(f frame) []layer {
	g, x := f.g, f.triangleX
	base := 1 - f.outline - triangleRounded
	apex := base - triangleHeight
	tri := polygon(triangleRounded,
		vec{x, apex},
		vec{x + triangleHalf, base},
		vec{x - triangleHalf, base},
	)
	w := f.bangW
	stemTop := g.edge(apex + float64(bangStemTop*triangleHeight))
	stemBottom := g.edge(base - float64(bangStemBottom*triangleHeight))
	dotTop := g.edge(base - float64(bangDotTop*triangleHeight))
	bang := union(
		roundedBox(box{x - half(w), stemTop, x + half(w), stemBottom}, 0),
		roundedBox(box{x - half(w), dotTop, x + half(w), dotTop + w}, 0),
	)
	return []layer{
		{grow(tri, f.outline), ink},
		{tri, amber},
		{bang, ink},
	}
}

// slash strikes through the envelope: a light bar with a dark contour.
func slash(f frame) []layer {
	bar := stroke(f.glyph, vec{slashFromX, slashFromY}, vec{slashToX, slashToY})
	return []layer{
		{grow(bar, f.outline), ink},
		{bar, paper},
	}
}

// Supersampling factor per axis: each output pixel averages 8x8 samples.
const supersample = 8

// Render draws state as a size x size image. Unknown states draw as
// "starting". The result is deterministic: the same bits on every platform.
func Render(state string, size int) *image.NRGBA {
	layers := icon(state, frameFor(size))
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	px := 1 / float64(size)
	step := 1 / float64(size*supersample)
	// Every sample of a pixel lies within half a diagonal of its centre.
	// The shapes are distance functions (they change by at most the
	// distance moved), so a layer whose edge is farther than that from the
	// centre covers all of the pixel's samples or none: such pixels need no
	// supersampling. The margin keeps rounding errors out of it.
	reach := float64(0.71 * px)
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			centre := vec{
				float64((float64(x) + 0.5) * px),
				float64((float64(y) + 0.5) * px),
			}
			if c, ok := uniform(layers, centre, reach); ok {
				img.SetNRGBA(x, y, c)
				continue
			}
			// Sum the covered samples (all layers are opaque), then
			// box-filter down.
			var r, g, b, n int
			for sy := 0; sy < supersample; sy++ {
				for sx := 0; sx < supersample; sx++ {
					p := vec{
						float64((float64(x*supersample+sx) + 0.5) * step),
						float64((float64(y*supersample+sy) + 0.5) * step),
					}
					if c, ok := sample(layers, p); ok {
						r += int(c.R)
						g += int(c.G)
						b += int(c.B)
						n++
					}
				}
			}
			img.SetNRGBA(x, y, average(r, g, b, n))
		}
	}
	return img
}

// uniform returns the colour of the whole disc of radius reach around p
// (transparent for clear or nothing), and false when some layer's edge
// passes within reach, so the pixel must be supersampled.
func uniform(layers []layer, p vec, reach float64) (color.NRGBA, bool) {
	for i := len(layers) - 1; i >= 0; i-- {
		switch d := layers[i].shape(p); {
		case d < -reach:
			return layers[i].color, true
		case d <= reach:
			return color.NRGBA{}, false
		}
	}
	return color.NRGBA{}, true
}

// sample returns the colour of the topmost layer covering p, and false
// where nothing is painted or the topmost layer is clear.
func sample(layers []layer, p vec) (color.NRGBA, bool) {
	for i := len(layers) - 1; i >= 0; i-- {
		if layers[i].shape(p) <= 0 {
			return layers[i].color, layers[i].color.A != 0
		}
	}
	return color.NRGBA{}, false
}

// average turns the colour sums of n covered samples (out of
// supersample*supersample) into one straight-alpha pixel, rounding to nearest.
func average(r, g, b, n int) color.NRGBA {
	if n == 0 {
		return color.NRGBA{}
	}
	div := func(v, d int) uint8 { return uint8((v + d/2) / d) }
	const all = supersample * supersample
	return color.NRGBA{div(r, n), div(g, n), div(b, n), div(n*255, all)}
}
