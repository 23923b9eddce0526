package probe

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
)

// Bounds on what a server may send. A probe exchanges a few hundred bytes;
// anything near these limits is a broken or hostile server, and the bounds
// keep such a server from costing the daemon memory.
const (
	maxReadBytes   = 64 << 10 // per connection, TLS records included
	maxLineBytes   = 2000     // RFC 5321 allows 512; go-smtp allows 2000
	maxReplyLines  = 100
	quitWaitBudget = 2 * time.Second // to write QUIT into a stuck connection
)

var (
	errTooMuchData = errors.New("server sent more data than any SMTP reply needs")
	errLineTooLong = errors.New("server sent a line longer than SMTP allows")
	errTooManyLine = errors.New("server sent a reply with too many lines")
)

// limitConn counts the bytes read from a connection and fails reads beyond
// maxReadBytes. It also notes whether any byte has arrived yet, which tells a
// silent server from a slow one.
type limitConn struct {
	net.Conn
	n   atomic.Int64
	any atomic.Bool
}

func (c *limitConn) Read(b []byte) (int, error) {
	left := maxReadBytes - c.n.Load()
	if left <= 0 {
		return 0, errTooMuchData
	}
	if int64(len(b)) > left {
		b = b[:left]
	}
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.any.Store(true)
	}
	c.n.Add(int64(n))
	return n, err
}

// reply is one SMTP reply as read from the wire.
type reply struct {
	code  int
	lines []string // text after "DDD-" / "DDD ", one per line
	raw   []byte   // the bytes as received, CRLFs included
}

func (r reply) text() string { return strings.Join(r.lines, "\n") }

// first is the first line, for one-line details.
func (r reply) first() string {
	if len(r.lines) == 0 {
		return ""
	}
	return r.lines[0]
}

// toReply converts to the report form, splitting off an RFC 3463 enhanced
// status code when the first line starts with one.
func (r reply) toReply() *Reply {
	out := &Reply{Code: r.code}
	msg := r.first()
	if code, rest, ok := splitEnhanced(msg, r.code); ok {
		out.EnhancedCode = code
		msg = rest
		for _, l := range r.lines[1:] {
			_, l2, ok := splitEnhanced(l, r.code)
			if !ok {
				l2 = l
			}
			msg += " " + l2
		}
	} else if len(r.lines) > 1 {
		msg = strings.Join(r.lines, " ")
	}
	out.Message = sanitize(msg, 300)
	return out
}

// splitEnhanced splits "5.7.8 Authentication failed" into its parts when the
// enhanced code's class matches the reply code's.
func splitEnhanced(line string, code int) (enh, rest string, ok bool) {
	f, rest, _ := strings.Cut(line, " ")
	parts := strings.Split(f, ".")
	if len(parts) != 3 || parts[0] != strconv.Itoa(code/100) {
		return "", "", false
	}
	for _, p := range parts[1:] {
		if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 999 {
			return "", "", false
		}
	}
	return f, rest, true
}

// protocolError is a reply that is not SMTP. Its message quotes what came,
// sanitised, so a person can see that (say) a web server answered.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return e.msg }

// readReply reads one complete (possibly multi-line) reply, enforcing the
// line and line-count bounds. The connection's deadline bounds the time.
func readReply(br *bufio.Reader) (reply, error) {
	var r reply
	for i := 0; ; i++ {
		if i == maxReplyLines {
			return r, errTooManyLine
		}
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLineBytes {
			return r, errLineTooLong
		}
		if err != nil {
			if len(line) > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			r.raw = append(r.raw, line...)
			return r, err
		}
		r.raw = append(r.raw, line...)
		code, more, text, perr := parseReplyLine(string(line))
		if perr != nil {
			return r, perr
		}
		if i > 0 && code != r.code {
			return r, &protocolError{fmt.Sprintf("reply changed its code from %d to %d mid-reply", r.code, code)}
		}
		r.code = code
		r.lines = append(r.lines, text)
		if !more {
			return r, nil
		}
	}
}

// parseReplyLine splits "250-PIPELINING\r\n" into 250, true, "PIPELINING".
func parseReplyLine(line string) (code int, more bool, text string, err error) {
	line = strings.TrimRight(line, "\r\n")
	if len(line) < 3 {
		return 0, false, "", notSMTP(line)
	}
	for i := 0; i < 3; i++ {
		if line[i] < '0' || line[i] > '9' {
			return 0, false, "", notSMTP(line)
		}
	}
	code, _ = strconv.Atoi(line[:3])
	if code < 200 || code > 599 {
		return 0, false, "", notSMTP(line)
	}
	switch {
	case len(line) == 3:
		return code, false, "", nil
	case line[3] == ' ':
		return code, false, line[4:], nil
	case line[3] == '-':
		return code, true, line[4:], nil
	}
	return 0, false, "", notSMTP(line)
}

func notSMTP(line string) error {
	return &protocolError{fmt.Sprintf("the server's answer is not SMTP: %q", sanitize(line, 60))}
}

// sanitize makes server text safe to print: printable characters only,
// at most max runes.
func sanitize(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// wire is our side of the conversation before go-smtp takes over: it sends
// commands and reads replies with explicit deadlines.
type wire struct {
	raw *limitConn // the TCP connection, bounded
	nc  net.Conn   // raw, or the TLS connection over it
	br  *bufio.Reader
}

func newWire(c net.Conn) *wire {
	lc := &limitConn{Conn: c}
	return &wire{raw: lc, nc: lc, br: bufio.NewReaderSize(lc, 4096)}
}

// upgrade switches to a TLS connection made over w.raw.
func (w *wire) upgrade(tc net.Conn) {
	w.nc = tc
	w.br = bufio.NewReaderSize(tc, 4096)
}

// read reads a reply before the deadline.
func (w *wire) read(deadline time.Time) (reply, error) {
	if err := w.nc.SetReadDeadline(deadline); err != nil {
		return reply{}, err
	}
	return readReply(w.br)
}

// cmd sends one command line and reads the reply before the deadline.
func (w *wire) cmd(deadline time.Time, line string) (reply, error) {
	if err := w.nc.SetDeadline(deadline); err != nil {
		return reply{}, err
	}
	if _, err := io.WriteString(w.nc, line+"\r\n"); err != nil {
		return reply{}, err
	}
	return readReply(w.br)
}

// send writes one command line before the deadline and does not wait for
// the reply.
func (w *wire) send(deadline time.Time, line string) error {
	if err := w.nc.SetWriteDeadline(deadline); err != nil {
		return err
	}
	_, err := io.WriteString(w.nc, line+"\r\n")
	return err
}

// handoff returns a connection for go-smtp: reads first replay the greeting
// we already consumed (go-smtp insists on reading one before its first
// command), then whatever our buffer holds, then the network.
func (w *wire) handoff(greeting []byte) net.Conn {
	return &replayConn{Conn: w.nc, r: io.MultiReader(bytes.NewReader(greeting), w.br)}
}

type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// extensions parses an EHLO reply's lines after the first into keyword →
// parameters, keywords upper-cased.
func extensions(r reply) map[string]string {
	ext := make(map[string]string)
	for _, l := range r.lines[min(1, len(r.lines)):] {
		k, v, _ := strings.Cut(l, " ")
		ext[strings.ToUpper(k)] = v
	}
	return ext
}
