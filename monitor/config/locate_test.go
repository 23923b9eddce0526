package config

import (
	"slices"
	"testing"

	"github.com/BurntSushi/toml"
)

// checkLocateMatchesDecoder fails when the line scan of src sees other keys,
// or the same keys in another order, than the TOML decoder. It reports
// false when src is not valid TOML.
func checkLocateMatchesDecoder(t *testing.T, src string) bool {
	t.Helper()
	var m map[string]any
	md, err := toml.Decode(src, &m)
	if err != nil {
		return false
	}
	_, events, deep := locate(src)
	if deep > 0 {
		return true // beyond maxDepth the scan lists no keys
	}
	keys := md.Keys()
	if len(keys) != len(events) {
		t.Fatalf("locate found %d keys, the decoder %d\nlocate: %v\ndecoder: %q", len(events), len(keys), events, keys)
	}
	for i, k := range keys {
		if !slices.Equal([]string(k), events[i].plain) {
			t.Fatalf("key %d: locate %q, decoder %q", i, events[i].plain, k)
		}
	}
	return true
}

// TestLocate checks the line scan against the decoder's own key list on
// documents with the TOML features that could confuse a scan, and the
// recorded lines.
func TestLocate(t *testing.T) {
	for _, tt := range locateCases() {
		t.Run(tt.name, func(t *testing.T) {
			if !checkLocateMatchesDecoder(t, tt.src) {
				var m map[string]any
				_, err := toml.Decode(tt.src, &m)
				t.Fatalf("test document is not valid TOML: %v", err)
			}
			got, _, _ := locate(tt.src)
			for p, want := range tt.lines {
				pp := path(splitTestPath(p))
				if ln, ok := got[pp.key()]; !ok || ln != want {
					t.Errorf("line of %s = %d (recorded %v), want %d", p, ln, ok, want)
				}
			}
		})
	}
}

type locateCase struct {
	name  string
	src   string
	lines map[string]int // path elements joined by "/", "#N" for index N
}

// locateCases are TOML documents with the features that could confuse a
// line scan; FuzzParse starts from them too.
func locateCases() []locateCase {
	return []locateCase{
		{
			name: "accounts",
			src: `# comment with [[account]] and key = "x"
state_dir = "/s" # trailing
[[account]]
name = "a"

[[account]]
  name = "b"
  port = 587
`,
			lines: map[string]int{"state_dir": 2, "account": 3, "account/#0": 3, "account/#0/name": 4, "account/#1": 6, "account/#1/name": 7, "account/#1/port": 8},
		},
		{
			name: "multi-line strings",
			src: `a = """
line "one"
[[account]] not a table
"""
b = '''
x = 1 '' '''
c = """\
  """""
d = 2
`,
			lines: map[string]int{"a": 1, "b": 5, "c": 7, "d": 9},
		},
		{
			name: "strings with delimiters",
			src:  "a = \"# [x] = \\\" '\"\nb = 'c:\\path # ] }'\nc = 3\n",
			lines: map[string]int{
				"a": 1, "b": 2, "c": 3,
			},
		},
		{
			name: "arrays and inline tables",
			src: `[online]
targets = [
  "1.1.1.1:443", # first
  # a comment line
  "8.8.8.8:443",
]
account = [
  { name = "a", port = 1 },
  {
    name = "b" },
]
nested = [[1, 2], [{x = 1}]]
`,
			lines: map[string]int{
				"online/targets": 2, "online/targets/#0": 3, "online/targets/#1": 5,
				"online/account/#0": 8, "online/account/#0/name": 8, "online/account/#1": 9, "online/account/#1/name": 10,
			},
		},
		{
			name: "quoted and dotted keys",
			src: `"quoted key" = 1
'lit.key' = 2
a.b.c = 3
"esc\u0041\t" = 4
[ "t 1" . sub ]
x = 5
`,
			lines: map[string]int{"quoted key": 1, "lit.key": 2, "a": 3, "a/b": 3, "a/b/c": 3, "escA\t": 4, "t 1/sub": 5, "t 1/sub/x": 6},
		},
		{
			name: "nested arrays of tables",
			src: `[[a]]
x = 1
[[a.b]]
y = 2
[[a]]
[[a.b]]
y = 3
[a.c]
z = 4
`,
			lines: map[string]int{"a/#0/x": 2, "a/#0/b/#0/y": 4, "a/#1": 5, "a/#1/b/#0": 6, "a/#1/b/#0/y": 7, "a/#1/c/z": 9},
		},
		{
			name:  "dates, numbers, CRLF",
			src:   "d = 1979-05-27 07:32:00Z\r\nn = -1_000 # x\r\nf = +inf\r\nt = true\r\n[[account]]\r\nname = \"a\"\r\n",
			lines: map[string]int{"d": 1, "n": 2, "f": 3, "t": 4, "account/#0/name": 6},
		},
		{
			name:  "byte-order mark",
			src:   "\xef\xbb\xbfa = 1\nb = 2\n",
			lines: map[string]int{"a": 1, "b": 2},
		},
	}
}

func splitTestPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			e := p[start:i]
			if len(e) > 1 && e[0] == '#' {
				n := 0
				for _, c := range e[1:] {
					n = n*10 + int(c-'0')
				}
				e = index(n)
			}
			out = append(out, e)
			start = i + 1
		}
	}
	return out
}

func TestLinesFallBackToParent(t *testing.T) {
	l, _, _ := locate("[[account]]\nname = \"a\"\n")
	if got := l.line(path{"account", index(0), "missing"}); got != 1 {
		t.Errorf("line of a missing key = %d, want its table's line 1", got)
	}
	if got := l.line(path{"nothing"}); got != 1 {
		t.Errorf("line of an unknown path = %d, want 1", got)
	}
}
