package probe

import (
	"context"
	"errors"
	"smtpwatch/monitor/human"
	"time"
)

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
		return &failure{cause: CauseGreetingTimeout, detail: "the greeting did not finish within " + human.Duration(limit), err: err, timeout: true}
	case isTimeout(ctx, err):
		return &failure{cause: CauseGreetingTimeout, detail: "connected, but no greeting within " + human.Duration(limit), err: err, timeout: true}
	case isReset(err):
		return &failure{cause: CauseServiceUnavailable, detail: "the server closed the connection without a greeting", err: err, reset: true}
	}
	return &failure{cause: CauseProtocolError, detail: "reading the greeting: " + sanitize(err.Error(), 100), err: err}
}
