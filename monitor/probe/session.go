package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"syscall"
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
}

func addPhase(ps *[]Phase, name string, began time.Time, ok bool, detail string) {
	*ps = append(*ps, Phase{Name: name, OK: ok, Duration: time.Since(began), Detail: detail})
}

type dialAttempt struct {
	addr string
	c    net.Conn
	err  error
}

// staggerDelay is how long one address gets before the next is tried in
// parallel (RFC 8305 "Happy Eyeballs" uses 250 ms).
const staggerDelay = 250 * time.Millisecond

// connect is the connect phase: it tries the addresses in order, starting the
// next while earlier attempts are still pending, and keeps the first that
// answers.
func (p *prober) connect(ctx context.Context, ips []net.IP, port int, ps *[]Phase) (net.Conn, string, *failure) {
	began := time.Now()
	cctx, cancel := context.WithTimeout(ctx, p.stageLimit())
	defer cancel()
	ch := make(chan dialAttempt, len(ips))
	next, pending := 0, 0
	launch := func() {
		addr := net.JoinHostPort(ips[next].String(), strconv.Itoa(port))
		next++
		pending++
		go func() {
			c, err := p.d.Dial(cctx, "tcp", addr)
			ch <- dialAttempt{addr, c, err}
		}()
	}
	launch()
	timer := time.NewTimer(staggerDelay)
	defer timer.Stop()
	var won *dialAttempt
	var fails []dialAttempt
	for pending > 0 {
		select {
		case a := <-ch:
			pending--
			switch {
			case a.err != nil:
				fails = append(fails, a)
			case won == nil:
				won = &a
				cancel() // abandon the other attempts
			default:
				a.c.Close()
			}
			if won == nil && pending == 0 && next < len(ips) {
				launch()
				timer.Reset(staggerDelay)
			}
		case <-timer.C:
			if won == nil && next < len(ips) {
				launch()
				timer.Reset(staggerDelay)
			}
		}
	}
	if won != nil {
		addPhase(ps, PhaseConnect, began, true, won.addr)
		return won.c, won.addr, nil
	}
	f := classifyDial(cctx, fails, p.stageLimit())
	addPhase(ps, PhaseConnect, began, false, f.detail)
	return nil, "", f
}

// classifyDial picks the most telling of several failed attempts: a refusal
// proves the host is there and the port closed; a timeout that something
// drops the packets; an unreachable network may mean we are offline.
func classifyDial(ctx context.Context, fails []dialAttempt, limit time.Duration) *failure {
	var parts []string
	refused, unreachable, reset := false, false, false
	var first error
	for _, a := range fails {
		what := "timed out after " + limit.Round(time.Millisecond).String()
		switch {
		case errors.Is(a.err, syscall.ECONNREFUSED):
			refused = true
			what = "connection refused"
		case isReset(a.err):
			reset = true
			what = "connection reset as soon as it opened"
		case errors.Is(a.err, syscall.ENETUNREACH), errors.Is(a.err, syscall.EHOSTUNREACH), errors.Is(a.err, syscall.EADDRNOTAVAIL):
			unreachable = true
			what = "network unreachable"
		case isTimeout(ctx, a.err):
		default:
			what = sanitize(a.err.Error(), 80)
		}
		if first == nil {
			first = a.err
		}
		parts = append(parts, a.addr+": "+what)
	}
	detail := strings.Join(parts, "; ")
	switch {
	case refused:
		return &failure{cause: CauseConnectionRefused, detail: detail, err: first}
	case reset:
		return &failure{cause: CauseServiceUnavailable, detail: detail, err: first, reset: true}
	case unreachable:
		return &failure{cause: CauseConnectionTimeout, detail: detail, err: first, unreachable: true}
	}
	return &failure{cause: CauseConnectionTimeout, detail: detail, err: first, timeout: true}
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
		return s, s.openTLS(ctx, ps)
	case mode == SecurityAuto && port == 465:
		// 465 is the implicit-TLS port almost everywhere: try that first,
		// and fall back to plaintext only if the server greets in clear.
		f = s.openTLS(ctx, ps)
		if f == nil || f.cause != CauseWrongTLSMode {
			return s, f
		}
		s.close()
		if s, f = p.dialSession(ctx, ips, port, ps); f != nil {
			return nil, f
		}
		return s, s.openPlain(ctx, ps, SecurityAuto, false)
	}
	return s, s.openPlain(ctx, ps, mode, true)
}

func (p *prober) dialSession(ctx context.Context, ips []net.IP, port int, ps *[]Phase) (*session, *failure) {
	c, addr, f := p.connect(ctx, ips, port, ps)
	if f != nil {
		return nil, f
	}
	s := &session{p: p, addr: addr, w: newWire(c)}
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
func (s *session) openTLS(ctx context.Context, ps *[]Phase) *failure {
	s.mode = SecurityTLS
	began := time.Now()
	info, f := s.p.handshake(ctx, s.w, deadline(ctx, s.p.stageLimit()))
	s.tls = info
	if f != nil {
		if f.cause == CauseWrongTLSMode {
			f.suggestion = &Suggestion{Port: s.port(), Security: SecurityStartTLS}
		}
		addPhase(ps, PhaseTLS, began, false, f.detail)
		return f
	}
	addPhase(ps, PhaseTLS, began, true, tlsDetail(info))
	return s.afterTLSGreeting(ctx, ps)
}

// afterTLSGreeting reads the greeting over an established TLS connection and
// lets go-smtp say EHLO.
func (s *session) afterTLSGreeting(ctx context.Context, ps *[]Phase) *failure {
	began := time.Now()
	r, err := s.w.read(deadline(ctx, s.p.stageLimit()))
	if f := classifyGreeting(ctx, r, err, s.w.raw.any.Load(), s.p.stageLimit()); f != nil {
		addPhase(ps, PhaseGreeting, began, false, f.detail)
		return f
	}
	s.greeting = r.raw
	addPhase(ps, PhaseGreeting, began, true, sanitize(fmt.Sprintf("%d %s", r.code, r.first()), 80))
	began = time.Now()
	f := s.hello(ctx)
	addPhase(ps, PhaseEHLO, began, f == nil, ifFail(f, s.extSummary()))
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
func (s *session) openPlain(ctx context.Context, ps *[]Phase, mode Security, sniff bool) *failure {
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
			addPhase(ps, PhaseGreeting, began, false, detail)
			return &failure{cause: CauseWrongTLSMode, detail: detail, suggestion: &Suggestion{Port: s.port(), Security: SecurityTLS}}
		}
		s.adopt(ctx, sn)
		addPhase(ps, PhaseTLS, began, sn.fail == nil, ifFail(sn.fail, "found SSL/TLS: "+tlsDetail(sn.info)))
		if sn.fail != nil {
			return sn.fail
		}
		return s.afterTLSGreeting(ctx, ps)
	}
	if f := classifyGreeting(ctx, r, err, s.w.raw.any.Load(), s.p.stageLimit()); f != nil {
		addPhase(ps, PhaseGreeting, began, false, f.detail)
		return f
	}
	s.greeting = r.raw
	addPhase(ps, PhaseGreeting, began, true, sanitize(fmt.Sprintf("%d %s", r.code, r.first()), 80))

	if mode == SecurityNone {
		began = time.Now()
		f := s.hello(ctx)
		addPhase(ps, PhaseEHLO, began, f == nil, ifFail(f, s.extSummary()))
		return f
	}

	began = time.Now()
	if f := s.ehlo(ctx); f != nil {
		addPhase(ps, PhaseEHLO, began, false, f.detail)
		return f
	}
	addPhase(ps, PhaseEHLO, began, true, s.extSummary())
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
	addPhase(ps, PhaseTLS, began, f == nil, ifFail(f, tlsDetail(s.tls)))
	return f
}

func ifFail(f *failure, ok string) string {
	if f != nil {
		return f.detail
	}
	return ok
}

// sniffed is the outcome of a TLS handshake tried on a second connection.
type sniffed struct {
	w    *wire
	info *TLSInfo
	fail *failure // a certificate problem: TLS spoken, certificate bad
}

// greet reads the greeting. A port configured for STARTTLS that really
// speaks implicit TLS waits for our handshake while we wait for its
// greeting; to see that without waiting out the whole timeout, when nothing
// at all has arrived after sniffDelay we try a TLS handshake on a second
// connection. If that one speaks TLS first, it wins and is returned.
func (s *session) greet(ctx context.Context, sniff bool) (reply, *sniffed, error) {
	type got struct {
		r   reply
		err error
	}
	gch := make(chan got, 1)
	go func() {
		r, err := s.w.read(deadline(ctx, s.p.stageLimit()))
		gch <- got{r, err}
	}()
	if !sniff {
		g := <-gch
		return g.r, nil, g.err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var sch chan *sniffed
	timer := time.NewTimer(s.p.sniffDelay())
	defer timer.Stop()
	for {
		select {
		case g := <-gch:
			if sch != nil {
				cancel()
				if sn := <-sch; sn != nil {
					sn.w.raw.Close()
				}
			}
			return g.r, nil, g.err
		case <-timer.C:
			if !s.w.raw.any.Load() {
				sch = make(chan *sniffed, 1)
				go func() { sch <- s.sniffTLS(sctx) }()
			}
		case sn := <-sch:
			if sn == nil {
				sch = nil // not TLS either; keep waiting for the greeting
				continue
			}
			s.w.raw.Close() // unblocks the greeting reader
			<-gch
			return reply{}, sn, nil
		}
	}
}

// sniffTLS tries a handshake on a new connection to the same address. It
// returns nil if the server does not speak TLS there.
func (s *session) sniffTLS(ctx context.Context) *sniffed {
	c, err := s.p.d.Dial(ctx, "tcp", s.addr)
	if err != nil {
		return nil
	}
	w := newWire(c)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	info, f := s.p.handshake(ctx, w, deadline(ctx, s.p.stageLimit()))
	var ce *certError
	switch {
	case f == nil:
		return &sniffed{w: w, info: info}
	case errors.As(f.err, &ce):
		return &sniffed{w: w, info: info, fail: f}
	}
	c.Close()
	return nil
}

// adopt continues the session on a sniffed TLS connection.
func (s *session) adopt(ctx context.Context, sn *sniffed) {
	s.stop()
	s.w.raw.Close()
	s.w, s.tls, s.mode = sn.w, sn.info, SecurityTLS
	c := sn.w.raw
	s.stop = context.AfterFunc(ctx, func() { c.Close() })
}

// classifyGreeting judges the greeting read (or not) from the server.
func classifyGreeting(ctx context.Context, r reply, err error, gotBytes bool, limit time.Duration) *failure {
	var pe *protocolError
	switch {
	case err == nil && r.code == 220:
		return nil
	case err == nil && r.code >= 400:
		rp := r.toReply()
		return &failure{cause: CauseServiceUnavailable, detail: rp.String(), reply: rp}
	case err == nil:
		return &failure{cause: CauseProtocolError, detail: "unexpected greeting: " + r.toReply().String()}
	case errors.As(err, &pe):
		return &failure{cause: CauseProtocolError, detail: pe.msg, err: err}
	case errors.Is(err, errTooMuchData), errors.Is(err, errLineTooLong), errors.Is(err, errTooManyLine):
		return &failure{cause: CauseProtocolError, detail: err.Error(), err: err}
	case isTimeout(ctx, err) && gotBytes:
		return &failure{cause: CauseGreetingTimeout, detail: "the greeting did not finish within " + limit.String(), err: err, timeout: true}
	case isTimeout(ctx, err):
		return &failure{cause: CauseGreetingTimeout, detail: "connected, but no greeting within " + limit.String(), err: err, timeout: true}
	case isReset(err):
		return &failure{cause: CauseServiceUnavailable, detail: "the server closed the connection without a greeting", err: err, reset: true}
	}
	return &failure{cause: CauseProtocolError, detail: "reading the greeting: " + sanitize(err.Error(), 100), err: err}
}

// ehlo is our own EHLO, before STARTTLS, falling back to HELO for servers
// that know no extensions.
func (s *session) ehlo(ctx context.Context) *failure {
	dl := deadline(ctx, s.p.t.timeout())
	r, err := s.w.cmd(dl, "EHLO "+s.p.t.ehloName())
	if err == nil && (r.code == 500 || r.code == 502) {
		r, err = s.w.cmd(dl, "HELO "+s.p.t.ehloName())
		if err == nil && r.code == 250 {
			s.ext = map[string]string{}
			return nil
		}
	}
	if f := commandFailure(ctx, "EHLO", r, err); f != nil {
		return f
	}
	s.ext = extensions(r)
	return nil
}

// commandFailure judges the reply to one of our own commands, wanting 250.
func commandFailure(ctx context.Context, verb string, r reply, err error) *failure {
	var pe *protocolError
	switch {
	case err == nil && r.code/100 == 2:
		return nil
	case err == nil && r.code == 421:
		rp := r.toReply()
		return &failure{cause: CauseServiceUnavailable, detail: rp.String(), reply: rp}
	case err == nil:
		rp := r.toReply()
		return &failure{cause: CauseProtocolError, detail: verb + " refused: " + rp.String(), reply: rp}
	case errors.As(err, &pe):
		return &failure{cause: CauseProtocolError, detail: pe.msg, err: err}
	case isTimeout(ctx, err):
		return &failure{cause: CauseGreetingTimeout, detail: "the server stopped answering (" + verb + ")", err: err, timeout: true}
	}
	return &failure{cause: CauseProtocolError, detail: verb + ": " + sanitize(err.Error(), 100), err: err, reset: isReset(err)}
}

// startTLS sends STARTTLS and runs the handshake.
func (s *session) startTLS(ctx context.Context) *failure {
	r, err := s.w.cmd(deadline(ctx, s.p.t.timeout()), "STARTTLS")
	if err == nil && r.code != 220 {
		rp := r.toReply()
		return &failure{cause: CauseTLSHandshakeFailed, detail: "STARTTLS refused: " + rp.String(), reply: rp}
	}
	if f := commandFailure(ctx, "STARTTLS", r, err); f != nil {
		return f
	}
	if s.w.br.Buffered() > 0 {
		// Bytes the server sent before the handshake would be read as if
		// they came over TLS (the "STARTTLS command injection" attack).
		return &failure{cause: CauseProtocolError, detail: "the server sent unexpected data right after agreeing to STARTTLS"}
	}
	info, f := s.p.handshake(ctx, s.w, deadline(ctx, s.p.stageLimit()))
	s.tls = info
	return f
}

// hello hands the connection to go-smtp and lets it say EHLO.
func (s *session) hello(ctx context.Context) *failure {
	s.client = smtp.NewClient(s.w.handoff(s.greeting))
	s.client.CommandTimeout = time.Until(deadline(ctx, s.p.t.timeout()))
	err := s.client.Hello(s.p.t.ehloName())
	if err == nil {
		return nil
	}
	if rp := smtpReply(err); rp != nil {
		if rp.Code == 421 {
			return &failure{cause: CauseServiceUnavailable, detail: rp.String(), reply: rp}
		}
		return &failure{cause: CauseProtocolError, detail: "EHLO refused: " + rp.String(), reply: rp}
	}
	return ioFailure(ctx, "EHLO", err)
}

// ioFailure classifies an error from go-smtp that carries no reply. Only
// failures before AUTH may be marked as a reset worth a new connection; the
// caller clears it otherwise.
func ioFailure(ctx context.Context, verb string, err error) *failure {
	if isTimeout(ctx, err) {
		return &failure{cause: CauseGreetingTimeout, detail: "the server stopped answering (" + verb + ")", err: err, timeout: true}
	}
	return &failure{cause: CauseProtocolError, detail: verb + ": " + sanitize(err.Error(), 100), err: err, reset: isReset(err)}
}

// extension reports whether the latest EHLO offered a keyword.
func (s *session) extension(name string) (bool, string) {
	if s.client != nil {
		return s.client.Extension(name)
	}
	v, ok := s.ext[name]
	return ok, v
}

// summaryExts are the capabilities worth a word in the report.
var summaryExts = []string{"STARTTLS", "AUTH", "SIZE", "PIPELINING", "8BITMIME", "SMTPUTF8", "CHUNKING", "REQUIRETLS"}

func (s *session) extSummary() string {
	var out []string
	for _, k := range summaryExts {
		if ok, v := s.extension(k); ok {
			if v != "" && (k == "AUTH" || k == "SIZE") {
				k += " " + v
			}
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return "no extensions"
	}
	return strings.Join(out, ", ")
}

// authMechanisms lists the SASL mechanisms the latest EHLO offered.
func (s *session) authMechanisms() ([]string, bool) {
	ok, v := s.extension("AUTH")
	if !ok {
		return nil, false
	}
	mechs := strings.Fields(strings.ToUpper(v))
	sort.Strings(mechs)
	return mechs, true
}

// quit is the quit phase: QUIT and its reply, briefly awaited.
func (s *session) quit(ctx context.Context, ps *[]Phase) {
	began := time.Now()
	r, err := s.w.cmd(deadline(ctx, quitWaitBudget), "QUIT")
	switch {
	case err != nil:
		addPhase(ps, PhaseQuit, began, false, "no answer to QUIT")
	case r.code == 221:
		addPhase(ps, PhaseQuit, began, true, sanitize(fmt.Sprintf("%d %s", r.code, r.first()), 80))
	default:
		addPhase(ps, PhaseQuit, began, false, r.toReply().String())
	}
}

// tlsDetail is the tls phase's line: version and certificate in brief.
func tlsDetail(t *TLSInfo) string {
	if t == nil {
		return ""
	}
	cert := fmt.Sprintf("certificate valid %s more days (issuer %s)", strconv.Itoa(t.DaysLeft), t.Issuer)
	if t.DaysLeft < 0 {
		cert = fmt.Sprintf("certificate expired %d days ago (issuer %s)", -t.DaysLeft, t.Issuer)
	}
	if !t.Verified {
		cert += ", NOT verified"
	}
	return t.Version + ", " + cert
}
