package probe

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Redaction. A server may quote the credential back in its refusal ("535
// 5.7.8 Authentication failed for AHVAeAB... (password=hunter2)"), and a
// server that learnt the password from an earlier check may put it in its
// greeting. Whatever a server says ends up in details, messages and logs,
// so every string that leaves Probe — the Result (see Probe's single
// return) and every log record (see redactHandler) — goes through one
// redactor that knows every form of the secret: the value itself and each
// base64 line the AUTH exchange put on the wire.

// redactedText replaces a secret wherever one is found.
const redactedText = "[redacted]"

// Bounds of the redaction rules.
const (
	// minPlainSubstring: a plain value this long or longer is redacted
	// wherever it occurs. A shorter one (a 1–3 character password) is
	// redacted only as a whole token — not inside a word, nor next to a
	// letter or digit: replacing every "a" would shred the report and,
	// by the pattern of the gaps, disclose the value anyway.
	minPlainSubstring = 4
	// minEncodedFragment: a run of base64 characters is redacted when it
	// shares this many characters in a row with a base64 form we sent;
	// servers truncate what they quote ("AHVAeAB..."). Shorter common
	// runs happen by chance.
	minEncodedFragment = 6
)

// secrets are the forms of the account's credential that may come back in
// a server's words. It is safe for concurrent use: follow-up connections
// log while the AUTH exchange registers what it sends. The zero value
// knows no secret and redacts nothing.
type secrets struct {
	mu      sync.Mutex
	plain   []string // values as the account holds them
	encoded []string // base64 forms, as sent or as they would be sent
}

// password registers a password and the forms AUTH PLAIN and LOGIN would
// send it in: the PLAIN initial response "\x00user\x00pass" (and with the
// user as authorization identity), and LOGIN's password line. An empty
// password registers nothing.
func (s *secrets) password(user, pass string) {
	if pass == "" {
		return
	}
	s.addPlain(pass)
	s.addEncoded(base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass)))
	s.addEncoded(base64.StdEncoding.EncodeToString([]byte(user + "\x00" + user + "\x00" + pass)))
	s.addEncoded(base64.StdEncoding.EncodeToString([]byte(pass)))
}

// token registers an OAuth2 access token: the value itself, and each of
// its dot-separated parts (a JWT's header, claims and signature) as an
// encoded form, so that a server quoting a truncated token ("eyJ0eXAi...")
// has its quote redacted too. The XOAUTH2 and OAUTHBEARER lines that carry
// it are registered when they are sent (see sent).
func (s *secrets) token(tok string) {
	s.addPlain(tok)
	// The token inside any base64 line, at each of the three alignments
	// base64 can give it (what precedes it in the line decides which): a
	// server may quote the XOAUTH2 or OAUTHBEARER line, or another
	// encoding of the token, in part. The first and last characters mix
	// with their neighbours and are left out.
	for pad := range 3 {
		enc := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\x00", pad) + tok))
		if len(enc) > 12 {
			s.addEncoded(enc[4 : len(enc)-4])
		}
	}
	for part := range strings.SplitSeq(tok, ".") {
		// base64url's "-" and "_" end a run of base64 characters; each
		// piece is a form of its own.
		for piece := range strings.FieldsFuncSeq(part, func(r rune) bool { return r == '-' || r == '_' }) {
			if len(piece) >= minEncodedFragment {
				s.addEncoded(piece)
			}
		}
	}
}

// addPlain registers a secret value (a password, an OAuth token).
func (s *secrets) addPlain(v string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.plain = appendNew(s.plain, v)
}

func (s *secrets) addEncoded(v string) {
	v = strings.TrimRight(v, "=")
	if v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.encoded = appendNew(s.encoded, v)
}

// sent records a SASL response the AUTH exchange is about to put on the
// wire, as raw bytes and as the line that carries them: when it holds a
// registered secret, the line becomes one more form to redact.
func (s *secrets) sent(raw []byte, line string) {
	s.mu.Lock()
	holds := false
	for _, v := range s.plain {
		holds = holds || bytes.Contains(raw, []byte(v))
	}
	s.mu.Unlock()
	if holds {
		s.addEncoded(line)
	}
}

func appendNew(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// redact returns str with every known form of a secret replaced by
// "[redacted]": the plain values (see minPlainSubstring for short ones), and
// every run of base64 characters that contains a registered base64 form or
// shares minEncodedFragment characters in a row with one.
func (s *secrets) redact(str string) string {
	s.mu.Lock()
	plain, encoded := s.plain, s.encoded
	s.mu.Unlock()
	if str == "" || (len(plain) == 0 && len(encoded) == 0) {
		return str
	}
	for _, v := range plain {
		if utf8.RuneCountInString(v) >= minPlainSubstring {
			str = strings.ReplaceAll(str, v, redactedText)
		} else {
			str = replaceToken(str, v)
		}
	}
	if len(encoded) == 0 {
		return str
	}
	var b strings.Builder
	for i := 0; i < len(str); {
		if !isBase64Char(str[i]) {
			b.WriteByte(str[i])
			i++
			continue
		}
		j := i
		for j < len(str) && isBase64Char(str[j]) {
			j++
		}
		if run := str[i:j]; holdsEncoded(run, encoded) {
			b.WriteString(redactedText)
		} else {
			b.WriteString(run)
		}
		i = j
	}
	return b.String()
}

func isBase64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}

// holdsEncoded reports whether a run of base64 characters is, contains or
// shares a fragment with one of the encoded forms.
func holdsEncoded(run string, encoded []string) bool {
	core := strings.TrimRight(run, "=")
	for _, e := range encoded {
		if strings.Contains(core, e) {
			return true
		}
		for k := 0; k+minEncodedFragment <= len(core); k++ {
			if strings.Contains(e, core[k:k+minEncodedFragment]) {
				return true
			}
		}
	}
	return false
}

// replaceToken replaces v where it stands alone: not preceded or followed
// by a letter or digit.
func replaceToken(str, v string) string {
	var b strings.Builder
	done := 0 // str[:done] is written
	for from := 0; ; {
		i := strings.Index(str[from:], v)
		if i < 0 {
			b.WriteString(str[done:])
			return b.String()
		}
		i += from
		end := i + len(v)
		before, _ := utf8.DecodeLastRuneInString(str[:i])
		after, _ := utf8.DecodeRuneInString(str[end:])
		if (i == 0 || !isWordRune(before)) && (end == len(str) || !isWordRune(after)) {
			b.WriteString(str[done:i])
			b.WriteString(redactedText)
			done = end
			from = end
		} else {
			from = i + 1
		}
	}
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// ownFields are the string fields that never hold a server's words: the
// account's identity from its settings, which callers key results by, and
// the phase names. Redaction leaves them alone. Fields of named string
// types (Cause, Status, Security) are enumerations of ours and are left
// alone too.
var ownFields = map[string]bool{"Result.Name": true, "Result.Provider": true, "Result.Server": true, "Phase.Name": true}

// result returns r with every string a server could have put there
// redacted: every exported string field at any depth — Message, Advice,
// Warnings, Notes, SMTP, Phases, TLS, and any field added later — except
// ownFields. Slices and pointers are copied, never written through.
func (s *secrets) result(r Result) Result {
	s.scrub(reflect.ValueOf(&r).Elem())
	return r
}

// scrub redacts, in place, the strings reachable from the settable v.
func (s *secrets) scrub(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.Type() == reflect.TypeFor[string]() {
			v.SetString(s.redact(v.String()))
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			if f := t.Field(i); f.IsExported() && !ownFields[t.Name()+"."+f.Name] {
				s.scrub(v.Field(i))
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			c := reflect.New(v.Type().Elem())
			c.Elem().Set(v.Elem())
			s.scrub(c.Elem())
			v.Set(c)
		}
	case reflect.Slice:
		if !v.IsNil() {
			c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
			reflect.Copy(c, v)
			for i := range c.Len() {
				s.scrub(c.Index(i))
			}
			v.Set(c)
		}
	}
}

// redactHandler passes log records on with the message and every attribute
// redacted: whatever the probe logs goes through it (see Probe).
type redactHandler struct {
	next slog.Handler
	s    *secrets
}

func (h redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h redactHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.s.redact(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redactHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = h.attr(a)
	}
	return redactHandler{h.next.WithAttrs(red), h.s}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{h.next.WithGroup(name), h.s}
}

// attr redacts one attribute. Values other than strings and groups are
// printed and, when the printed form holds a secret, replaced by the
// redacted print.
func (h redactHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.s.redact(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, ga := range g {
			red[i] = h.attr(ga)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		printed := fmt.Sprint(v.Any())
		if _, isErr := v.Any().(error); isErr {
			return slog.String(a.Key, h.s.redact(printed))
		}
		if red := h.s.redact(printed); red != printed {
			return slog.String(a.Key, red)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
