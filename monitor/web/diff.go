package web

import "strings"

// diffLine is one line of a comparison: Op is "-" (only in the old text),
// "+" (only in the new), " " (in both, shown for context) or "…" (lines
// left out).
type diffLine struct {
	Op   string
	N    int // the line's number in the new text (the old for "-"); 0 for "…"
	Text string
}

// maxDiffCells bounds the comparison's work (lines × lines); larger texts
// are compared line by line from the ends only.
const maxDiffCells = 4 << 20

// diffLines compares two texts line by line (a longest common subsequence)
// and returns the changed lines with context lines of context around each
// change.
func diffLines(a, b string, context int) []diffLine {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	// Common lines at both ends need no table.
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	mx, my := x[pre:len(x)-suf], y[pre:len(y)-suf]
	var all []diffLine
	for i := 0; i < pre; i++ {
		all = append(all, diffLine{Op: " ", N: i + 1, Text: x[i]})
	}
	if len(mx)*len(my) > maxDiffCells {
		for i, l := range mx {
			all = append(all, diffLine{Op: "-", N: pre + i + 1, Text: l})
		}
		for i, l := range my {
			all = append(all, diffLine{Op: "+", N: pre + i + 1, Text: l})
		}
	} else {
		// lcs[i][j] is the longest common subsequence of mx[i:] and my[j:].
		lcs := make([][]int32, len(mx)+1)
		for i := range lcs {
			lcs[i] = make([]int32, len(my)+1)
		}
		for i := len(mx) - 1; i >= 0; i-- {
			for j := len(my) - 1; j >= 0; j-- {
				if mx[i] == my[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(mx) || j < len(my) {
			switch {
			case i < len(mx) && j < len(my) && mx[i] == my[j]:
				all = append(all, diffLine{Op: " ", N: pre + j + 1, Text: my[j]})
				i++
				j++
			case i < len(mx) && (j == len(my) || lcs[i+1][j] >= lcs[i][j+1]):
				all = append(all, diffLine{Op: "-", N: pre + i + 1, Text: mx[i]})
				i++
			default:
				all = append(all, diffLine{Op: "+", N: pre + j + 1, Text: my[j]})
				j++
			}
		}
	}
	for k := 0; k < suf; k++ {
		all = append(all, diffLine{Op: " ", N: len(y) - suf + k + 1, Text: y[len(y)-suf+k]})
	}
	// Keep the changes and the context around them.
	keep := make([]bool, len(all))
	for k, l := range all {
		if l.Op == " " {
			continue
		}
		for c := max(0, k-context); c <= min(len(all)-1, k+context); c++ {
			keep[c] = true
		}
	}
	var out []diffLine
	skipped := false
	for k, l := range all {
		if !keep[k] {
			skipped = true
			continue
		}
		if skipped && len(out) > 0 {
			out = append(out, diffLine{Op: "…"})
		}
		skipped = false
		out = append(out, l)
	}
	return out
}
