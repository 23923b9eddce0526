package probe

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
)

// auth is the auth phase. It makes exactly one AUTH attempt — never a second
// mechanism after a rejection — and only over TLS unless the account allows
// plaintext explicitly. Without credentials it records that sign-in was not
// verified and lets the run go on.
func (p *prober) auth(ctx context.Context, s *session) *failure {
	began := time.Now()
	if p.t.Username == "" {
		p.record(PhaseAuth, began, true, "skipped: no credentials configured")
		return nil
	}
	if s.tls == nil && !p.t.AllowPlaintextAuth {
		// go-smtp would send AUTH PLAIN over plaintext; the rule is ours.
		detail := "refused to send the password without encryption"
		p.record(PhaseAuth, began, false, detail)
		return &failure{cause: CausePlaintextAuthRefused, detail: detail}
	}
	mechs, offered := s.authMechanisms()
	var client sasl.Client
	var mech string
	switch {
	case !offered:
		detail := "the server offers no sign-in (AUTH) on this port"
		p.record(PhaseAuth, began, false, detail)
		return &failure{cause: CauseAuthUnsupported, detail: detail}
	case slices.Contains(mechs, sasl.Plain):
		mech, client = sasl.Plain, sasl.NewPlainClient("", p.t.Username, p.t.Password.Reveal())
	case slices.Contains(mechs, sasl.Login):
		mech, client = sasl.Login, sasl.NewLoginClient(p.t.Username, p.t.Password.Reveal())
	case slices.Contains(mechs, "XOAUTH2") || slices.Contains(mechs, sasl.OAuthBearer):
		detail := "the server accepts only OAuth sign-in (" + strings.Join(mechs, " ") + "), not a password"
		p.record(PhaseAuth, began, false, detail)
		return &failure{cause: CauseBasicAuthDisabled, detail: detail}
	default:
		detail := "no password mechanism offered (" + strings.Join(mechs, " ") + ")"
		p.record(PhaseAuth, began, false, detail)
		return &failure{cause: CauseAuthUnsupported, detail: detail}
	}
	s.client.CommandTimeout = time.Until(deadline(ctx, p.t.timeout()))
	err := s.client.Auth(client)
	if err == nil {
		p.res.AuthVerified = true
		p.record(PhaseAuth, began, true, "AUTH "+mech+" accepted for "+p.t.Username)
		return nil
	}
	f := classifyAuth(ctx, err)
	p.record(PhaseAuth, began, false, f.detail)
	return f
}

// classifyAuth maps the server's answer to AUTH onto a cause. Providers say
// the same things in different words; the enhanced code decides where there
// is one, the text where there is not.
func classifyAuth(ctx context.Context, err error) *failure {
	rp := smtpReply(err)
	if rp == nil {
		if errors.Is(err, sasl.ErrUnexpectedServerChallenge) {
			return &failure{cause: CauseProtocolError, detail: "unexpected challenge during AUTH LOGIN", err: err}
		}
		if isTimeout(ctx, err) {
			return &failure{cause: CauseAuthTemporaryFailure, detail: "the server did not answer the sign-in in time", err: err, timeout: true}
		}
		return &failure{cause: CauseProtocolError, detail: "AUTH: " + sanitize(err.Error(), 100), err: err}
	}
	text := strings.ToLower(rp.Message)
	f := &failure{detail: rp.String(), reply: rp}
	switch {
	case rp.EnhancedCode == "5.7.9" || rp.Code == 534 || containsAny(text, "application-specific password", "app password", "application password"):
		f.cause = CauseAppPasswordRequired
	case rp.EnhancedCode == "5.7.30" || rp.EnhancedCode == "5.7.139" ||
		containsAny(text, "basic authentication is disabled", "basic auth", "smtpclientauthentication is disabled", "oauth"):
		f.cause = CauseBasicAuthDisabled
	case rp.Code/100 == 4 && isRateLimit(text):
		f.cause = CauseRateLimited
	case rp.Code/100 == 4:
		f.cause = CauseAuthTemporaryFailure
	case rp.Code == 504 || rp.Code == 502 || rp.EnhancedCode == "5.5.4":
		f.cause = CauseAuthUnsupported
	case rp.Code == 530 || rp.Code == 538:
		f.cause = CauseAuthUnsupported
		f.detail = rp.String() + " (the server wants encryption first)"
	default:
		f.cause = CauseAuthRejected
	}
	return f
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func isRateLimit(text string) bool {
	return containsAny(text, "too many", "rate limit", "ratelimit", "rate-limit", "quota", "exceeded", "limit")
}

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
		p.record(PhaseEnvelope, began, false, f.detail)
		return f
	}
	if err := s.client.Rcpt(p.t.Rcpt, nil); err != nil {
		f := envelopeFailure(ctx, err, CauseRecipientRejected, "RCPT TO:<"+p.t.Rcpt+">")
		p.record(PhaseEnvelope, began, false, f.detail)
		return f
	}
	detail := "sender " + p.t.From + " and recipient " + p.t.Rcpt + " accepted; nothing sent"
	if err := s.client.Reset(); err != nil {
		detail += " (RSET failed)"
	}
	p.record(PhaseEnvelope, began, true, detail)
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
