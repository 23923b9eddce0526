package probe

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

// FuzzReadReply: whatever a server sends, reading a reply never panics,
// never returns more lines than the bound, and a reply read without error
// has a code in 200..599 and a raw form that re-parses to the same reply.
func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"220 mail.example.test ESMTP\r\n",
		"250-mail\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n",
		"535 5.7.8 Authentication credentials invalid\r\n",
		"421-4.3.2 busy\r\n421 4.3.2 try later\r\n",
		"HTTP/1.1 400 Bad Request\r\n",
		"220", "2200 x\r\n", "250-a\r\n251 b\r\n", "\x16\x03\x01\x00\x05",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 4096)
		r, err := readReply(br)
		if len(r.lines) > maxReplyLines {
			t.Fatalf("%d lines", len(r.lines))
		}
		if err != nil {
			return
		}
		if r.code < 200 || r.code > 599 {
			t.Fatalf("code %d accepted", r.code)
		}
		again, err := readReply(bufio.NewReader(bytes.NewReader(r.raw)))
		if err != nil || again.code != r.code || strings.Join(again.lines, "\n") != strings.Join(r.lines, "\n") {
			t.Fatalf("raw %q re-parses as %+v, %v", r.raw, again, err)
		}
		rp := r.toReply()
		if rp.Code != r.code || len([]rune(rp.Message)) > 301 {
			t.Fatalf("reply %+v", rp)
		}
	})
}

func TestSplitEnhanced(t *testing.T) {
	for _, c := range []struct {
		line      string
		code      int
		enh, rest string
		ok        bool
	}{
		{"5.7.8 Authentication failed", 535, "5.7.8", "Authentication failed", true},
		{"4.7.0 Temporary", 454, "4.7.0", "Temporary", true},
		{"5.7.8 wrong class", 454, "", "", false},
		{"Authentication failed", 535, "", "", false},
		{"5.7.x odd", 535, "", "", false},
	} {
		enh, rest, ok := splitEnhanced(c.line, c.code)
		if enh != c.enh || rest != c.rest || ok != c.ok {
			t.Errorf("splitEnhanced(%q, %d) = %q %q %v", c.line, c.code, enh, rest, ok)
		}
	}
}
