package config

import (
	"fmt"
	"strings"
	"testing"
)

// pathological returns a config of about size bytes that nests as deep as
// it can: kind "arrays" (a = [[[...]]]), "keys" ([a.a.a...]) or "tables"
// (a = {b={b=...}}). "wide" repeats keys nested as deep as allowed, the
// most work a config the line scan accepts can ask of the TOML decoder.
func pathological(kind string, size int) string {
	switch kind {
	case "arrays":
		d := (size - 5) / 2
		return "a = " + strings.Repeat("[", d) + strings.Repeat("]", d) + "\n"
	case "keys":
		return "[" + strings.TrimSuffix(strings.Repeat("a.", (size-2)/2), ".") + "]\n"
	case "tables":
		d := (size - 6) / 4
		return "a = " + strings.Repeat("{b=", d) + "1" + strings.Repeat("}", d) + "\n"
	case "wide":
		var b strings.Builder
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, "[t%d]\nk%s = [%s1%s]\n", i, strings.Repeat(".k", 2), strings.Repeat("[", 3), strings.Repeat("]", 3))
		}
		return b.String()
	}
	panic(kind)
}

// BenchmarkParsePathological measures Parse on hostile inputs of 32 KB and
// 200 KB. Run with scripts/bench-config, which prints the time and memory
// of one parse of each.
func BenchmarkParsePathological(b *testing.B) {
	for _, kind := range []string{"arrays", "keys", "tables", "wide"} {
		for _, size := range []int{32 << 10, 200 << 10} {
			src := []byte(pathological(kind, size))
			b.Run(fmt.Sprintf("%s-%dKB", kind, size>>10), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(src)))
				for b.Loop() {
					_, _ = Parse("bench.toml", src)
				}
			})
		}
	}
}

// TestParsePathologicalRefused: a config nested beyond what any smtpwatch
// config needs is refused with the line where it goes too deep, before the
// TOML decoder (whose work grows with the square of the depth) sees it.
func TestParsePathologicalRefused(t *testing.T) {
	for _, kind := range []string{"arrays", "keys", "tables"} {
		_, err := Parse("p.toml", []byte("# hostile\n"+pathological(kind, 32<<10)))
		want := "p.toml:2: nested more than 8 levels deep (tables, keys and arrays together); is it the right file?"
		if err == nil || err.Error() != want {
			t.Errorf("%s: got %v, want %s", kind, err, want)
		}
	}
	// Up to the limit is fine.
	if _, err := Parse("p.toml", []byte("x = "+strings.Repeat("[", 7)+strings.Repeat("]", 7)+"\n")); err == nil || strings.Contains(err.Error(), "nested") {
		t.Errorf("depth 7: %v, want the unknown key error", err)
	}
}
