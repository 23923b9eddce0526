package web

import (
	"strings"
	"testing"
)

func TestDiffLines(t *testing.T) {
	a := "1\n2\n3\n4\n5\n6\n7\n8\n9\n"
	b := "1\n2\n3\nfour\n5\n6\n7\n8\n9\nten\n"
	var got []string
	for _, l := range diffLines(a, b, 1) {
		got = append(got, l.Op+" "+l.Text)
	}
	want := []string{"  3", "- 4", "+ four", "  5", "… ", "  9", "+ ten", "  "}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("diff:\n%q\nwant\n%q", got, want)
	}
	if d := diffLines("same\n", "same\n", 2); len(d) != 0 {
		t.Errorf("no change: %v", d)
	}
}
