package probe

import (
	"context"
	"slices"
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

// envelopeFailure classifies the refusal of MAIL FROM or RCPT TO; asked is
// the cause the command itself would suggest.
func envelopeFailure(ctx context.Context, err error, asked Cause, what string) *failure {
	rp := smtpReply(err)
	if rp == nil {
		f := ioFailure(ctx, what, err)
		f.reset = false // after AUTH: never a second connection
		return f
	}
	f := &failure{cause: envelopeCause(rp, asked), detail: what + ": " + rp.String(), reply: rp}
	if rp.Code == 421 {
		f.cause = CauseServiceUnavailable
	} else if isRateLimit(strings.ToLower(rp.Message)) {
		f.cause = CauseRateLimited
	}
	return f
}

// Enhanced status codes (RFC 3463, X.1.n: addressing status) that name the
// address at fault.
var (
	senderCodes    = []string{"1.7", "1.8"}                // bad sender mailbox syntax, bad sender system address
	recipientCodes = []string{"1.1", "1.2", "1.3", "1.10"} // bad destination mailbox, system, syntax; null MX
)

// Wordings that name the side at fault, lower case, as Postfix, Exchange,
// Gmail and others say it.
var (
	senderWords = []string{"sender address rejected", "sender rejected", "sender verify failed",
		"not owned by user", "send as this sender", "sendasdenied", "sender not allowed", "from address rejected"}
	recipientWords = []string{"recipient address rejected", "recipient rejected", "user unknown", "unknown user",
		"relay access denied", "relaying denied", "relay not permitted", "no such user", "mailbox unavailable",
		"mailbox not found", "recipientnotfound", "recipient not found", "does not exist", "unrouteable address"}
)

// envelopeCause says whether a refusal is about the sender or the
// recipient by what the reply says, not only by the command it answered:
// servers that delay rejections until RCPT TO (Postfix's default,
// smtpd_delay_reject = yes) refuse a sender there ("553 5.7.1 <bob@...>:
// Sender address rejected: not owned by user alice@..."). The enhanced
// code decides where it names an address, then the wording; a reply that
// says neither is about the command it answered (asked).
func envelopeCause(rp *Reply, asked Cause) Cause {
	if _, detail, ok := strings.Cut(rp.EnhancedCode, "."); ok {
		switch {
		case slices.Contains(senderCodes, detail):
			return CauseSenderRejected
		case slices.Contains(recipientCodes, detail):
			return CauseRecipientRejected
		}
	}
	text := strings.ToLower(rp.Message)
	switch {
	case containsAny(text, senderWords...):
		return CauseSenderRejected
	case containsAny(text, recipientWords...):
		return CauseRecipientRejected
	}
	return asked
}
