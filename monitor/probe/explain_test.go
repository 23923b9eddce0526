package probe_test

import (
	"context"
	"crypto/tls"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

// fixedClock is a Clock that always says the same time.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// Gmail refuses the normal password of an account with 2-step verification
// with the words of a wrong one; when the provider is known to issue app
// passwords, the advice says so and where.
func TestAppPasswordHintOnRejection(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Users: users,
		AuthError: &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
			Message: "Username and Password not accepted. For more information, go to\nhttps://support.google.com/mail/?p=BadCredentials"}})
	for _, url := range []string{"https://myaccount.google.com/apppasswords", ""} {
		tg := f.target(srv.Addr, probe.SecurityStartTLS)
		tg.Provider, tg.AppPasswordURL = "Gmail", url
		r := probe.Probe(context.Background(), tg, f.deps())
		if r.Cause != probe.CauseAuthRejected {
			t.Fatalf("cause %s: %s", r.Cause, r.Message)
		}
		advice := strings.Join(r.Advice, "\n")
		hinted := strings.Contains(advice, "Gmail needs an app password for mail programs")
		switch {
		case url != "" && (!hinted || !strings.Contains(advice, url)):
			t.Errorf("advice lacks the app password and where to make one:\n%s", advice)
		case url == "" && strings.Contains(advice, "app password"):
			t.Errorf("advice speaks of app passwords for a provider that has none:\n%s", advice)
		case !strings.Contains(advice, "Re-enter the password"):
			t.Errorf("advice lost the re-enter line:\n%s", advice)
		}
	}
}

// settingsLines blame the user's settings; they must not appear when the
// same settings worked before.
var settingsLines = []string{"Check the port", "Check the spelling", "Set the outgoing server's security",
	"Use the exact outgoing server name", "Use port 465 with SSL/TLS, or 587", "Use the submission port",
	"set ca_file", "Check that the server name and port"}

// promise matches advice that says smtpwatch will check again by itself.
var promise = regexp.MustCompile(`smtpwatch (checks again|keeps checking)`)

// When the same settings worked before, failures that alone would point at
// the settings say when it worked, that something changed on the way or at
// the provider, and point to the provider; never "check the port".
func TestAdviceWhenItWorkedBefore(t *testing.T) {
	f := newFixture(t)
	good := func(t *testing.T) *tls.Certificate { return f.cert(t, smtptest.Leaf{}) }
	now := time.Now()
	for _, tc := range []struct {
		name   string
		addr   func(t *testing.T) string
		sec    probe.Security
		deps   func(*probe.Deps, *testing.T)
		target func(*probe.Target)
		cause  probe.Cause
	}{
		{name: "connection refused", addr: func(t *testing.T) string { return smtptest.ClosedPort(t) }, cause: probe.CauseConnectionRefused},
		{name: "connection timeout", addr: func(t *testing.T) string { return smtptest.Blackhole(t) }, cause: probe.CauseConnectionTimeout},
		{name: "greeting timeout", addr: func(t *testing.T) string { return smtptest.Start(t, smtptest.Options{Handler: smtptest.Silent}).Addr },
			cause: probe.CauseGreetingTimeout},
		{name: "dns failure", addr: func(t *testing.T) string { return "gone.example.test:587" }, cause: probe.CauseDNSFailure,
			deps: func(d *probe.Deps, t *testing.T) {
				d.Resolve = smtptest.StartDNS(t, map[string][]net.IP{"mail.example.test": {net.IPv4(127, 0, 0, 1)}}).Resolver().LookupIPAddr
			}},
		{name: "wrong tls mode: implicit port", addr: func(t *testing.T) string {
			return smtptest.Start(t, smtptest.Options{Cert: good(t), Implicit: true, Users: users}).Addr
		}, cause: probe.CauseWrongTLSMode},
		{name: "wrong tls mode: starttls port", sec: probe.SecurityTLS, addr: func(t *testing.T) string {
			return smtptest.Start(t, smtptest.Options{Cert: good(t), Users: users}).Addr
		}, cause: probe.CauseWrongTLSMode},
		{name: "starttls missing", addr: func(t *testing.T) string {
			return smtptest.Start(t, smtptest.Options{Users: users, AllowInsecureAuth: true}).Addr
		}, cause: probe.CauseSTARTTLSUnsupported},
		{name: "auth unsupported", addr: func(t *testing.T) string { return smtptest.Start(t, smtptest.Options{Cert: good(t)}).Addr },
			cause: probe.CauseAuthUnsupported},
		{name: "hostname mismatch", addr: func(t *testing.T) string {
			return smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{DNSNames: []string{"wrong.example.test"}}), Users: users}).Addr
		}, cause: probe.CauseCertificateHostMismatch},
		{name: "certificate untrusted", addr: func(t *testing.T) string {
			c := f.rogue.Issue(t, smtptest.Leaf{})
			return smtptest.Start(t, smtptest.Options{Cert: &c, Users: users}).Addr
		}, cause: probe.CauseCertificateUntrusted},
		{name: "handshake failure", sec: probe.SecurityTLS, addr: func(t *testing.T) string {
			return smtptest.Start(t, smtptest.Options{Cert: good(t), Implicit: true, MaxTLSVersion: tls.VersionTLS11}).Addr
		}, cause: probe.CauseTLSHandshakeFailed},
		{name: "protocol error", addr: func(t *testing.T) string {
			return smtptest.Start(t, smtptest.Options{Handler: smtptest.Greet("HTTP/1.1 400 Bad Request")}).Addr
		}, cause: probe.CauseProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := tc.addr(t)
			sec := tc.sec
			if sec == "" {
				sec = probe.SecurityStartTLS
			}
			for _, v := range []struct {
				worked   time.Time
				watching bool
				want     string // in the advice; "" means the plain advice
			}{
				{time.Time{}, false, ""},
				{now.Add(-10 * time.Minute), false, "It worked at " + now.Add(-10*time.Minute).Format("15:04") + " with these same settings"},
				{now.Add(-72 * time.Hour), true, "It worked on " + now.Add(-72*time.Hour).Format("2006-01-02 at 15:04") + " with these same settings"},
			} {
				tg := f.target(addr, sec)
				if host, port, _ := net.SplitHostPort(addr); net.ParseIP(host) == nil {
					tg.Server, tg.Port = host, atoi(port)
				}
				tg.Timeout = 1500 * time.Millisecond
				tg.WorkedAt, tg.Watching = v.worked, v.watching
				d := f.deps()
				d.Clock = fixedClock{now}
				if tc.deps != nil {
					tc.deps(&d, t)
				}
				r := probe.Probe(context.Background(), tg, d)
				if r.Cause != tc.cause {
					t.Fatalf("cause %s, want %s: %s", r.Cause, tc.cause, r.Message)
				}
				advice := strings.Join(r.Advice, "\n")
				blames := false
				for _, l := range settingsLines {
					blames = blames || strings.Contains(advice, l)
				}
				switch {
				case v.want == "" && strings.Contains(advice, "It worked"):
					t.Errorf("advice claims an earlier success nobody knows of:\n%s", advice)
				case v.want != "" && (!strings.Contains(advice, v.want) || !strings.Contains(advice, "status page")):
					t.Errorf("worked %v: advice lacks %q or the provider's status page:\n%s", v.worked, v.want, advice)
				case v.want != "" && blames:
					t.Errorf("worked %v: advice still blames the settings:\n%s", v.worked, advice)
				case promise.MatchString(advice) != v.watching:
					t.Errorf("watching %v: advice promises another check = %v:\n%s", v.watching, !v.watching, advice)
				}
			}
		})
	}
}

// Only a daemon that watches the account may promise to check again; a
// one-shot check tells the person to run it again.
func TestOnlyAWatcherPromisesToCheckAgain(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name  string
		addr  func(t *testing.T) string
		deps  func(*probe.Deps, *testing.T)
		cause probe.Cause
	}{
		{"offline", func(t *testing.T) string { return "mail.example.test:587" }, func(d *probe.Deps, t *testing.T) {
			d.Resolve = smtptest.StartDNS(t, nil).Resolver().LookupIPAddr
			d.OnlineTargets = []string{smtptest.ClosedPort(t)}
		}, probe.CauseOffline},
		{"421 at connect", func(t *testing.T) string {
			return smtptest.Start(t, smtptest.Options{Handler: smtptest.Greet("421 4.3.2 Service not available")}).Addr
		}, nil, probe.CauseServiceUnavailable},
		{"454 at sign-in", func(t *testing.T) string {
			return smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Users: users,
				AuthError: &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Temporary authentication failure"}}).Addr
		}, nil, probe.CauseAuthTemporaryFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := tc.addr(t)
			for _, watching := range []bool{false, true} {
				tg := f.target(addr, probe.SecurityStartTLS)
				if host, port, _ := net.SplitHostPort(addr); net.ParseIP(host) == nil {
					tg.Server, tg.Port = host, atoi(port)
				}
				tg.Watching, tg.Password = watching, credential.NewSecret(password)
				d := f.deps()
				if tc.deps != nil {
					tc.deps(&d, t)
				}
				r := probe.Probe(context.Background(), tg, d)
				if r.Cause != tc.cause {
					t.Fatalf("cause %s, want %s: %s", r.Cause, tc.cause, r.Message)
				}
				advice := strings.Join(r.Advice, "\n")
				if promise.MatchString(advice) != watching {
					t.Errorf("watching %v, advice:\n%s", watching, advice)
				}
				if !watching && !strings.Contains(strings.ToLower(advice), "run the check again") {
					t.Errorf("one-shot advice does not say to run the check again:\n%s", advice)
				}
			}
		})
	}
}
