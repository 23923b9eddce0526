package probe

import (
	"context"
	"encoding/base64"
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
//
// A user name without a password or a token is no credential: an AUTH with
// an empty password would count as a failed login against the account, so
// none is sent.
func (p *prober) auth(ctx context.Context, s *session) *failure {
	began := time.Now()
	switch {
	case p.t.Username == "":
		record(s.ps, PhaseAuth, began, true, "skipped: no credentials configured")
		return nil
	case !p.t.hasCredential():
		record(s.ps, PhaseAuth, began, true, "skipped: no password configured for "+p.t.Username)
		return nil
	}
	if s.tls == nil && !p.t.AllowPlaintextAuth {
		// go-smtp would send AUTH PLAIN over plaintext; the rule is ours.
		detail := "refused to send the password without encryption"
		if p.t.Token != nil {
			detail = "refused to send the access token without encryption"
		}
		record(s.ps, PhaseAuth, began, false, detail)
		return &failure{cause: CausePlaintextAuthRefused, detail: detail}
	}
	if p.t.Token != nil {
		return p.authOAuth(ctx, s, began)
	}
	mechs, offered := s.authMechanisms()
	var client sasl.Client
	var mech string
	switch {
	case !offered:
		detail := "the server offers no sign-in (AUTH) on this port"
		record(s.ps, PhaseAuth, began, false, detail)
		return &failure{cause: CauseAuthUnsupported, detail: detail}
	case slices.Contains(mechs, sasl.Plain):
		mech, client = sasl.Plain, sasl.NewPlainClient("", p.t.Username, p.t.Password.Reveal())
	case slices.Contains(mechs, sasl.Login):
		mech, client = sasl.Login, sasl.NewLoginClient(p.t.Username, p.t.Password.Reveal())
	case slices.Contains(mechs, "XOAUTH2") || slices.Contains(mechs, sasl.OAuthBearer):
		detail := "the server accepts only OAuth sign-in (" + strings.Join(mechs, " ") + "), not a password"
		record(s.ps, PhaseAuth, began, false, detail)
		return &failure{cause: CauseBasicAuthDisabled, detail: detail}
	default:
		detail := "no password mechanism offered (" + strings.Join(mechs, " ") + ")"
		record(s.ps, PhaseAuth, began, false, detail)
		return &failure{cause: CauseAuthUnsupported, detail: detail}
	}
	rp, err := s.saslExchange(ctx, client)
	if err == nil && rp == nil {
		p.res.AuthVerified = true
		record(s.ps, PhaseAuth, began, true, "AUTH "+mech+" accepted for "+p.t.Username)
		return nil
	}
	f := classifyAuth(ctx, rp, err)
	record(s.ps, PhaseAuth, began, false, f.detail)
	return f
}

// maxSASLSteps bounds a mechanism's challenges; PLAIN needs none, LOGIN one.
const maxSASLSteps = 4

// maxCommandLine is the longest command line, CRLF excluded, that RFC 5321
// (4.5.3.1.4) lets a client send: 512 octets with the CRLF.
const maxCommandLine = 510

// saslExchange runs AUTH on our own wire: go-sasl (or oauthClient)
// encodes the mechanism, we speak the protocol. go-smtp's Auth answers a
// final rejection with "*", the SASL abort that is valid only mid-exchange;
// servers take it as a stray command (Postfix logs "non-SMTP command" and
// hangs up), which costs a round trip and the QUIT. Here "*" goes only
// after a challenge we cannot answer. It returns nil, nil on 235; the
// server's reply when it refused; or an I/O or protocol error.
//
// An initial response that would make the AUTH line longer than a
// command line may be (an OAuth2 token of 1–2 kB) goes as RFC 4954 says:
// "AUTH MECH" alone, then the response in answer to the server's empty
// 334 challenge — one round trip more. Responses to challenges are not
// bound by the command line's length (RFC 4954, section 4).
func (s *session) saslExchange(ctx context.Context, c sasl.Client) (*Reply, error) {
	dl := deadline(ctx, s.p.t.timeout())
	mech, ir, err := c.Start()
	if err != nil {
		return nil, err
	}
	line, held := "AUTH "+mech, ""
	if ir != nil {
		enc := encodeSASL(ir)
		s.p.secrets.sent(ir, enc)
		if len(line)+1+len(enc) <= maxCommandLine {
			line += " " + enc
		} else {
			held = enc
		}
	}
	r, err := s.w.cmd(dl, line)
	if held != "" && err == nil && r.code == 334 {
		r, err = s.w.cmd(dl, held)
	}
	for step := 0; ; step++ {
		switch {
		case err != nil:
			return nil, err
		case r.code == 235:
			return nil, nil
		case r.code != 334:
			return r.toReply(), nil
		case step == maxSASLSteps:
			_, _ = s.w.cmd(dl, "*")
			return nil, &protocolError{"the server kept asking for more during AUTH"}
		}
		challenge, derr := base64.StdEncoding.DecodeString(r.first())
		var resp []byte
		if derr == nil {
			resp, derr = c.Next(challenge)
		}
		if derr != nil {
			_, _ = s.w.cmd(dl, "*") // abort, as RFC 4954 says
			return nil, derr
		}
		// A response to a challenge is plain base64: an empty one is an
		// empty line (as XOAUTH2's failure exchange wants it), not "=",
		// which RFC 4954 defines for the initial response only.
		enc := base64.StdEncoding.EncodeToString(resp)
		s.p.secrets.sent(resp, enc)
		r, err = s.w.cmd(dl, enc)
	}
}

// encodeSASL is an initial response as RFC 4954 sends it: base64, "=" for
// empty.
func encodeSASL(b []byte) string {
	if len(b) == 0 {
		return "="
	}
	return base64.StdEncoding.EncodeToString(b)
}

// classifyAuth maps the server's answer to AUTH onto a cause. Providers say
// the same things in different words; the enhanced code decides where there
// is one, the text where there is not.
func classifyAuth(ctx context.Context, rp *Reply, err error) *failure {
	if rp == nil {
		if errors.Is(err, sasl.ErrUnexpectedServerChallenge) {
			return &failure{cause: CauseProtocolError, detail: "unexpected challenge during AUTH LOGIN", err: err}
		}
		var pe *protocolError
		if errors.As(err, &pe) {
			return &failure{cause: CauseProtocolError, detail: pe.msg, err: err}
		}
		if isTimeout(ctx, err) {
			return &failure{cause: CauseAuthTemporaryFailure, detail: "the server did not answer the sign-in in time", err: err, timeout: true}
		}
		return &failure{cause: CauseProtocolError, detail: "AUTH: " + sanitize(err.Error(), 100), err: err}
	}
	text := strings.ToLower(rp.Message)
	f := &failure{detail: rp.String(), reply: rp}
	switch {
	case smtpAuthDisabled(rp):
		f.cause = CauseSMTPAuthDisabled
	case rp.EnhancedCode == "5.7.9" || rp.Code == 534 || containsAny(text, "application-specific password", "app password", "application password"):
		f.cause = CauseAppPasswordRequired
	case rp.EnhancedCode == "5.7.30" || rp.EnhancedCode == "5.7.139" ||
		containsAny(text, "basic authentication is disabled", "basic auth", "oauth"):
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

// smtpAuthDisabled reports whether a refusal says that an administrator
// switched SMTP sign-in off — Microsoft's "535 5.7.139 Authentication
// unsuccessful, SmtpClientAuthentication is disabled for the Tenant" (or
// "for the Mailbox") — which no credential, password or OAuth, gets past.
func smtpAuthDisabled(rp *Reply) bool {
	return rp.Code/100 == 5 && strings.Contains(strings.ToLower(rp.Message), "smtpclientauthentication is disabled")
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
