package artwork

import (
	"bytes"
	"encoding/binary"
	"image"
	"os/exec"
	"regexp"
	"testing"
)

// The drawing must give the same bits on every GOARCH, or the committed
// files would fail TestFilesUpToDate on an arm64 Mac: no fused multiply-add
// may appear in this package's code (see shapes.go). arm64 is the
// architecture where the compiler fuses most readily.
func TestNoFusedMultiplyAdd(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the package for arm64")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	cmd := exec.Command(goTool, "build", "-gcflags=smtpwatch/icons/internal/artwork=-S", ".")
	cmd.Env = append(cmd.Environ(), "GOARCH=arm64", "GOOS=linux", "CGO_ENABLED=0")
	asm, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, asm)
	}
	if !bytes.Contains(asm, []byte("TEXT")) {
		t.Fatal("no assembly listing in the go build output")
	}
	fused := regexp.MustCompile(`(?m)^.*\bF(N?M(ADD|SUB))[DS]\b.*$`)
	for _, line := range fused.FindAll(asm, -1) {
		t.Errorf("fused multiply-add: %s", bytes.TrimSpace(line))
	}
}

func TestRenderUnknownStateIsStarting(t *testing.T) {
	a, b := Render("no such state", 22), Render("starting", 22)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Error("an unknown state does not draw as starting")
	}
}

func TestEncodeICO(t *testing.T) {
	for _, bad := range []image.Rectangle{image.Rect(0, 0, 16, 24), image.Rect(0, 0, 257, 257)} {
		if _, err := EncodeICO([]*image.NRGBA{image.NewNRGBA(bad)}); err == nil {
			t.Errorf("EncodeICO accepted a %v image", bad.Size())
		}
	}
	ico, err := EncodeICO([]*image.NRGBA{image.NewNRGBA(image.Rect(0, 0, 256, 256))})
	if err != nil {
		t.Fatal(err)
	}
	if ico[6] != 0 || ico[7] != 0 {
		t.Errorf("256 px entry has width %d height %d in the directory, want 0 and 0", ico[6], ico[7])
	}
	if offset := binary.LittleEndian.Uint32(ico[6+12:]); offset != 6+16 {
		t.Errorf("first image at %d, want right after the directory (22)", offset)
	}
}

func TestGrid(t *testing.T) {
	g := grid{px: 1.0 / 16}
	for _, tc := range []struct {
		name      string
		got, want float64 // in pixels
	}{
		{"whole rounds", g.whole(2.4/16) * 16, 2},
		{"whole is at least one pixel", g.whole(0.1/16) * 16, 1},
		{"odd rounds to odd", g.odd(2.2/16) * 16, 3},
		{"odd rounds down to odd", g.odd(1.9/16) * 16, 1},
		{"edge", g.edge(3.4/16) * 16, 3},
		{"centre", g.centre(3.9/16) * 16, 3.5},
		{"align odd width on a centre", g.align(3.9/16, 1.0/16) * 16, 3.5},
		{"align even width on an edge", g.align(3.9/16, 2.0/16) * 16, 4},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %v px, want %v px", tc.name, tc.got, tc.want)
		}
	}
}

func TestShapes(t *testing.T) {
	tri := []vec{{0.5, 0.1}, {0.9, 0.9}, {0.1, 0.9}}
	for _, tc := range []struct {
		name   string
		s      shape
		p      vec
		inside bool
	}{
		{"circle centre", circle(vec{0.5, 0.5}, 0.2), vec{0.5, 0.5}, true},
		{"circle outside", circle(vec{0.5, 0.5}, 0.2), vec{0.75, 0.5}, false},
		{"box inside", roundedBox(box{0.1, 0.2, 0.9, 0.8}, 0.1), vec{0.5, 0.5}, true},
		{"box rounded corner", roundedBox(box{0.1, 0.2, 0.9, 0.8}, 0.1), vec{0.11, 0.21}, false},
		{"triangle inside", polygon(0, tri...), vec{0.5, 0.6}, true},
		{"triangle outside", polygon(0, tri...), vec{0.2, 0.2}, false},
		{"triangle reversed", polygon(0, tri[2], tri[1], tri[0]), vec{0.5, 0.6}, true},
		{"stroke on line", stroke(0.1, vec{0, 0}, vec{1, 1}), vec{0.52, 0.5}, true},
		{"stroke off line", stroke(0.1, vec{0, 0}, vec{1, 1}), vec{0.6, 0.5}, false},
		{"grow", grow(circle(vec{0.5, 0.5}, 0.2), 0.05), vec{0.74, 0.5}, true},
		{"union", union(circle(vec{0.2, 0.5}, 0.1), circle(vec{0.8, 0.5}, 0.1)), vec{0.8, 0.5}, true},
		{"intersect", intersect(circle(vec{0.4, 0.5}, 0.2), circle(vec{0.6, 0.5}, 0.2)), vec{0.25, 0.5}, false},
	} {
		if got := tc.s(tc.p) <= 0; got != tc.inside {
			t.Errorf("%s: inside(%v) = %v, want %v", tc.name, tc.p, got, tc.inside)
		}
	}
}
