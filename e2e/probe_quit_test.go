package e2e

import (
	"context"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/probe"
)

// The probe sends QUIT and closes without waiting for the 221; Postfix must
// still see every session end with QUIT and nothing it did not know:
// signed in or refused, STARTTLS or implicit TLS, with AUTH or without.
func TestProbeQuitWithoutWaitingIsClean(t *testing.T) {
	e := needEnv(t)
	pem, err := os.ReadFile(e.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", e.CA)
	}
	for _, tc := range []struct {
		name, svc, port string
		sec             probe.Security
		password        string
		skipAuth        bool
		cause           probe.Cause
	}{
		{"starttls signed in", "starttls", "STARTTLS", probe.SecurityStartTLS, e.Password, false, probe.CauseOK},
		{"starttls refused", "starttls", "STARTTLS", probe.SecurityStartTLS, "wrong-" + e.Password, false, probe.CauseAuthRejected},
		{"starttls without auth", "starttls", "STARTTLS", probe.SecurityStartTLS, e.Password, true, probe.CauseOK},
		{"implicit tls signed in", "tls", "TLS", probe.SecurityTLS, e.Password, false, probe.CauseOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mark, haveLog := markLog(e)
			if !haveLog {
				skipOrFail(t, "Postfix's log %q cannot be read", e.Log)
			}
			r := probe.Probe(context.Background(), probe.Target{
				Name: "e2e", Server: e.Host, Port: e.Port(t, tc.port), Security: tc.sec,
				Username: e.User, Password: credential.NewSecret(tc.password), RootCAs: roots,
				Timeout: 10 * time.Second, SkipAuth: tc.skipAuth,
			}, probe.Deps{OnlineTargets: []string{}, Alternatives: []probe.Alternative{}})
			if r.Cause != tc.cause {
				t.Fatalf("cause %s, want %s: %s %+v", r.Cause, tc.cause, r.Message, r.Phases)
			}
			if p, ok := r.Phase(probe.PhaseQuit); !ok || !p.OK || !strings.Contains(p.Detail, "QUIT sent") {
				t.Errorf("quit phase %+v", p)
			}
			assertCleanSessions(t, mark, tc.svc)
			lines, err := mark.since()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range lines {
				if strings.Contains(l, "postfix/"+tc.svc+"/") && (strings.Contains(l, "lost connection") || strings.Contains(l, "improper command pipelining")) {
					t.Errorf("Postfix logged: %s", l)
				}
			}
		})
	}
}
