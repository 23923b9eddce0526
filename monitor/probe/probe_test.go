package probe_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

const (
	user     = "alice@example.test"
	password = "pw-Zq8#secret"
)

// fixture is what every case shares: a trusted CA, an untrusted one, and an
// "online" reference target on loopback.
type fixture struct {
	ca, rogue *smtptest.CA
	online    string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return &fixture{
		ca:     smtptest.NewCA(t, "smtpwatch test CA", "smtpwatch tests"),
		rogue:  smtptest.NewCA(t, "Rogue CA", "Nobody"),
		online: ln.Addr().String(),
	}
}

func (f *fixture) cert(t *testing.T, l smtptest.Leaf) *tls.Certificate {
	c := f.ca.Issue(t, l)
	return &c
}

// target points at a server on loopback with the default knobs of a good
// STARTTLS account.
func (f *fixture) target(addr string, sec probe.Security) probe.Target {
	host, port, _ := net.SplitHostPort(addr)
	p := 0
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	return probe.Target{
		Name: "test", Provider: "Example", Server: host, Port: p, Security: sec,
		Username: user, Password: credential.NewSecret(password),
		RootCAs: f.ca.Pool, Timeout: 5 * time.Second,
	}
}

func (f *fixture) deps() probe.Deps {
	return probe.Deps{OnlineTargets: []string{f.online}, Alternatives: []probe.Alternative{}}
}

var users = map[string]string{user: password}

func TestProbeCauses(t *testing.T) {
	f := newFixture(t)
	good := func(t *testing.T) *tls.Certificate { return f.cert(t, smtptest.Leaf{}) }
	type tc struct {
		name    string
		server  func(t *testing.T) string // returns host:port
		target  func(*probe.Target)
		deps    func(*probe.Deps, *testing.T)
		sec     probe.Security
		cause   probe.Cause
		status  probe.Status
		check   func(t *testing.T, r probe.Result)
		srvOpts *smtptest.Options
	}
	avPool := x509.NewCertPool()
	start := func(o smtptest.Options) func(t *testing.T) string {
		return func(t *testing.T) string { return smtptest.Start(t, o).Addr }
	}
	with := func(fn func(t *testing.T) smtptest.Options) func(t *testing.T) string {
		return func(t *testing.T) string { return smtptest.Start(t, fn(t)).Addr }
	}
	cases := []tc{
		{
			name: "ok STARTTLS with AUTH PLAIN", sec: probe.SecurityStartTLS, cause: probe.CauseOK, status: probe.StatusOK,
			server: with(func(t *testing.T) smtptest.Options { return smtptest.Options{Cert: good(t), Users: users} }),
			check: func(t *testing.T, r probe.Result) {
				wantPhases(t, r, "dns", "connect", "greeting", "ehlo", "tls", "auth", "quit")
				if !r.AuthVerified || r.TLS == nil || !r.TLS.Verified || r.TLS.Version != "TLS 1.3" {
					t.Errorf("auth verified %v, tls %+v", r.AuthVerified, r.TLS)
				}
				if p, _ := r.Phase("auth"); !strings.Contains(p.Detail, "PLAIN") {
					t.Errorf("auth detail %q, want PLAIN", p.Detail)
				}
			},
		},
		{
			name: "ok implicit TLS", sec: probe.SecurityTLS, cause: probe.CauseOK, status: probe.StatusOK,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Implicit: true, Users: users}
			}),
			check: func(t *testing.T, r probe.Result) {
				wantPhases(t, r, "dns", "connect", "tls", "greeting", "ehlo", "auth", "quit")
			},
		},
		{
			name: "ok with AUTH LOGIN only", sec: probe.SecurityStartTLS, cause: probe.CauseOK, status: probe.StatusOK,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Users: users, Mechanisms: []string{"LOGIN"}}
			}),
			check: func(t *testing.T, r probe.Result) {
				if p, _ := r.Phase("auth"); !strings.Contains(p.Detail, "LOGIN") {
					t.Errorf("auth detail %q, want LOGIN", p.Detail)
				}
			},
		},
		{
			name: "auto finds STARTTLS", sec: probe.SecurityAuto, cause: probe.CauseOK, status: probe.StatusOK,
			server: with(func(t *testing.T) smtptest.Options { return smtptest.Options{Cert: good(t), Users: users} }),
			check: func(t *testing.T, r probe.Result) {
				if r.Detected != probe.SecurityStartTLS {
					t.Errorf("detected %q, want starttls", r.Detected)
				}
			},
		},
		{
			name: "auto finds implicit TLS on a non-465 port", sec: probe.SecurityAuto, cause: probe.CauseOK, status: probe.StatusOK,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Implicit: true, Users: users}
			}),
			check: func(t *testing.T, r probe.Result) {
				if r.Detected != probe.SecurityTLS || !r.AuthVerified {
					t.Errorf("detected %q auth %v, want tls and verified", r.Detected, r.AuthVerified)
				}
			},
		},
		{
			name: "dns_failure: name does not exist", sec: probe.SecurityStartTLS, cause: probe.CauseDNSFailure, status: probe.StatusFailing,
			server: func(t *testing.T) string { return "nosuch.example.test:587" },
			deps: func(d *probe.Deps, t *testing.T) {
				d.Resolve = smtptest.StartDNS(t, map[string][]net.IP{"mail.example.test": {net.IPv4(127, 0, 0, 1)}}).Resolver().LookupIPAddr
			},
			check: func(t *testing.T, r probe.Result) {
				wantPhases(t, r, "dns")
				if !strings.Contains(r.Message, "nosuch.example.test") {
					t.Errorf("message %q does not name the server", r.Message)
				}
			},
		},
		{
			name: "dns resolves through the resolver", sec: probe.SecurityStartTLS, cause: probe.CauseOK, status: probe.StatusOK,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: f.cert(t, smtptest.Leaf{DNSNames: []string{"mail.example.test"}}), Users: users}
			}),
			target: func(tg *probe.Target) { tg.Server = "mail.example.test" },
			deps: func(d *probe.Deps, t *testing.T) {
				d.Resolve = smtptest.StartDNS(t, map[string][]net.IP{"mail.example.test": {net.IPv4(127, 0, 0, 1)}}).Resolver().LookupIPAddr
			},
		},
		{
			name: "offline: the name server and every reference target are silent", sec: probe.SecurityStartTLS,
			cause: probe.CauseOffline, status: probe.StatusOffline,
			server: func(t *testing.T) string { return "mail.example.test:587" },
			target: func(tg *probe.Target) { tg.Timeout = 3 * time.Second },
			deps: func(d *probe.Deps, t *testing.T) {
				d.Resolve = smtptest.StartDNS(t, nil, "mail.example.test").Resolver().LookupIPAddr
				d.OnlineTargets = []string{smtptest.Blackhole(t)}
			},
		},
		{
			name: "offline: a network that refuses everything is not online", sec: probe.SecurityStartTLS,
			cause: probe.CauseOffline, status: probe.StatusOffline,
			server: func(t *testing.T) string { return "nosuch.example.test:587" },
			deps: func(d *probe.Deps, t *testing.T) {
				d.Resolve = smtptest.StartDNS(t, nil).Resolver().LookupIPAddr
				d.OnlineTargets = []string{smtptest.ClosedPort(t)} // refused, as a closed network does
			},
		},
		{
			name: "connection_refused", sec: probe.SecurityStartTLS, cause: probe.CauseConnectionRefused, status: probe.StatusFailing,
			server: func(t *testing.T) string { return smtptest.ClosedPort(t) },
		},
		{
			name: "connection_timeout with a working alternative", sec: probe.SecurityStartTLS,
			cause: probe.CauseConnectionTimeout, status: probe.StatusFailing,
			server: func(t *testing.T) string { return smtptest.Blackhole(t) },
			target: func(tg *probe.Target) { tg.Timeout = 3 * time.Second },
			deps: func(d *probe.Deps, t *testing.T) {
				alt := smtptest.Start(t, smtptest.Options{Cert: good(t), Implicit: true, Users: users})
				dead := smtptest.ClosedPort(t)
				d.Alternatives = []probe.Alternative{{Port: smtptest.Port(t, dead), Security: probe.SecurityStartTLS}, {Port: alt.Port, Security: probe.SecurityTLS}}
			},
			check: func(t *testing.T, r probe.Result) {
				if r.Suggestion == nil || r.Suggestion.Security != probe.SecurityTLS {
					t.Fatalf("suggestion %+v, want the implicit-TLS port", r.Suggestion)
				}
				if !strings.Contains(strings.Join(r.Advice, " "), "SSL/TLS") {
					t.Errorf("advice %q does not name SSL/TLS", r.Advice)
				}
			},
		},
		{
			name: "greeting_timeout: connected, silent", sec: probe.SecurityStartTLS, cause: probe.CauseGreetingTimeout, status: probe.StatusFailing,
			server: start(smtptest.Options{Handler: smtptest.Silent}),
			target: func(tg *probe.Target) { tg.Timeout = 2 * time.Second },
		},
		{
			name: "greeting_timeout: trickling bytes never end the line", sec: probe.SecurityStartTLS, cause: probe.CauseGreetingTimeout,
			status: probe.StatusFailing,
			server: start(smtptest.Options{Handler: smtptest.Trickle(50 * time.Millisecond)}),
			target: func(tg *probe.Target) { tg.Timeout = 2 * time.Second },
		},
		{
			name: "service_unavailable: 421 at connect", sec: probe.SecurityStartTLS, cause: probe.CauseServiceUnavailable,
			status: probe.StatusFailing,
			server: start(smtptest.Options{Handler: smtptest.Greet("421 4.3.2 Service not available, closing channel")}),
			check:  wantReply(421, "4.3.2"),
		},
		{
			name: "service_unavailable: 554 at connect", sec: probe.SecurityStartTLS, cause: probe.CauseServiceUnavailable,
			status: probe.StatusFailing,
			server: start(smtptest.Options{Handler: smtptest.Greet("554 5.7.1 Your IP is on a block list")}),
			check:  wantReply(554, "5.7.1"),
		},
		{
			name: "wrong_tls_mode: STARTTLS configured on an implicit-TLS port", sec: probe.SecurityStartTLS,
			cause: probe.CauseWrongTLSMode, status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Implicit: true, Users: users}
			}),
			check: func(t *testing.T, r probe.Result) {
				if r.Suggestion == nil || r.Suggestion.Security != probe.SecurityTLS || r.Suggestion.Port != r.Port {
					t.Errorf("suggestion %+v, want tls on the same port", r.Suggestion)
				}
				if r.Duration > 3*time.Second {
					t.Errorf("took %v: it waited for the greeting instead of detecting TLS", r.Duration)
				}
			},
		},
		{
			name: "wrong_tls_mode: SSL/TLS configured on a STARTTLS port", sec: probe.SecurityTLS,
			cause: probe.CauseWrongTLSMode, status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options { return smtptest.Options{Cert: good(t), Users: users} }),
			check: func(t *testing.T, r probe.Result) {
				if r.Suggestion == nil || r.Suggestion.Security != probe.SecurityStartTLS {
					t.Errorf("suggestion %+v, want starttls", r.Suggestion)
				}
			},
		},
		{
			name: "starttls_unsupported", sec: probe.SecurityStartTLS, cause: probe.CauseSTARTTLSUnsupported, status: probe.StatusFailing,
			server: start(smtptest.Options{Users: users, AllowInsecureAuth: true}),
		},
		{
			name: "tls_handshake_failed: server stuck at TLS 1.1", sec: probe.SecurityTLS, cause: probe.CauseTLSHandshakeFailed,
			status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Implicit: true, MaxTLSVersion: tls.VersionTLS11}
			}),
		},
		{
			name: "certificate_expired", sec: probe.SecurityStartTLS, cause: probe.CauseCertificateExpired, status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: f.cert(t, smtptest.Leaf{NotBefore: time.Now().AddDate(0, 0, -100), NotAfter: time.Now().AddDate(0, 0, -3)}), Users: users}
			}),
			check: func(t *testing.T, r probe.Result) {
				if r.TLS == nil || r.TLS.Verified || r.TLS.DaysLeft > -2 {
					t.Errorf("tls %+v: want the failed certificate described", r.TLS)
				}
			},
		},
		{
			name: "certificate_not_yet_valid", sec: probe.SecurityStartTLS, cause: probe.CauseCertificateNotYetValid, status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: f.cert(t, smtptest.Leaf{NotBefore: time.Now().AddDate(0, 0, 30), NotAfter: time.Now().AddDate(1, 0, 0)}), Users: users}
			}),
		},
		{
			name: "certificate_hostname_mismatch", sec: probe.SecurityStartTLS, cause: probe.CauseCertificateHostMismatch,
			status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: f.cert(t, smtptest.Leaf{DNSNames: []string{"wrong.example.test"}}), Users: users}
			}),
			check: func(t *testing.T, r probe.Result) {
				if !strings.Contains(r.Message, "wrong.example.test") {
					t.Errorf("message %q does not name the certificate's host", r.Message)
				}
			},
		},
		{
			name: "certificate_untrusted", sec: probe.SecurityStartTLS, cause: probe.CauseCertificateUntrusted, status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				c := f.rogue.Issue(t, smtptest.Leaf{})
				return smtptest.Options{Cert: &c, Users: users}
			}),
		},
		{
			name: "tls_intercepted: an antivirus CA this computer does not trust", sec: probe.SecurityStartTLS,
			cause: probe.CauseTLSIntercepted, status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				c := smtptest.NewCA(t, "ESET SSL Filter CA", "ESET, spol. s r.o.").Issue(t, smtptest.Leaf{})
				return smtptest.Options{Cert: &c, Users: users}
			}),
			check: func(t *testing.T, r probe.Result) {
				if r.TLS == nil || !strings.Contains(r.TLS.Interceptor, "ESET") {
					t.Errorf("tls %+v: want the interceptor named", r.TLS)
				}
			},
		},
		{
			name: "tls_intercepted: trusted antivirus CA is still flagged", sec: probe.SecurityStartTLS,
			cause: probe.CauseTLSIntercepted, status: probe.StatusDegraded,
			server: func(t *testing.T) string {
				av := smtptest.NewCA(t, "Avast Web/Mail Shield Root", "Avast Software s.r.o.")
				avPool.AddCert(av.Cert) // as the antivirus installs its root
				c := av.Issue(t, smtptest.Leaf{})
				return smtptest.Start(t, smtptest.Options{Cert: &c, Users: users}).Addr
			},
			// A pool of its own: the fixture's is shared by parallel cases.
			target: func(tg *probe.Target) { tg.RootCAs = avPool },
			check: func(t *testing.T, r probe.Result) {
				if !r.AuthVerified || r.TLS == nil || !r.TLS.Verified {
					t.Errorf("auth %v tls %+v: sending works through the interceptor", r.AuthVerified, r.TLS)
				}
			},
		},
		{
			name: "plaintext_auth_refused", sec: probe.SecurityNone, cause: probe.CausePlaintextAuthRefused, status: probe.StatusFailing,
			server: start(smtptest.Options{Users: users, AllowInsecureAuth: true}),
		},
		{
			name: "allow_plaintext_auth overrides, with a note", sec: probe.SecurityNone, cause: probe.CauseOK, status: probe.StatusOK,
			server: start(smtptest.Options{Users: users, AllowInsecureAuth: true}),
			target: func(tg *probe.Target) { tg.AllowPlaintextAuth = true },
			check: func(t *testing.T, r probe.Result) {
				if len(r.Notes) == 0 || !strings.Contains(r.Notes[0], "without encryption") {
					t.Errorf("notes %q: want the plaintext warning", r.Notes)
				}
				if strings.Contains(r.Message, "encrypted connection") || !strings.Contains(r.Message, "WITHOUT encryption") {
					t.Errorf("message %q misdescribes a plaintext login", r.Message)
				}
			},
		},
		{
			name: "auth_unsupported: no AUTH offered", sec: probe.SecurityStartTLS, cause: probe.CauseAuthUnsupported, status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options { return smtptest.Options{Cert: good(t)} }),
		},
		{
			name: "auth_rejected (535)", sec: probe.SecurityStartTLS, cause: probe.CauseAuthRejected, status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options { return smtptest.Options{Cert: good(t), Users: users} }),
			target: func(tg *probe.Target) { tg.Password = credential.NewSecret("wrong") },
			check: func(t *testing.T, r probe.Result) {
				wantReply(535, "5.7.8")(t, r)
				if r.AuthVerified {
					t.Error("auth verified with a wrong password")
				}
				if !strings.Contains(strings.Join(r.Advice, " "), "on the Example website") {
					t.Errorf("advice %q does not name the provider's website", r.Advice)
				}
			},
		},
		{
			name: "app_password_required (534 5.7.9)", sec: probe.SecurityStartTLS, cause: probe.CauseAppPasswordRequired,
			status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Users: users, AuthError: &smtp.SMTPError{Code: 534, EnhancedCode: smtp.EnhancedCode{5, 7, 9}, Message: "Application-specific password required."}}
			}),
			target: func(tg *probe.Target) { tg.AppPasswordURL = "https://example.test/apppasswords" },
			check: func(t *testing.T, r probe.Result) {
				if !strings.Contains(strings.Join(r.Advice, " "), "https://example.test/apppasswords") {
					t.Errorf("advice %q lacks the app password page", r.Advice)
				}
			},
		},
		{
			name: "basic_auth_disabled (535 5.7.139)", sec: probe.SecurityStartTLS, cause: probe.CauseBasicAuthDisabled,
			status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Users: users, AuthError: &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 139}, Message: "Authentication unsuccessful, basic authentication is disabled."}}
			}),
		},
		{
			name: "basic_auth_disabled (550 5.7.30)", sec: probe.SecurityStartTLS, cause: probe.CauseBasicAuthDisabled,
			status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Users: users, AuthError: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 30}, Message: "Basic authentication is not supported for Client Submission."}}
			}),
		},
		{
			name: "basic_auth_disabled: only OAuth offered", sec: probe.SecurityStartTLS, cause: probe.CauseBasicAuthDisabled,
			status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Users: users, Mechanisms: []string{"XOAUTH2", "OAUTHBEARER"}}
			}),
		},
		{
			name: "auth_temporary_failure (454)", sec: probe.SecurityStartTLS, cause: probe.CauseAuthTemporaryFailure,
			status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Users: users, AuthError: &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure"}}
			}),
		},
		{
			name: "rate_limited (421 too many login attempts)", sec: probe.SecurityStartTLS, cause: probe.CauseRateLimited,
			status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Users: users, AuthError: &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many login attempts, please try again later."}}
			}),
		},
		{
			name: "sender_rejected", sec: probe.SecurityStartTLS, cause: probe.CauseSenderRejected, status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Users: users, MailError: &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Sender address rejected: not owned by user"}}
			}),
			target: func(tg *probe.Target) { tg.From, tg.Rcpt = "other@example.test", "bob@example.test" },
			check:  wantReply(553, "5.7.1"),
		},
		{
			name: "sender_rejected at RCPT time, as servers that delay rejections report it", sec: probe.SecurityStartTLS,
			cause: probe.CauseSenderRejected, status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Users: users, RcptError: &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
					Message: "<bob@example.test>: Sender address rejected: not owned by user " + user}}
			}),
			target: func(tg *probe.Target) { tg.From, tg.Rcpt = "bob@example.test", "carol@example.test" },
			check: func(t *testing.T, r probe.Result) {
				wantReply(553, "5.7.1")(t, r)
				if advice := strings.Join(r.Advice, " "); strings.Contains(advice, "recipient") || !strings.Contains(advice, user) {
					t.Errorf("advice %q: want the account's own address, not the recipient", advice)
				}
			},
		},
		{
			name: "recipient_rejected", sec: probe.SecurityStartTLS, cause: probe.CauseRecipientRejected, status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Users: users, RcptError: &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Recipient address rejected: User unknown"}}
			}),
			target: func(tg *probe.Target) { tg.From, tg.Rcpt = user, "nobody@example.test" },
			check:  wantReply(550, "5.1.1"),
		},
		{
			name: "envelope accepted", sec: probe.SecurityStartTLS, cause: probe.CauseOK, status: probe.StatusOK,
			server: with(func(t *testing.T) smtptest.Options { return smtptest.Options{Cert: good(t), Users: users} }),
			target: func(tg *probe.Target) { tg.From, tg.Rcpt = user, "bob@example.test" },
			check: func(t *testing.T, r probe.Result) {
				wantPhases(t, r, "dns", "connect", "greeting", "ehlo", "tls", "auth", "envelope", "quit")
			},
		},
		{
			name: "protocol_error: a web server on the mail port", sec: probe.SecurityStartTLS, cause: probe.CauseProtocolError,
			status: probe.StatusFailing,
			server: start(smtptest.Options{Handler: smtptest.Greet("HTTP/1.1 400 Bad Request")}),
		},
		{
			name: "protocol_error: an endless reply is cut off", sec: probe.SecurityStartTLS, cause: probe.CauseProtocolError,
			status: probe.StatusFailing,
			server: start(smtptest.Options{Handler: smtptest.Flood(10 << 20)}),
		},
		{
			name: "protocol_error: data injected after STARTTLS", sec: probe.SecurityStartTLS, cause: probe.CauseProtocolError,
			status: probe.StatusFailing,
			server: start(smtptest.Options{Handler: smtptest.Script("220 localhost ESMTP",
				[2]string{"EHLO", "250-localhost\n250 STARTTLS"},
				[2]string{"STARTTLS", "220 2.0.0 Ready\n250 injected"},
			)}),
		},
		{
			name: "certificate_expiring", sec: probe.SecurityStartTLS, cause: probe.CauseCertificateExpiring, status: probe.StatusDegraded,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: f.cert(t, smtptest.Leaf{NotAfter: time.Now().Add(5*24*time.Hour + time.Hour)}), Users: users}
			}),
			check: func(t *testing.T, r probe.Result) {
				if r.TLS == nil || r.TLS.DaysLeft != 5 || !r.AuthVerified {
					t.Errorf("tls %+v auth %v: want 5 days left and auth verified", r.TLS, r.AuthVerified)
				}
			},
		},
		{
			name: "slow_response", sec: probe.SecurityStartTLS, cause: probe.CauseSlowResponse, status: probe.StatusDegraded,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Users: users, Delay: 300 * time.Millisecond}
			}),
			target: func(tg *probe.Target) { tg.SlowThreshold = 200 * time.Millisecond },
		},
		{
			name: "no_credentials: connectivity and TLS checked", sec: probe.SecurityStartTLS, cause: probe.CauseNoCredentials,
			status: probe.StatusDegraded,
			server: with(func(t *testing.T) smtptest.Options { return smtptest.Options{Cert: good(t), Users: users} }),
			target: func(tg *probe.Target) { tg.Username, tg.Password = "", credential.Secret{} },
			check: func(t *testing.T, r probe.Result) {
				p, ok := r.Phase("auth")
				if !ok || !strings.Contains(p.Detail, "no credentials") || r.AuthVerified || r.TLS == nil || !r.TLS.Verified {
					t.Errorf("auth phase %+v, tls %+v", p, r.TLS)
				}
			},
		},
		{
			name: "one reset connection is noise: a second one is tried", sec: probe.SecurityStartTLS, cause: probe.CauseOK, status: probe.StatusOK,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Users: users, ResetFirst: 1}
			}),
			check: func(t *testing.T, r probe.Result) {
				wantPhases(t, r, "dns", "connect", "greeting", "ehlo", "tls", "auth", "quit")
				if p, _ := r.Phase("connect"); !strings.Contains(p.Detail, "second attempt") {
					t.Errorf("connect detail %q does not tell of the retry", p.Detail)
				}
			},
		},
		{
			name: "service_unavailable: two resets in a row", sec: probe.SecurityStartTLS, cause: probe.CauseServiceUnavailable,
			status: probe.StatusFailing,
			server: with(func(t *testing.T) smtptest.Options {
				return smtptest.Options{Cert: good(t), Users: users, ResetFirst: 2}
			}),
		},
		{
			name: "connectivity-only probe skips AUTH", sec: probe.SecurityStartTLS, cause: probe.CauseOK, status: probe.StatusOK,
			server: with(func(t *testing.T) smtptest.Options { return smtptest.Options{Cert: good(t), Users: users} }),
			target: func(tg *probe.Target) { tg.SkipAuth = true },
			check: func(t *testing.T, r probe.Result) {
				wantPhases(t, r, "dns", "connect", "greeting", "ehlo", "tls", "quit")
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			addr := c.server(t)
			tg := f.target(addr, c.sec)
			if host, _, _ := net.SplitHostPort(addr); net.ParseIP(host) == nil {
				tg.Port = 0
				tg.Server = host
				_, p, _ := net.SplitHostPort(addr)
				tg.Port = atoi(p)
			}
			if c.target != nil {
				c.target(&tg)
			}
			d := f.deps()
			if c.deps != nil {
				c.deps(&d, t)
			}
			ctx := context.Background()
			r := probe.Probe(ctx, tg, d)
			if r.Cause != c.cause || r.Status != c.status {
				t.Fatalf("cause %s status %s, want %s %s\nmessage: %s\nphases: %+v", r.Cause, r.Status, c.cause, c.status, r.Message, r.Phases)
			}
			if r.Message == "" || (r.Status != probe.StatusOK && len(r.Advice) == 0) {
				t.Errorf("message %q advice %q: a person needs both", r.Message, r.Advice)
			}
			if r.Duration > tg.Timeout+time.Second {
				t.Errorf("took %v, budget %v", r.Duration, tg.Timeout)
			}
			if c.check != nil {
				c.check(t, r)
			}
		})
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func wantPhases(t *testing.T, r probe.Result, names ...string) {
	t.Helper()
	var got []string
	for _, p := range r.Phases {
		got = append(got, p.Name)
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("phases %v, want %v", got, names)
	}
}

func wantReply(code int, enh string) func(*testing.T, probe.Result) {
	return func(t *testing.T, r probe.Result) {
		t.Helper()
		if r.SMTP == nil || r.SMTP.Code != code || r.SMTP.EnhancedCode != enh {
			t.Errorf("smtp reply %+v, want %d %s", r.SMTP, code, enh)
		}
	}
}

// A failed check mentions the certificate's expiry beside its cause, but not
// warnings that only make sense for a check that got through.
func TestWarningsBesideAFailure(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{NotAfter: time.Now().Add(3 * 24 * time.Hour)}), Users: users})
	tg := f.target(srv.Addr, probe.SecurityStartTLS)
	tg.Password = credential.NewSecret("wrong")
	r := probe.Probe(context.Background(), tg, f.deps())
	if r.Cause != probe.CauseAuthRejected || len(r.Warnings) != 1 || r.Warnings[0].Cause != probe.CauseCertificateExpiring {
		t.Fatalf("cause %s warnings %+v: want auth_rejected with the expiry beside it", r.Cause, r.Warnings)
	}
	r = probe.Probe(context.Background(), f.target(smtptest.ClosedPort(t), probe.SecurityStartTLS), f.deps())
	if len(r.Warnings) != 0 {
		t.Errorf("a refused connection carries warnings %+v", r.Warnings)
	}
}

// Without a provider name, advice does not invent a website for a host.
func TestAdviceWithoutProvider(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Users: users})
	tg := f.target(srv.Addr, probe.SecurityStartTLS)
	tg.Provider, tg.Password = "", credential.NewSecret("wrong")
	r := probe.Probe(context.Background(), tg, f.deps())
	advice := strings.Join(r.Advice, " ")
	if strings.Contains(advice, "127.0.0.1 website") || !strings.Contains(advice, "your provider's website") {
		t.Errorf("advice %q", advice)
	}
}

// A user name without a password is no credential: the probe must not send
// an AUTH with an empty password — the server would count a failed login
// against the account — and says sign-in was not checked, and why.
func TestUserWithoutPasswordSendsNoAuth(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Users: users})
	tg := f.target(srv.Addr, probe.SecurityStartTLS)
	tg.Password = credential.Secret{}
	r := probe.Probe(context.Background(), tg, f.deps())
	if n := srv.AuthAttempts.Load(); n != 0 {
		t.Fatalf("%d AUTH attempts with an empty password", n)
	}
	if r.Cause != probe.CauseNoCredentials || r.Status != probe.StatusDegraded || r.AuthVerified {
		t.Errorf("cause %s, status %s, verified %v; want no_credentials, degraded", r.Cause, r.Status, r.AuthVerified)
	}
	if !strings.Contains(r.Message, "no password is configured for "+user) {
		t.Errorf("message %q does not say what is missing", r.Message)
	}
}
