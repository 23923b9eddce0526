package config

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// The TOML decoder reports a position for syntax errors but keeps no line
// for a key inside an array of tables ([[account]] elements share one entry
// in its metadata). locate walks the source once more, after the decoder has
// accepted it, and records the line of every table header, key and array
// element. It trusts the input to be valid TOML but never panics on other
// input: every loop advances or stops.
//
// Its work is bounded by the input's size: it records nothing deeper than
// maxDepth path elements (a value nested deeper is skipped by a flat scan
// that keeps no path), so each byte costs at most maxDepth path elements
// copied and joined. A config file needs a depth of 4 ([[account]], its
// element, a key, an array element); 32 KB of nested brackets once cost
// seconds and gigabytes here.

// A path names a place in the document: table and key names, with "\x00N"
// elements for the N-th element of an array (of tables, or inline).
type path []string

func (p path) key() string { return strings.Join(p, "\x1f") }

func (p path) with(elems ...string) path {
	q := make(path, 0, len(p)+len(elems))
	q = append(q, p...)
	return append(q, elems...)
}

func index(i int) string { return "\x00" + strconv.Itoa(i) }

// maxDepth bounds the paths the locator records, table names, keys and
// array indices together. Deeper values are skipped; their lines fall back
// to the nearest recorded ancestor.
const maxDepth = 8

// lines maps document paths to the line where each first appears.
type lines map[string]int

// line returns the line of p or, when p is not recorded, of its nearest
// recorded ancestor; 1 when nothing is known.
func (l lines) line(p path) int {
	for n := len(p); n > 0; n-- {
		if ln, ok := l[p[:n].key()]; ok {
			return ln
		}
	}
	return 1
}

// locEvent is one key as the TOML decoder's MetaData.Keys lists it (table
// headers and keys, no array indices), for tests that compare the two.
type locEvent struct {
	plain []string
	line  int
}

type locator struct {
	src    string
	i      int
	ln     int
	lines  lines
	arrays map[string]int // path of an array of tables → elements seen
	events []locEvent
	// headers are the lines of the table headers ([a] and [[a]]), in order.
	headers []int
	// deep is the first line where a key or value was nested beyond
	// maxDepth and skipped (events then no longer list every key); 0 when
	// none was.
	deep int
}

// tooDeep notes that something on the current line was nested beyond
// maxDepth.
func (l *locator) tooDeep() {
	if l.deep == 0 {
		l.deep = l.ln
	}
}

// locate records the lines of src's keys. deep is the first line that nests
// keys, tables or arrays more than maxDepth levels deep, 0 if none does.
func locate(src string) (ln lines, events []locEvent, deep int) {
	l := scan(src)
	return l.lines, l.events, l.deep
}

// scan runs the locator over src.
func scan(src string) *locator {
	// The decoder skips a byte-order mark the same way.
	if strings.HasPrefix(src, "\xff\xfe") || strings.HasPrefix(src, "\xfe\xff") {
		src = src[2:]
	} else if strings.HasPrefix(src, "\xef\xbb\xbf") {
		src = src[3:]
	}
	l := &locator{src: src, ln: 1, lines: lines{}, arrays: map[string]int{}}
	l.document()
	return l
}

func (l *locator) eof() bool { return l.i >= len(l.src) }

func (l *locator) peek() byte {
	if l.eof() {
		return 0
	}
	return l.src[l.i]
}

func (l *locator) has(prefix string) bool { return strings.HasPrefix(l.src[l.i:], prefix) }

// advance moves n bytes on, counting newlines.
func (l *locator) advance(n int) {
	for ; n > 0 && !l.eof(); n-- {
		if l.src[l.i] == '\n' {
			l.ln++
		}
		l.i++
	}
}

func (l *locator) record(p path, line int) {
	if len(p) > maxDepth {
		l.tooDeep()
		return
	}
	k := p.key()
	if _, ok := l.lines[k]; !ok {
		l.lines[k] = line
	}
}

// skipBlank skips spaces and tabs.
func (l *locator) skipBlank() {
	for !l.eof() && (l.peek() == ' ' || l.peek() == '\t') {
		l.i++
	}
}

// skipSpace skips white space, newlines and comments.
func (l *locator) skipSpace() {
	for !l.eof() {
		switch l.peek() {
		case ' ', '\t', '\r', '\n':
			l.advance(1)
		case '#':
			for !l.eof() && l.peek() != '\n' {
				l.i++
			}
		default:
			return
		}
	}
}

func (l *locator) document() {
	var ctx, plain path
	for {
		l.skipSpace()
		if l.eof() {
			return
		}
		start := l.i
		if l.peek() == '[' {
			ctx, plain = l.header()
		} else {
			l.keyValue(ctx, plain)
		}
		if l.i == start { // not TOML; give up rather than loop
			return
		}
	}
}

// header reads [a.b] or [[a.b]] and returns the new context.
func (l *locator) header() (path, path) {
	line := l.ln
	l.headers = append(l.headers, line)
	array := l.has("[[")
	if array {
		l.i += 2
	} else {
		l.i++
	}
	parts := l.keyParts()
	l.skipBlank()
	if array && l.has("]]") {
		l.i += 2
	} else if l.peek() == ']' {
		l.i++
	}
	if len(parts) > maxDepth {
		// Too deep to record: keys under it are skipped (see keyValue).
		l.tooDeep()
		return nil, path(parts)
	}
	var p path
	for k, part := range parts {
		p = append(p, part)
		if k < len(parts)-1 {
			if n := l.arrays[p.key()]; n > 0 {
				p = append(p, index(n-1))
			}
		}
	}
	l.events = append(l.events, locEvent{plain: parts, line: line})
	if array && len(parts) > 0 {
		l.record(p, line)
		n := l.arrays[p.key()]
		l.arrays[p.key()] = n + 1
		p = append(p, index(n))
	}
	l.record(p, line)
	return p, path(parts)
}

// keyParts reads a possibly dotted key.
func (l *locator) keyParts() []string {
	var parts []string
	for {
		l.skipBlank()
		if l.eof() {
			return parts
		}
		switch l.peek() {
		case '"':
			s, _ := l.basicString()
			parts = append(parts, s)
		case '\'':
			parts = append(parts, l.literalString())
		default:
			start := l.i
			for !l.eof() && !strings.ContainsRune(" \t\r\n.=[]{}#,\"'", rune(l.peek())) {
				l.i++
			}
			if l.i == start {
				return parts
			}
			parts = append(parts, l.src[start:l.i])
		}
		l.skipBlank()
		if l.peek() != '.' {
			return parts
		}
		l.i++
	}
}

// keyValue reads key = value in table ctx.
func (l *locator) keyValue(ctx, plain path) {
	line := l.ln
	parts := l.keyParts()
	if len(parts) == 0 {
		return
	}
	if (ctx == nil && len(plain) > 0) || len(ctx)+len(parts) > maxDepth || len(plain)+len(parts) > maxDepth {
		// Under a table header that was too deep, or too deep itself.
		l.tooDeep()
		l.skipBlank()
		if l.peek() == '=' {
			l.i++
			l.skipBlank()
			l.skipValue()
		}
		return
	}
	full := ctx.with(parts...)
	for n := len(ctx) + 1; n <= len(full); n++ {
		l.record(full[:n], line)
	}
	l.events = append(l.events, locEvent{plain: plain.with(parts...), line: line})
	l.skipBlank()
	if l.peek() != '=' {
		return
	}
	l.i++
	l.skipBlank()
	l.value(full, plain.with(parts...))
}

func (l *locator) value(p, plain path) {
	if len(p) >= maxDepth {
		l.tooDeep()
		l.skipValue()
		return
	}
	switch {
	case l.eof():
	case l.has(`"""`):
		l.multiline(`"""`, true)
	case l.has(`'''`):
		l.multiline(`'''`, false)
	case l.peek() == '"':
		l.basicString()
	case l.peek() == '\'':
		l.literalString()
	case l.peek() == '[':
		l.i++
		for n := 0; ; n++ {
			l.skipSpace()
			if l.eof() {
				return
			}
			if l.peek() == ']' {
				l.i++
				return
			}
			start := l.i
			elem := p.with(index(n))
			l.record(elem, l.ln)
			l.value(elem, plain)
			l.skipSpace()
			if l.peek() == ',' {
				l.i++
			} else if l.i == start {
				return
			}
		}
	case l.peek() == '{':
		l.i++
		for {
			l.skipSpace()
			if l.eof() {
				return
			}
			if l.peek() == '}' {
				l.i++
				return
			}
			start := l.i
			l.keyValue(p, plain)
			l.skipSpace()
			if l.peek() == ',' {
				l.i++
			} else if l.i == start {
				return
			}
		}
	default: // number, boolean, date and time (which may hold a space)
		for !l.eof() && !strings.ContainsRune(",]}#\r\n", rune(l.peek())) {
			l.i++
		}
	}
}

// basicString reads "..." and returns its value with escapes replaced.
func (l *locator) basicString() (string, bool) {
	l.i++ // opening quote
	var b strings.Builder
	for !l.eof() {
		c := l.peek()
		switch {
		case c == '"':
			l.i++
			return b.String(), true
		case c == '\n':
			return b.String(), false
		case c == '\\' && l.i+1 < len(l.src):
			l.i += 1 + l.escape(&b, l.src[l.i+1:])
		default:
			b.WriteByte(c)
			l.i++
		}
	}
	return b.String(), false
}

// escape writes the character the escape sequence at the start of s (after
// the backslash) stands for and returns the sequence's length.
func (l *locator) escape(b *strings.Builder, s string) int {
	hex := func(n int) int {
		if len(s) < 1+n {
			return len(s)
		}
		v, err := strconv.ParseUint(s[1:1+n], 16, 32)
		if err != nil || !utf8.ValidRune(rune(v)) {
			return 1
		}
		b.WriteRune(rune(v))
		return 1 + n
	}
	switch s[0] {
	case 'b':
		b.WriteByte('\b')
	case 't':
		b.WriteByte('\t')
	case 'n':
		b.WriteByte('\n')
	case 'f':
		b.WriteByte('\f')
	case 'r':
		b.WriteByte('\r')
	case 'e':
		b.WriteByte(0x1b)
	case 'x':
		return hex(2)
	case 'u':
		return hex(4)
	case 'U':
		return hex(8)
	case '\n':
		return 0 // not valid in a key; let the newline stop the string
	default:
		b.WriteByte(s[0])
	}
	return 1
}

func (l *locator) literalString() string {
	l.i++
	start := l.i
	for !l.eof() && l.peek() != '\'' && l.peek() != '\n' {
		l.i++
	}
	s := l.src[start:l.i]
	if l.peek() == '\'' {
		l.i++
	}
	return s
}

// multiline skips a multi-line string opened by delim, which may end with
// up to two more quote characters.
func (l *locator) multiline(delim string, escapes bool) {
	l.i += len(delim)
	for !l.eof() {
		if escapes && l.peek() == '\\' {
			l.advance(2)
			continue
		}
		if l.has(delim) {
			l.i += len(delim)
			for n := 0; n < 2 && l.peek() == delim[0]; n++ {
				l.i++
			}
			return
		}
		l.advance(1)
	}
}

// skipValue moves past one value without recording anything and without
// recursion: nested arrays and inline tables only change a counter.
func (l *locator) skipValue() {
	depth := 0
	for !l.eof() {
		start := l.i
		switch c := l.peek(); {
		case l.has(`"""`):
			l.multiline(`"""`, true)
		case l.has(`'''`):
			l.multiline(`'''`, false)
		case c == '"':
			l.basicString()
		case c == '\'':
			l.literalString()
		case c == '[' || c == '{':
			depth++
			l.i++
		case c == ']' || c == '}':
			if depth == 0 {
				return // the end of the array or table that holds this value
			}
			depth--
			l.i++
			if depth == 0 {
				return
			}
		case c == '#':
			for !l.eof() && l.peek() != '\n' {
				l.i++
			}
		case c == '\n' || c == ',':
			if depth == 0 {
				return
			}
			l.advance(1)
		default:
			l.advance(1)
		}
		if l.i == start { // an unclosed string at a line break
			l.advance(1)
		}
	}
}
