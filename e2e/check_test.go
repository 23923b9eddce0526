package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// checkArgs is `smtpwatch check` against one e2e port, with the "am I online"
// reference pointed at the healthy Postfix port and the alternative ports
// kept on loopback, so that nothing is ever dialled outside 127.0.0.1.
func checkArgs(t testing.TB, e *env, port int, security string, extra ...string) []string {
	t.Helper()
	args := []string{"check",
		"--server", fmt.Sprintf("%s:%d", e.Host, port),
		"--security", security,
		"--username", e.User,
		"--json",
		"--timeout", "10s",
		"--online-targets", e.Addr(t, "STARTTLS"),
		"--alternatives", fmt.Sprintf("%d/tls,%d/starttls", e.Port(t, "TLS"), e.Port(t, "STARTTLS")),
	}
	return append(args, extra...)
}

// exit statuses of `smtpwatch check`.
const (
	exitOK       = 0
	exitDegraded = 1
	exitFailing  = 2
	exitOffline  = 3
)

func statusForExit(code int) string {
	return [...]string{"ok", "degraded", "failing", "offline"}[code]
}

// assertVerdict checks what every report must satisfy for a cause and exit
// status, and returns the account for further checks.
func assertVerdict(t *testing.T, r run, wantCause string, wantExit int) account {
	t.Helper()
	rep, a := parseReport(t, r)
	if a.Cause != wantCause {
		t.Errorf("cause = %q, want %q (message %q)", a.Cause, wantCause, a.Message)
	}
	if r.Exit != wantExit {
		t.Errorf("exit status = %d, want %d", r.Exit, wantExit)
	}
	if want := statusForExit(wantExit); a.Status != want || rep.Status != want {
		t.Errorf("status = %q (report %q), want %q", a.Status, rep.Status, want)
	}
	if a.Message == "" {
		t.Errorf("no message")
	}
	if wantCause != "ok" && len(a.Advice) == 0 {
		t.Errorf("cause %s comes with no advice", a.Cause)
	}
	if a.CheckedAt.IsZero() {
		t.Errorf("checked_at missing")
	}
	return a
}

// assertNoAuth checks that the report says AUTH never succeeded, and when an
// auth phase appears at all, that it did not pass.
func assertNoAuth(t *testing.T, a account) {
	t.Helper()
	if p, ok := a.phase("auth"); ok && p.OK {
		t.Errorf("auth phase ran and passed: %+v", p)
	}
	if a.AuthVerified {
		t.Errorf("auth_verified is true")
	}
}

func assertPhaseOK(t *testing.T, a account, name string) {
	t.Helper()
	p, ok := a.phase(name)
	if !ok {
		t.Errorf("no %s phase; phases: %v", name, a.phaseNames())
		return
	}
	if !p.OK {
		t.Errorf("%s phase failed: %+v", name, p)
	}
}

// assertHealthy checks a fully working STARTTLS or TLS check.
func assertHealthy(t *testing.T, a account) {
	t.Helper()
	for _, name := range []string{"connect", "greeting", "ehlo", "tls", "auth"} {
		assertPhaseOK(t, a, name)
	}
	// Pipeline order: TLS before AUTH, always.
	names := a.phaseNames()
	if i, j := slices.Index(names, "tls"), slices.Index(names, "auth"); i < 0 || j < 0 || i > j {
		t.Errorf("phases out of order: %v", names)
	}
	if !a.AuthVerified {
		t.Errorf("auth_verified = false")
	}
	if a.TLS == nil {
		t.Fatalf("no tls section")
	}
	if !a.TLS.Verified || a.TLS.Version == "" {
		t.Errorf("tls = %+v, want verified with a version", *a.TLS)
	}
	if a.TLS.DaysLeft < 150 {
		t.Errorf("tls.days_left = %d, want about 200", a.TLS.DaysLeft)
	}
	if !strings.Contains(a.TLS.Issuer, "smtpwatch test CA") {
		t.Errorf("tls.issuer = %q, want the test CA", a.TLS.Issuer)
	}
}

// assertTLSFailed checks a check that stopped at a certificate problem.
func assertTLSFailed(t *testing.T, a account) {
	t.Helper()
	assertNoAuth(t, a)
	if p, ok := a.phase("tls"); !ok || p.OK {
		t.Errorf("tls phase = %+v (ran %v), want a failed tls phase; phases %v", p, ok, a.phaseNames())
	}
	if a.TLS != nil && a.TLS.Verified {
		t.Errorf("tls.verified = true on a bad certificate")
	}
}

func TestCheck(t *testing.T) {
	e := needEnv(t)
	smtpwatchBin(t) // build before the parallel cases start

	ports := map[string]int{}
	for _, name := range []string{"STARTTLS", "TLS", "EXPIRED", "NOTYET", "WRONGHOST", "UNKNOWNCA",
		"EXPIRING", "INTERCEPTED", "PLAIN", "REJECT", "CLOSED"} {
		ports[name] = e.Port(t, name)
	}
	port := func(name string) int { return ports[name] }
	cases := []struct {
		name     string
		port     int
		security string
		password string // "" means the right one
		extra    []string
		cause    string
		exit     int
		// noAuthSvc names the Postfix service (syslog_name postfix/SVC) whose
		// log must show that no AUTH command arrived.
		noAuthSvc string
		// cleanSvc names a Postfix service whose sessions since the start
		// of the case must all end with QUIT and hold no unknown command.
		cleanSvc string
		check    func(t *testing.T, a account)
	}{
		{
			name: "healthy starttls", port: port("STARTTLS"), security: "starttls",
			cause: "ok", exit: exitOK,
			check: func(t *testing.T, a account) {
				assertHealthy(t, a)
				if a.Port != port("STARTTLS") || a.Security != "starttls" {
					t.Errorf("port, security = %d, %q", a.Port, a.Security)
				}
			},
		},
		{
			name: "healthy implicit tls", port: port("TLS"), security: "tls",
			cause: "ok", exit: exitOK,
			check: func(t *testing.T, a account) { assertHealthy(t, a) },
		},
		{
			name: "auto finds implicit tls", port: port("TLS"), security: "auto",
			cause: "ok", exit: exitOK,
			check: func(t *testing.T, a account) {
				assertHealthy(t, a)
				if a.DetectedSecurity != "tls" {
					t.Errorf("detected_security = %q, want tls", a.DetectedSecurity)
				}
			},
		},
		{
			name: "auto finds starttls", port: port("STARTTLS"), security: "auto",
			cause: "ok", exit: exitOK,
			check: func(t *testing.T, a account) {
				assertHealthy(t, a)
				if a.DetectedSecurity != "starttls" {
					t.Errorf("detected_security = %q, want starttls", a.DetectedSecurity)
				}
			},
		},
		{
			name: "wrong password", port: port("STARTTLS"), security: "starttls",
			password: "wrong-" + e.Password,
			cause:    "auth_rejected", exit: exitFailing, cleanSvc: "starttls",
			check: func(t *testing.T, a account) {
				assertPhaseOK(t, a, "tls")
				assertNoAuth(t, a)
				if a.SMTP == nil || a.SMTP.Code != 535 {
					t.Errorf("smtp = %+v, want code 535", a.SMTP)
				}
			},
		},
		{
			name: "expired certificate", port: port("EXPIRED"), security: "starttls",
			cause: "certificate_expired", exit: exitFailing, noAuthSvc: "expired",
			check: assertTLSFailed,
		},
		{
			name: "certificate not yet valid", port: port("NOTYET"), security: "starttls",
			cause: "certificate_not_yet_valid", exit: exitFailing, noAuthSvc: "notyet",
			check: assertTLSFailed,
		},
		{
			name: "certificate for another host", port: port("WRONGHOST"), security: "starttls",
			cause: "certificate_hostname_mismatch", exit: exitFailing, noAuthSvc: "wronghost",
			check: assertTLSFailed,
		},
		{
			name: "certificate from an unknown CA", port: port("UNKNOWNCA"), security: "starttls",
			cause: "certificate_untrusted", exit: exitFailing, noAuthSvc: "unknownca",
			check: assertTLSFailed,
		},
		{
			name: "certificate expiring", port: port("EXPIRING"), security: "starttls",
			cause: "certificate_expiring", exit: exitDegraded,
			check: func(t *testing.T, a account) {
				assertPhaseOK(t, a, "tls")
				assertPhaseOK(t, a, "auth")
				if a.TLS == nil || !a.TLS.Verified || a.TLS.DaysLeft < 1 || a.TLS.DaysLeft > 5 {
					t.Errorf("tls = %+v, want verified with 1..5 days left", a.TLS)
				}
			},
		},
		{
			name: "tls intercepted by antivirus", port: port("INTERCEPTED"), security: "starttls",
			cause: "tls_intercepted", exit: exitDegraded,
			check: func(t *testing.T, a account) {
				assertPhaseOK(t, a, "tls")
				if a.TLS == nil || !strings.Contains(a.TLS.Issuer, "ESET") {
					t.Errorf("tls = %+v, want the ESET issuer", a.TLS)
				}
			},
		},
		{
			name: "plaintext server with a username", port: port("PLAIN"), security: "none",
			cause: "plaintext_auth_refused", exit: exitFailing, noAuthSvc: "plain",
			check: assertNoAuth,
		},
		{
			name: "554 at connect", port: port("REJECT"), security: "starttls",
			cause: "service_unavailable", exit: exitFailing, noAuthSvc: "reject",
			check: func(t *testing.T, a account) {
				assertNoAuth(t, a)
				if a.SMTP == nil || a.SMTP.Code != 554 {
					t.Errorf("smtp = %+v, want code 554", a.SMTP)
				}
			},
		},
		{
			name: "nothing listens", port: port("CLOSED"), security: "starttls",
			cause: "connection_refused", exit: exitFailing,
			check: func(t *testing.T, a account) {
				assertNoAuth(t, a)
				if p, ok := a.phase("connect"); !ok || p.OK {
					t.Errorf("connect phase = %+v (ran %v), want failed", p, ok)
				}
			},
		},
		{
			name: "starttls configured on the implicit tls port", port: port("TLS"), security: "starttls",
			cause: "wrong_tls_mode", exit: exitFailing,
			check: func(t *testing.T, a account) {
				assertNoAuth(t, a)
				want := suggestion{Port: port("TLS"), Security: "tls"}
				if a.Suggestion == nil || *a.Suggestion != want {
					t.Errorf("suggestion = %+v, want %+v", a.Suggestion, want)
				}
			},
		},
		{
			name: "tls configured on the starttls port", port: port("STARTTLS"), security: "tls",
			cause: "wrong_tls_mode", exit: exitFailing,
			check: func(t *testing.T, a account) {
				assertNoAuth(t, a)
				want := suggestion{Port: port("STARTTLS"), Security: "starttls"}
				if a.Suggestion == nil || *a.Suggestion != want {
					t.Errorf("suggestion = %+v, want %+v", a.Suggestion, want)
				}
			},
		},
		{
			name: "envelope accepted", port: port("STARTTLS"), security: "starttls",
			extra: []string{"--from", e.User, "--rcpt", "bob@elsewhere.example"},
			cause: "ok", exit: exitOK,
			check: func(t *testing.T, a account) {
				assertHealthy(t, a)
				assertPhaseOK(t, a, "envelope")
				names := a.phaseNames()
				if slices.Index(names, "envelope") < slices.Index(names, "auth") {
					t.Errorf("envelope before auth: %v", names)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pw := tc.password
			if pw == "" {
				pw = e.Password
			}
			mark, haveLog := markLog(e)
			r := smtpwatch(t, e, pw, nil, checkArgs(t, e, tc.port, tc.security, tc.extra...)...)
			a := assertVerdict(t, r, tc.cause, tc.exit)
			if tc.check != nil {
				tc.check(t, a)
			}
			if tc.noAuthSvc != "" && haveLog {
				assertNoAuthCommand(t, mark, tc.noAuthSvc)
			}
			if tc.cleanSvc != "" && haveLog {
				assertCleanSessions(t, mark, tc.cleanSvc)
			}
			if t.Failed() {
				t.Logf("%s", r)
			}
		})
	}
}
