package probe

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-sasl"

	"smtpwatch/monitor/credential"
)

// The OAuth2 SASL mechanisms.
const (
	mechXOAuth2     = "XOAUTH2"
	mechOAuthBearer = sasl.OAuthBearer
)

// authOAuth is the auth phase of an OAuth2 account (Target.Token): the
// mechanism is chosen from the server's offer, the access token is asked
// for only then, and it is sent once. The rules of auth hold: one
// attempt, and never without TLS (checked by the caller).
func (p *prober) authOAuth(ctx context.Context, s *session, began time.Time) *failure {
	fail := func(f *failure) *failure {
		record(s.ps, PhaseAuth, began, false, f.detail)
		return f
	}
	mechs, offered := s.authMechanisms()
	if !offered {
		return fail(&failure{cause: CauseAuthUnsupported, detail: "the server offers no sign-in (AUTH) on this port"})
	}
	mech := p.oauthMechanism(mechs)
	if mech == "" {
		detail := "the server offers no OAuth sign-in (" + strings.Join(mechs, " ") + ")"
		if m := p.t.OAuthMechanism; m != "" {
			detail = "the server does not offer " + strings.ToUpper(m) + " (" + strings.Join(mechs, " ") + ")"
		}
		return fail(&failure{cause: CauseAuthUnsupported, detail: detail})
	}
	token, err := p.t.Token(ctx)
	if err == nil && token.IsZero() {
		err = errors.New("no access token")
	}
	if err != nil {
		if ctx.Err() != nil {
			return fail(&failure{cause: CauseAuthTemporaryFailure, detail: "the check ran out of time while getting an access token", err: err, timeout: true})
		}
		cause := CauseOAuthSignInRequired
		if errors.Is(err, credential.ErrProviderUnreachable) {
			cause = CauseOAuthProviderUnreachable
		}
		return fail(&failure{cause: cause, detail: sanitize(err.Error(), 300), err: err})
	}
	p.secrets.token(token.Reveal())
	c := newOAuthClient(mech, p.t.Username, token.Reveal(), p.host, s.port())
	rp, err := s.saslExchange(ctx, c)
	if err == nil && rp == nil {
		p.res.AuthVerified = true
		record(s.ps, PhaseAuth, began, true, "AUTH "+mech+" accepted for "+p.t.Username)
		return nil
	}
	return fail(classifyOAuth(ctx, rp, err, c.status))
}

// oauthMechanism picks the mechanism: the forced one if offered; XOAUTH2
// for Microsoft, which offers nothing else; else OAUTHBEARER, the standard
// one, when offered; else XOAUTH2. "" when none fits.
func (p *prober) oauthMechanism(offered []string) string {
	has := func(m string) bool { return slices.Contains(offered, m) }
	if m := strings.ToUpper(p.t.OAuthMechanism); m != "" {
		if has(m) {
			return m
		}
		return ""
	}
	switch {
	case p.t.OAuthProvider == ProviderMicrosoft && has(mechXOAuth2):
		return mechXOAuth2
	case has(mechOAuthBearer):
		return mechOAuthBearer
	case has(mechXOAuth2):
		return mechXOAuth2
	}
	return ""
}

// oauthStatus is the JSON a server sends in its challenge when it refuses
// an OAuth2 token (RFC 7628 section 3.2.2, and Google's and Microsoft's
// XOAUTH2): {"status":"401","schemes":"bearer","scope":"mail"}.
type oauthStatus struct {
	Status  string `json:"status"`
	Schemes string `json:"schemes"`
	Scope   string `json:"scope"`
}

// oauthClient is the client side of SASL XOAUTH2 (Google's and
// Microsoft's mechanism, which go-sasl lacks: its maintainers declined it)
// and OAUTHBEARER (RFC 7628; the initial response is go-sasl's). Both send
// the user and the bearer token in the initial response. A refusal comes
// as a 334 challenge holding a JSON status; the client keeps it and
// answers with the dummy response each mechanism defines — an empty line
// for XOAUTH2, 0x01 for OAUTHBEARER — so that the server ends the exchange
// with its 5xx reply.
type oauthClient struct {
	mech     string
	ir       []byte
	answered bool
	// status is the server's JSON status, once it refused; nil before.
	status *oauthStatus
}

func newOAuthClient(mech, user, token, host string, port int) *oauthClient {
	c := &oauthClient{mech: mech}
	if mech == mechOAuthBearer {
		_, c.ir, _ = sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: user, Token: token, Host: host, Port: port}).Start()
	} else {
		c.ir = []byte("user=" + user + "\x01auth=Bearer " + token + "\x01\x01")
	}
	return c
}

func (c *oauthClient) Start() (string, []byte, error) { return c.mech, c.ir, nil }

// Next answers the one challenge these mechanisms know: the error status.
// A second challenge is a protocol error.
func (c *oauthClient) Next(challenge []byte) ([]byte, error) {
	if c.answered {
		return nil, &protocolError{"the server sent a second challenge during AUTH " + c.mech}
	}
	c.answered = true
	var st oauthStatus
	if err := json.Unmarshal(challenge, &st); err != nil {
		st = oauthStatus{Status: "(not JSON)"}
	}
	c.status = &st
	if c.mech == mechOAuthBearer {
		return []byte{0x01}, nil
	}
	return []byte{}, nil
}

// classifyOAuth maps the server's answer to an OAuth2 sign-in onto a
// cause: an administrator's switch (smtp_auth_disabled), the server's
// temporary refusals as for passwords, and any other 5xx — the token
// itself refused (oauth_token_rejected). status is the JSON the server
// gave before its final reply, nil if none.
func classifyOAuth(ctx context.Context, rp *Reply, err error, status *oauthStatus) *failure {
	if rp == nil {
		return classifyAuth(ctx, rp, err)
	}
	f := &failure{detail: rp.String(), reply: rp}
	if status != nil {
		var said []string
		for _, kv := range [][2]string{{"status", status.Status}, {"scope", status.Scope}} {
			if kv[1] != "" {
				said = append(said, kv[0]+" "+sanitize(kv[1], 60))
			}
		}
		if len(said) > 0 {
			f.detail += " (the server said: " + strings.Join(said, ", ") + ")"
		}
	}
	text := strings.ToLower(rp.Message)
	switch {
	case smtpAuthDisabled(rp):
		f.cause = CauseSMTPAuthDisabled
	case rp.Code/100 == 4 && isRateLimit(text):
		f.cause = CauseRateLimited
	case rp.Code/100 == 4:
		f.cause = CauseAuthTemporaryFailure
	case rp.Code == 504 || rp.Code == 502 || rp.EnhancedCode == "5.5.4":
		f.cause = CauseAuthUnsupported
	case rp.Code == 500 || rp.Code == 501:
		// The command itself was refused ("500 5.5.2 Line too long"), not
		// the token.
		f.cause = CauseProtocolError
		f.detail = "the server did not take the sign-in command: " + rp.String()
	case rp.Code == 530 || rp.Code == 538:
		f.cause = CauseAuthUnsupported
		f.detail = rp.String() + " (the server wants encryption first)"
	default:
		f.cause = CauseOAuthTokenRejected
	}
	return f
}
