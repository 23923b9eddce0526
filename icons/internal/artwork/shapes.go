package artwork

import "math"

// Geometry on the 0..1 canvas: x grows to the right, y grows downwards.
//
// Every shape is a signed distance function: negative inside, zero on the edge,
// positive outside, in canvas units. That makes outlines trivial (grow a shape
// by the outline width and paint it underneath) and keeps each glyph a few
// lines of named coordinates.
//
// Reproducibility: the generated PNGs are compared byte for byte by the tests,
// so the arithmetic must give the same bits on every GOARCH. The Go spec lets
// the compiler fuse x*y+z into one FMA instruction (it does on arm64, ppc64le,
// s390x, riscv64, loong64) unless the product is explicitly converted, so
// every product in this package is written float64(a*b), and halving goes
// through half. TestNoFusedMultiplyAdd checks the arm64 assembly. Only +, -,
// *, / and math.Sqrt, Abs, Min, Max, Floor are used: they are exactly rounded
// everywhere, unlike math.Sin and friends.

// vec is a point or a direction on the canvas.
type vec struct{ x, y float64 }

func (a vec) sub(b vec) vec       { return vec{a.x - b.x, a.y - b.y} }
func (a vec) scale(k float64) vec { return vec{float64(a.x * k), float64(a.y * k)} }
func dot(a, b vec) float64        { return float64(a.x*b.x) + float64(a.y*b.y) }
func cross(a, b vec) float64      { return float64(a.x*b.y) - float64(a.y*b.x) }
func (a vec) length() float64     { return math.Sqrt(dot(a, a)) }

// half is v/2. The compiler turns v/2 into v*0.5, which it may fuse too.
func half(v float64) float64 { return float64(v / 2) }

// shape is a signed distance function.
type shape func(p vec) float64

// circle is a disc around centre.
func circle(centre vec, radius float64) shape {
	return func(p vec) float64 { return p.sub(centre).length() - radius }
}

// box is an axis-aligned rectangle given by its edges.
type box struct{ left, top, right, bottom float64 }

// roundedBox is b with its corners rounded by radius.
func roundedBox(b box, radius float64) shape {
	centre := vec{half(b.left + b.right), half(b.top + b.bottom)}
	size := vec{half(b.right - b.left), half(b.bottom - b.top)}
	return func(p vec) float64 {
		d := p.sub(centre)
		qx := math.Abs(d.x) - size.x + radius
		qy := math.Abs(d.y) - size.y + radius
		outside := vec{math.Max(qx, 0), math.Max(qy, 0)}.length()
		inside := math.Min(math.Max(qx, qy), 0)
		return outside + inside - radius
	}
}

// segmentDistance is the distance from p to the segment a-b.
func segmentDistance(p, a, b vec) float64 {
	pa, ba := p.sub(a), b.sub(a)
	h := math.Min(math.Max(dot(pa, ba)/dot(ba, ba), 0), 1)
	return pa.sub(ba.scale(h)).length()
}

// stroke is a pen line of the given width through points, with round caps and
// joins.
func stroke(width float64, points ...vec) shape {
	return func(p vec) float64 {
		d := math.Inf(1)
		for i := 0; i+1 < len(points); i++ {
			d = math.Min(d, segmentDistance(p, points[i], points[i+1]))
		}
		return d - half(width)
	}
}

// polygon is the filled polygon through the points (any winding), with its
// corners rounded by radius (the polygon grows by radius).
func polygon(radius float64, points ...vec) shape {
	return func(p vec) float64 {
		d := math.Inf(1)
		inside := false
		for i := range points {
			a, b := points[i], points[(i+1)%len(points)]
			d = math.Min(d, segmentDistance(p, a, b))
			// Even-odd crossing test of a ray going right from p.
			if (a.y > p.y) != (b.y > p.y) {
				if side := cross(b.sub(a), p.sub(a)); (side > 0) == (b.y > a.y) {
					inside = !inside
				}
			}
		}
		if inside {
			d = -d
		}
		return d - radius
	}
}

// grow widens s by w on every side (shrinks it for negative w).
func grow(s shape, w float64) shape {
	return func(p vec) float64 { return s(p) - w }
}

// union is everything inside any of the shapes.
func union(shapes ...shape) shape {
	return func(p vec) float64 {
		d := math.Inf(1)
		for _, s := range shapes {
			d = math.Min(d, s(p))
		}
		return d
	}
}

// intersect is everything inside both a and b.
func intersect(a, b shape) shape {
	return func(p vec) float64 { return math.Max(a(p), b(p)) }
}
