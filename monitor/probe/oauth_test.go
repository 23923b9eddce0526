package probe_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/oauthtest"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

// oauthTarget is the fixture's STARTTLS target signing in with OAuth2:
// token gives the access token, and counts its calls in calls.
func (f *fixture) oauthTarget(addr string, token func() (string, error), calls *atomic.Int32) probe.Target {
	tg := f.target(addr, probe.SecurityStartTLS)
	tg.Password = credential.Secret{}
	tg.CredentialHint = "smtpwatch login test"
	tg.Token = func(context.Context) (credential.Secret, error) {
		if calls != nil {
			calls.Add(1)
		}
		s, err := token()
		return credential.NewSecret(s), err
	}
	return tg
}

// The OAuth2 sign-in, one named case per outcome, against go-smtp servers
// that validate the provider's JWTs: both mechanisms work; the mechanism
// follows the server's offer and the provider; each refusal has its
// cause.
func TestProbeOAuth(t *testing.T) {
	f := newFixture(t)
	idp := oauthtest.Start(t, oauthtest.Options{Pad: 1500})
	valid := func() (string, error) { return idp.AccessToken(user, time.Hour), nil }
	type tc struct {
		name     string
		opts     smtptest.Options // Cert and Tokens (idp.Check) are filled in
		token    func() (string, error)
		target   func(*probe.Target)
		cause    probe.Cause
		mech     string // the mechanism the auth phase names, for ok
		noToken  bool   // the token is never asked for
		noAuth   bool   // no AUTH reaches the server
		adviceIs string // a piece of the advice
	}
	cases := []tc{
		{name: "ok: XOAUTH2 only offered", opts: smtptest.Options{Mechanisms: []string{"XOAUTH2"}}, token: valid, cause: probe.CauseOK, mech: "XOAUTH2"},
		{name: "ok: OAUTHBEARER only offered", opts: smtptest.Options{Mechanisms: []string{"OAUTHBEARER"}}, token: valid, cause: probe.CauseOK, mech: "OAUTHBEARER"},
		{name: "ok: both offered, OAUTHBEARER preferred", token: valid, cause: probe.CauseOK, mech: "OAUTHBEARER"},
		{name: "ok: Microsoft takes XOAUTH2", token: valid, cause: probe.CauseOK, mech: "XOAUTH2",
			target: func(tg *probe.Target) { tg.OAuthProvider = probe.ProviderMicrosoft }},
		{name: "ok: a forced mechanism", token: valid, cause: probe.CauseOK, mech: "XOAUTH2",
			target: func(tg *probe.Target) { tg.OAuthMechanism = "xoauth2" }},
		{name: "ok: beside PLAIN and LOGIN", opts: smtptest.Options{Users: users}, token: valid, cause: probe.CauseOK, mech: "OAUTHBEARER"},
		{name: "oauth_token_rejected: expired (XOAUTH2)", opts: smtptest.Options{Mechanisms: []string{"XOAUTH2"}},
			token: func() (string, error) { return idp.AccessToken(user, -time.Minute), nil }, cause: probe.CauseOAuthTokenRejected,
			adviceIs: "Sign in again as " + user},
		{name: "oauth_token_rejected: expired (OAUTHBEARER)", opts: smtptest.Options{Mechanisms: []string{"OAUTHBEARER"}},
			token: func() (string, error) { return idp.AccessToken(user, -time.Minute), nil }, cause: probe.CauseOAuthTokenRejected},
		{name: "oauth_token_rejected: a token for another user",
			token: func() (string, error) { return idp.AccessToken("mallory@example.test", time.Hour), nil }, cause: probe.CauseOAuthTokenRejected},
		{name: "oauth_token_rejected: Microsoft names the permission", opts: smtptest.Options{Mechanisms: []string{"XOAUTH2"}},
			token: func() (string, error) { return "not-a-jwt-but-long-enough", nil }, cause: probe.CauseOAuthTokenRejected,
			target: func(tg *probe.Target) { tg.OAuthProvider = probe.ProviderMicrosoft }, adviceIs: "SMTP.Send"},
		{name: "smtp_auth_disabled: the tenant's switch", cause: probe.CauseSMTPAuthDisabled, token: valid,
			opts: smtptest.Options{Mechanisms: []string{"XOAUTH2"}, AuthError: &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139},
				Message: "Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information."}},
			adviceIs: "administrator"},
		{name: "oauth_sign_in_required: never signed in", cause: probe.CauseOAuthSignInRequired, noAuth: true,
			token:    func() (string, error) { return "", fmt.Errorf("not signed in yet: %w", credential.ErrSignInRequired) },
			adviceIs: "smtpwatch login test"},
		{name: "oauth_sign_in_required: the provider refused the refresh token", cause: probe.CauseOAuthSignInRequired, noAuth: true,
			token: func() (string, error) {
				return "", fmt.Errorf("the sign-in service refused the stored sign-in (invalid_grant): %w", credential.ErrSignInRequired)
			}},
		{name: "oauth_provider_unreachable", cause: probe.CauseOAuthProviderUnreachable, noAuth: true,
			token: func() (string, error) {
				return "", fmt.Errorf("the sign-in service did not answer: %w", credential.ErrProviderUnreachable)
			}},
		{name: "auth_temporary_failure (454) keeps its cause", cause: probe.CauseAuthTemporaryFailure, token: valid,
			opts: smtptest.Options{AuthError: &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure"}}},
		{name: "protocol_error: the command refused (500 Line too long)", cause: probe.CauseProtocolError, token: valid,
			opts: smtptest.Options{AuthError: &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "Line too long"}}},
		{name: "auth_unsupported: no OAuth mechanism offered", opts: smtptest.Options{Users: users, Mechanisms: []string{"PLAIN", "LOGIN"}},
			token: valid, cause: probe.CauseAuthUnsupported, noToken: true, noAuth: true, adviceIs: `auth = "password"`},
		{name: "auth_unsupported: the forced mechanism is not offered", opts: smtptest.Options{Mechanisms: []string{"OAUTHBEARER"}},
			token: valid, cause: probe.CauseAuthUnsupported, noToken: true, noAuth: true,
			target: func(tg *probe.Target) { tg.OAuthMechanism = "XOAUTH2" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			o := c.opts
			o.Cert = f.cert(t, smtptest.Leaf{})
			o.Tokens = idp.Check
			o.MaxLineLength = 12288
			srv := smtptest.Start(t, o)
			var calls atomic.Int32
			tg := f.oauthTarget(srv.Addr, c.token, &calls)
			if c.target != nil {
				c.target(&tg)
			}
			r := probe.Probe(context.Background(), tg, f.deps())
			if r.Cause != c.cause {
				t.Fatalf("cause %s, want %s: %s %+v", r.Cause, c.cause, r.Message, r.Phases)
			}
			if c.cause == probe.CauseOK {
				if p, _ := r.Phase(probe.PhaseAuth); !r.AuthVerified || !strings.Contains(p.Detail, "AUTH "+c.mech+" accepted") {
					t.Errorf("auth %v, detail %q: want %s accepted", r.AuthVerified, p.Detail, c.mech)
				}
			} else if r.Status != probe.StatusFailing {
				t.Errorf("status %s, want failing", r.Status)
			}
			if n := calls.Load(); (n == 0) != c.noToken || n > 1 {
				t.Errorf("the token was asked for %d times", n)
			}
			if n := srv.AuthAttempts.Load(); (n == 0) != c.noAuth || n > 1 {
				t.Errorf("%d sign-ins reached the server; one sign-in per check at most", n)
			}
			for _, ph := range []string{"tls", "ehlo"} {
				if p, ok := r.Phase(ph); !ok || !p.OK {
					t.Errorf("phase %s %+v: the server was checked up to the login", ph, p)
				}
			}
			if c.adviceIs != "" && !strings.Contains(strings.Join(r.Advice, " ")+r.Message, c.adviceIs) {
				t.Errorf("message %q advice %q: want %q", r.Message, r.Advice, c.adviceIs)
			}
			if r.Message == "" || len(r.Advice) == 0 && c.cause != probe.CauseOK {
				t.Errorf("no words: %q %q", r.Message, r.Advice)
			}
		})
	}
}

// A password refused with Microsoft's tenant switch is smtp_auth_disabled,
// not basic_auth_disabled: a password account must not be told to switch
// to OAuth when OAuth is switched off too.
func TestSMTPAuthDisabledForPasswords(t *testing.T) {
	f := newFixture(t)
	for _, who := range []string{"Tenant", "Mailbox"} {
		srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Users: users,
			AuthError: &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139},
				Message: "Authentication unsuccessful, SmtpClientAuthentication is disabled for the " + who + "."}})
		r := probe.Probe(context.Background(), f.target(srv.Addr, probe.SecurityStartTLS), f.deps())
		if r.Cause != probe.CauseSMTPAuthDisabled {
			t.Errorf("%s: cause %s, want smtp_auth_disabled", who, r.Cause)
		}
		if strings.Contains(strings.Join(r.Advice, " "), "smtpwatch login") {
			t.Errorf("%s: advice %q sends the person to OAuth, which does not help", who, r.Advice)
		}
	}
}

// basic_auth_disabled tells how to switch the account to OAuth.
func TestBasicAuthDisabledPointsToOAuth(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Users: users,
		AuthError: &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139}, Message: "Authentication unsuccessful, basic authentication is disabled."}})
	r := probe.Probe(context.Background(), f.target(srv.Addr, probe.SecurityStartTLS), f.deps())
	advice := strings.Join(r.Advice, " ")
	if r.Cause != probe.CauseBasicAuthDisabled || !strings.Contains(advice, `auth = "oauth2"`) || !strings.Contains(advice, "smtpwatch login test") {
		t.Errorf("cause %s, advice %q", r.Cause, advice)
	}
}

// A token longer than a command line allows goes as RFC 4954 says: "AUTH
// MECH" alone, the response after the server's empty challenge. A short
// one rides on the AUTH line. Both are accepted.
func TestLongInitialResponse(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name     string
		pad      int
		twoSteps bool
	}{{"short token", 0, false}, {"2 kB token", 1800, true}} {
		t.Run(tc.name, func(t *testing.T) {
			idp := oauthtest.Start(t, oauthtest.Options{Pad: tc.pad})
			tok := idp.AccessToken(user, time.Hour)
			if !tc.twoSteps {
				tok = oauthtest.Sign(idp.Key(), map[string]any{"iss": idp.Issuer(), "email": user, "exp": time.Now().Add(time.Hour).Unix()})
			}
			if tc.twoSteps && len(tok) < 1500 {
				t.Fatalf("token of %d bytes: not long enough for the test", len(tok))
			}
			srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Tokens: idp.Check,
				Mechanisms: []string{"XOAUTH2"}, MaxLineLength: 12288})
			r := probe.Probe(context.Background(), f.oauthTarget(srv.Addr, func() (string, error) { return tok, nil }, nil), f.deps())
			if r.Cause != probe.CauseOK {
				t.Fatalf("cause %s: %s", r.Cause, r.Message)
			}
			var authLine string
			for _, l := range strings.Split(srv.Log(), "\n") {
				if strings.HasPrefix(l, "AUTH ") {
					authLine = strings.TrimSpace(l)
				}
			}
			if got := authLine == "AUTH XOAUTH2"; got != tc.twoSteps {
				t.Errorf("AUTH line %.60q: two steps %v, want %v", authLine, got, tc.twoSteps)
			}
			if len(authLine) > 510 {
				t.Errorf("AUTH line of %d characters: longer than a command line", len(authLine))
			}
		})
	}
}

// XOAUTH2's failure exchange: the server's JSON status challenge is
// answered with an empty line, then the 535 ends it; no "*", no second
// attempt. OAUTHBEARER's dummy answer is 0x01.
func TestOAuthFailureExchange(t *testing.T) {
	f := newFixture(t)
	idp := oauthtest.Start(t, oauthtest.Options{})
	for _, tc := range []struct{ mech, dummy string }{{"XOAUTH2", ""}, {"OAUTHBEARER", "AQ=="}} {
		t.Run(tc.mech, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Tokens: idp.Check, Mechanisms: []string{tc.mech}})
			r := probe.Probe(context.Background(), f.oauthTarget(srv.Addr, func() (string, error) {
				return idp.AccessToken("someone.else@example.test", time.Hour), nil
			}, nil), f.deps())
			if r.Cause != probe.CauseOAuthTokenRejected || r.SMTP == nil || r.SMTP.Code != 535 {
				t.Fatalf("cause %s reply %+v", r.Cause, r.SMTP)
			}
			if p, _ := r.Phase(probe.PhaseAuth); !strings.Contains(p.Detail, "status 401") {
				t.Errorf("auth detail %q lacks the server's status", p.Detail)
			}
			lines := strings.Split(srv.Log(), "\n")
			var after []string
			auths := 0
			for i, l := range lines {
				l = strings.TrimRight(l, "\r")
				if strings.HasPrefix(l, "334 eyJ") && i+1 < len(lines) { // the JSON status, base64
					after = append(after, strings.TrimRight(lines[i+1], "\r"))
				}
				if strings.HasPrefix(l, "AUTH ") {
					auths++
				}
				if l == "*" {
					t.Error("the client sent the SASL abort")
				}
			}
			if len(after) != 1 || after[0] != tc.dummy {
				t.Errorf("answers to the challenge %q, want one %q", after, tc.dummy)
			}
			if auths != 1 {
				t.Errorf("%d AUTH commands", auths)
			}
		})
	}
}

// Never without TLS: on a server that offers XOAUTH2 in plaintext, the
// token is not even asked for.
func TestOAuthNeverInPlaintext(t *testing.T) {
	f := newFixture(t)
	idp := oauthtest.Start(t, oauthtest.Options{})
	srv := smtptest.Start(t, smtptest.Options{Tokens: idp.Check, AllowInsecureAuth: true})
	var calls atomic.Int32
	tg := f.oauthTarget(srv.Addr, func() (string, error) { return idp.AccessToken(user, time.Hour), nil }, &calls)
	tg.Security = probe.SecurityNone
	r := probe.Probe(context.Background(), tg, f.deps())
	if r.Cause != probe.CausePlaintextAuthRefused || calls.Load() != 0 || srv.AuthAttempts.Load() != 0 {
		t.Errorf("cause %s, token asked %d times, %d sign-ins", r.Cause, calls.Load(), srv.AuthAttempts.Load())
	}
	if !strings.Contains(r.Message, "access token") {
		t.Errorf("message %q: want it to speak of the access token", r.Message)
	}
}

// A server that quotes the token back — whole, truncated, base64 of the
// XOAUTH2 line — gets no form of it into the result or the log.
func TestQuotedTokenIsRedacted(t *testing.T) {
	f := newFixture(t)
	idp := oauthtest.Start(t, oauthtest.Options{})
	tok := idp.AccessToken(user, time.Hour) // short enough to be quoted whole on a reply line
	line := base64.StdEncoding.EncodeToString([]byte("user=" + user + "\x01auth=Bearer " + tok + "\x01\x01"))
	sig := tok[strings.LastIndexByte(tok, '.')+1:]
	// The token base64-encoded at the two other alignments a line can give
	// it.
	b1, b2 := base64.StdEncoding.EncodeToString([]byte("x"+tok)), base64.StdEncoding.EncodeToString([]byte("xy"+tok))
	for _, mech := range []string{"XOAUTH2", "OAUTHBEARER"} {
		srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Mechanisms: []string{mech}, MaxLineLength: 12288,
			Tokens: func(u, got string) error {
				return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
					Message: fmt.Sprintf("bad token b1=%s b2=%s xo=%s sig=%s line=%s (%s...) %s", b1[8:48], b2[8:48], line[60:100], sig[:20], line[:30], got[:40], got)}
			}})
		log, logs := debugLog()
		d := f.deps()
		d.Logger = log
		r := probe.Probe(context.Background(), f.oauthTarget(srv.Addr, func() (string, error) { return tok, nil }, nil), d)
		if r.Cause != probe.CauseOAuthTokenRejected || !strings.Contains(r.SMTP.Message, "bad token") {
			t.Fatalf("%s: cause %s reply %+v", mech, r.Cause, r.SMTP)
		}
		assertNoSecret(t, r, logs.String(), map[string]string{
			"token": tok, "token's first 40": tok[:40], "signature": sig[:20], "payload piece": strings.Split(tok, ".")[1][:30],
			"XOAUTH2 line, where the token is": line[60:100], "base64 at offset 1": b1[8:48], "base64 at offset 2": b2[8:48],
		})
	}
}

// A token function that blocks past the check's budget ends the check on
// time.
func TestSlowTokenEndsWithTheCheck(t *testing.T) {
	f := newFixture(t)
	idp := oauthtest.Start(t, oauthtest.Options{})
	srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Tokens: idp.Check})
	tg := f.target(srv.Addr, probe.SecurityStartTLS)
	tg.Timeout = time.Second
	tg.Token = func(ctx context.Context) (credential.Secret, error) {
		<-ctx.Done()
		return credential.Secret{}, errors.Join(ctx.Err(), credential.ErrProviderUnreachable)
	}
	start := time.Now()
	r := probe.Probe(context.Background(), tg, f.deps())
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("the check took %v with a 1 s budget", el)
	}
	if r.Status != probe.StatusFailing || srv.AuthAttempts.Load() != 0 {
		t.Errorf("status %s cause %s, %d sign-ins", r.Status, r.Cause, srv.AuthAttempts.Load())
	}
}

// An OAuth2 check costs the round trips of a password check, plus one when
// the token is too long for the AUTH line (almost always: a JWT of a few
// hundred bytes already is): 6, or 7.
func TestOAuthRoundTrips(t *testing.T) {
	f := newFixture(t)
	idp := oauthtest.Start(t, oauthtest.Options{})
	for _, tc := range []struct {
		name  string
		token string
		want  int32
	}{
		{"a token that fits the AUTH line", oauthtest.Sign(idp.Key(), map[string]any{"iss": idp.Issuer(), "email": user, "exp": time.Now().Add(time.Hour).Unix()}), 6},
		{"a token as long as Microsoft's", idp.AccessToken(user, time.Hour) + "", 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Tokens: idp.Check, Mechanisms: []string{"XOAUTH2"}, MaxLineLength: 12288})
			var rt roundTrips
			d := f.deps()
			d.Dial = rt.dial
			r := probe.Probe(context.Background(), f.oauthTarget(srv.Addr, func() (string, error) { return tc.token, nil }, nil), d)
			if r.Cause != probe.CauseOK {
				t.Fatalf("cause %s: %s", r.Cause, r.Message)
			}
			if n := rt.n.Load(); n != tc.want {
				t.Errorf("%d round trips, want %d", n, tc.want)
			}
		})
	}
}
