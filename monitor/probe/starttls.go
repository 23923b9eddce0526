package probe

import (
	"context"
	"fmt"
	"strconv"
)

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
