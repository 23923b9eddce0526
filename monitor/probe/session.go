package probe

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/emersion/go-smtp"
)

// session is one connection to the server, from TCP to QUIT.
type session struct {
	p        *prober
	addr     string // ip:port
	w        *wire
	greeting []byte            // the greeting's bytes, replayed to go-smtp
	ext      map[string]string // extensions from our own (pre-TLS) EHLO
	tls      *TLSInfo          // nil until a handshake got as far as the certificate
	mode     Security          // what the session ended up using: starttls, tls or none
	client   *smtp.Client      // set once go-smtp has taken over
	stop     func() bool
	ps       *[]Phase // where this session's phases are recorded
}

// open connects and brings the session to the point where AUTH may follow:
// greeted, EHLO'd and, unless the mode is none, encrypted with a verified
// certificate. Phases go to ps. The returned session, when non-nil, must be
// closed by the caller, even with a failure.
func (p *prober) open(ctx context.Context, ips []net.IP, port int, mode Security, ps *[]Phase) (*session, *failure) {
	s, f := p.dialSession(ctx, ips, port, ps)
	if f != nil {
		return nil, f
	}
	switch {
	case mode == SecurityTLS:
		return s, s.openTLS(ctx)
	case mode == SecurityAuto && port == 465:
		// 465 is the implicit-TLS port almost everywhere: try that first,
		// and fall back to plaintext only if the server greets in clear.
		f = s.openTLS(ctx)
		if f == nil || f.cause != CauseWrongTLSMode {
			return s, f
		}
		s.close()
		if s, f = p.dialSession(ctx, ips, port, ps); f != nil {
			return nil, f
		}
		return s, s.openPlain(ctx, SecurityAuto, false)
	}
	return s, s.openPlain(ctx, mode, true)
}

func (p *prober) dialSession(ctx context.Context, ips []net.IP, port int, ps *[]Phase) (*session, *failure) {
	c, addr, f := p.connect(ctx, ips, port, ps)
	if f != nil {
		return nil, f
	}
	s := &session{p: p, addr: addr, w: newWire(c), ps: ps}
	// go-smtp has no context: closing the connection when ctx ends is what
	// bounds its blocking calls, whatever deadline it set itself.
	s.stop = context.AfterFunc(ctx, func() { c.Close() })
	return s, nil
}

// close ends the connection; after QUIT it is only the TCP close.
func (s *session) close() {
	s.stop()
	_ = s.w.nc.SetDeadline(time.Now().Add(200 * time.Millisecond))
	_ = s.w.nc.Close() // sends close_notify on TLS
	_ = s.w.raw.Close()
}

// openTLS: implicit TLS, then the greeting and EHLO inside it.
func (s *session) openTLS(ctx context.Context) *failure {
	s.mode = SecurityTLS
	began := time.Now()
	info, f := s.p.handshake(ctx, s.w, deadline(ctx, s.p.stageLimit()))
	s.tls = info
	if f != nil {
		if f.cause == CauseWrongTLSMode {
			f.suggestion = &Suggestion{Port: s.port(), Security: SecurityStartTLS}
		}
		record(s.ps, PhaseTLS, began, false, f.detail)
		return f
	}
	record(s.ps, PhaseTLS, began, true, tlsDetail(info))
	return s.afterTLSGreeting(ctx)
}

// afterTLSGreeting reads the greeting over an established TLS connection and
// lets go-smtp say EHLO.
func (s *session) afterTLSGreeting(ctx context.Context) *failure {
	began := time.Now()
	r, err := s.w.read(deadline(ctx, s.p.stageLimit()))
	if f := classifyGreeting(ctx, r, err, s.w.raw.any.Load(), s.p.stageLimit()); f != nil {
		record(s.ps, PhaseGreeting, began, false, f.detail)
		return f
	}
	s.greeting = r.raw
	record(s.ps, PhaseGreeting, began, true, sanitize(fmt.Sprintf("%d %s", r.code, r.first()), 80))
	began = time.Now()
	f := s.hello(ctx)
	record(s.ps, PhaseEHLO, began, f == nil, ifFail(f, s.extSummary()))
	return f
}

func (s *session) port() int {
	_, port, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(port)
	return n
}

// openPlain: greeting and EHLO in plaintext, then STARTTLS unless the mode is
// none. With sniff set, a silent server is checked for implicit TLS on a
// second connection (see greet).
func (s *session) openPlain(ctx context.Context, mode Security, sniff bool) *failure {
	s.mode = SecurityStartTLS
	if mode == SecurityNone {
		s.mode = SecurityNone
	}
	began := time.Now()
	r, sn, err := s.greet(ctx, sniff)
	if sn != nil {
		// The port waited for a TLS handshake: an implicit-TLS port.
		if mode != SecurityAuto {
			sn.w.raw.Close()
			s.tls = sn.info
			detail := "no greeting: this port expects SSL/TLS from the first byte"
			record(s.ps, PhaseGreeting, began, false, detail)
			return &failure{cause: CauseWrongTLSMode, detail: detail, suggestion: &Suggestion{Port: s.port(), Security: SecurityTLS}}
		}
		s.adopt(ctx, sn)
		record(s.ps, PhaseTLS, began, sn.fail == nil, ifFail(sn.fail, "found SSL/TLS: "+tlsDetail(sn.info)))
		if sn.fail != nil {
			return sn.fail
		}
		return s.afterTLSGreeting(ctx)
	}
	if f := classifyGreeting(ctx, r, err, s.w.raw.any.Load(), s.p.stageLimit()); f != nil {
		record(s.ps, PhaseGreeting, began, false, f.detail)
		return f
	}
	s.greeting = r.raw
	record(s.ps, PhaseGreeting, began, true, sanitize(fmt.Sprintf("%d %s", r.code, r.first()), 80))

	if mode == SecurityNone {
		began = time.Now()
		f := s.hello(ctx)
		record(s.ps, PhaseEHLO, began, f == nil, ifFail(f, s.extSummary()))
		return f
	}

	began = time.Now()
	if f := s.ehlo(ctx); f != nil {
		record(s.ps, PhaseEHLO, began, false, f.detail)
		return f
	}
	record(s.ps, PhaseEHLO, began, true, s.extSummary())
	if _, ok := s.ext["STARTTLS"]; !ok {
		if mode == SecurityAuto {
			s.mode = SecurityNone
			return nil
		}
		return &failure{cause: CauseSTARTTLSUnsupported, detail: "the server does not offer STARTTLS on this port"}
	}
	began = time.Now()
	f := s.startTLS(ctx)
	if f == nil && !s.p.t.SkipAuth {
		// The capabilities that matter (AUTH) are those offered after TLS.
		f = s.hello(ctx)
	}
	record(s.ps, PhaseTLS, began, f == nil, ifFail(f, tlsDetail(s.tls)))
	return f
}

func ifFail(f *failure, ok string) string {
	if f != nil {
		return f.detail
	}
	return ok
}
