package probe

import (
	"context"
	"strings"
	"time"
)

// envelope is the optional envelope phase: would the server take mail from
// this sender to this recipient? MAIL FROM, RCPT TO, then RSET; never DATA.
func (p *prober) envelope(ctx context.Context, s *session) *failure {
	if p.t.From == "" || p.t.Rcpt == "" {
		return nil
	}
	began := time.Now()
	s.client.CommandTimeout = time.Until(deadline(ctx, p.t.timeout()))
	if err := s.client.Mail(p.t.From, nil); err != nil {
		f := envelopeFailure(ctx, err, CauseSenderRejected, "MAIL FROM:<"+p.t.From+">")
		record(s.ps, PhaseEnvelope, began, false, f.detail)
		return f
	}
	if err := s.client.Rcpt(p.t.Rcpt, nil); err != nil {
		f := envelopeFailure(ctx, err, CauseRecipientRejected, "RCPT TO:<"+p.t.Rcpt+">")
		record(s.ps, PhaseEnvelope, began, false, f.detail)
		return f
	}
	detail := "sender " + p.t.From + " and recipient " + p.t.Rcpt + " accepted; nothing sent"
	if err := s.client.Reset(); err != nil {
		detail += " (RSET failed)"
	}
	record(s.ps, PhaseEnvelope, began, true, detail)
	return nil
}

func envelopeFailure(ctx context.Context, err error, cause Cause, what string) *failure {
	rp := smtpReply(err)
	if rp == nil {
		f := ioFailure(ctx, what, err)
		f.reset = false // after AUTH: never a second connection
		return f
	}
	f := &failure{cause: cause, detail: what + ": " + rp.String(), reply: rp}
	if rp.Code == 421 {
		f.cause = CauseServiceUnavailable
	} else if isRateLimit(strings.ToLower(rp.Message)) {
		f.cause = CauseRateLimited
	}
	return f
}
