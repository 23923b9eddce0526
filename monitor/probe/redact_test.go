package probe_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// secretForms is every form of (user, pass) that must never leave a probe,
// by name: the value, the AUTH PLAIN initial response with and without an
// authorization identity, LOGIN's password line, and fragments of the
// PLAIN blob such as a server that truncates its quote would leave.
func secretForms(user, pass string) map[string]string {
	blob := b64("\x00" + user + "\x00" + pass)
	return map[string]string{
		"password":                    pass,
		"PLAIN response":              strings.TrimRight(blob, "="),
		"PLAIN response with authzid": strings.TrimRight(b64(user+"\x00"+user+"\x00"+pass), "="),
		"LOGIN password line":         strings.TrimRight(b64(pass), "="),
		"PLAIN response, first 8":     blob[:8],
		"PLAIN response, middle 10":   blob[12:22],
	}
}

// assertNoSecret checks every way a result can be shown or stored — JSON,
// every field as fmt prints it, each text — and the probe's log.
func assertNoSecret(t *testing.T, r probe.Result, logs string, forms map[string]string) {
	t.Helper()
	j, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]string{"json": string(j), "fields": fmt.Sprintf("%+v", r), "log": logs}
	for i, s := range texts(r) {
		shown[fmt.Sprintf("text %d", i)] = s
	}
	for name, form := range forms {
		for where, s := range shown {
			if strings.Contains(s, form) {
				t.Errorf("%s (%q) appears in the %s: %s", name, form, where, s)
			}
		}
	}
}

// debugLog is a logger that keeps every record, debug included, as JSON.
func debugLog() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

// A server that quotes the credential back — in clear, in base64, whole or
// truncated, on one line or several, as a refusal or as a temporary
// failure, even in its greeting — never gets any form of it into the
// result or the log.
func TestQuotedSecretsAreRedacted(t *testing.T) {
	f := newFixture(t)
	const pass = "Hunter2-quoted!"
	blob := b64("\x00" + user + "\x00" + pass)
	// go-sasl's LOGIN sends the user name with AUTH; the server asks for
	// the password ("Password:") next.
	login := []string{"AUTH LOGIN", "334 UGFzc3dvcmQ6"}
	script := func(greeting string, auth ...[]string) string {
		rules := [][2]string{{"EHLO", "250-localhost\n250 AUTH PLAIN"}}
		if len(auth) > 1 {
			rules[0][1] = "250-localhost\n250 AUTH LOGIN"
		}
		for _, a := range auth {
			rules = append(rules, [2]string{a[0], a[1]})
		}
		return smtptest.Start(t, smtptest.Options{Handler: smtptest.Script(greeting, rules...)}).Addr
	}
	for _, tc := range []struct {
		name  string
		addr  func() string
		plain bool // a scripted server without TLS: allow_plaintext_auth
		cause probe.Cause
	}{
		{"go-smtp: PLAIN refused, quoting blob prefix and password", func() string {
			return smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Users: users,
				AuthError: &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
					Message: "Authentication failed for " + blob[:10] + "... (password=" + pass + ")"}}).Addr
		}, false, probe.CauseAuthRejected},
		{"go-smtp: LOGIN refused, quoting the password line", func() string {
			return smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Users: users, Mechanisms: []string{"LOGIN"},
				AuthError: &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
					Message: "Authentication failed: " + b64(pass) + " is not " + pass}}).Addr
		}, false, probe.CauseAuthRejected},
		{"PLAIN, 535 echoing the AUTH line", func() string {
			return script("220 localhost ESMTP", []string{"AUTH PLAIN", "535 5.7.8 Authentication failed: {line}"})
		}, true, probe.CauseAuthRejected},
		{"PLAIN, multi-line 454 echoing the line and a prefix", func() string {
			return script("220 localhost ESMTP", []string{"AUTH PLAIN",
				"454-4.7.0 Temporary authentication failure\n454-4.7.0 for {line}\n454 4.7.0 (blob " + blob[:9] + "...)"})
		}, true, probe.CauseAuthTemporaryFailure},
		{"LOGIN, 535 echoing the password line", func() string {
			return script("220 localhost ESMTP", login, []string{b64(pass), "535 5.7.8 bad credentials {line} password=" + pass})
		}, true, probe.CauseAuthRejected},
		{"LOGIN, multi-line 454 echoing the password line", func() string {
			return script("220 localhost ESMTP", login, []string{b64(pass), "454-4.7.0 try later\n454 4.7.0 you sent {line}"})
		}, true, probe.CauseAuthTemporaryFailure},
		{"greeting that quotes the secret before AUTH", func() string {
			return script("220 localhost ESMTP last time you sent "+blob+" that is "+pass, []string{"AUTH PLAIN", "235 2.7.0 ok"})
		}, true, probe.CauseOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sec := probe.SecurityStartTLS
			if tc.plain {
				sec = probe.SecurityNone
			}
			tg := f.target(tc.addr(), sec)
			tg.Password, tg.AllowPlaintextAuth = credential.NewSecret(pass), tc.plain
			d := f.deps()
			var logs *bytes.Buffer
			d.Logger, logs = debugLog()
			r := probe.Probe(context.Background(), tg, d)
			if r.Cause != tc.cause {
				t.Fatalf("cause %s, want %s: %s %+v", r.Cause, tc.cause, r.Message, r.Phases)
			}
			if !strings.Contains(fmt.Sprintf("%+v", r), "[redacted]") {
				t.Errorf("nothing was redacted, so the server's quote did not reach the result: %+v", r)
			}
			assertNoSecret(t, r, logs.String(), secretForms(user, pass))
		})
	}
}

// A password of one to three characters is redacted where it stands
// alone, not inside words: the report stays readable.
func TestShortSecretIsRedactedAsAToken(t *testing.T) {
	f := newFixture(t)
	for _, pass := range []string{"Q", "x7", "a#b"} {
		addr := smtptest.Start(t, smtptest.Options{Handler: smtptest.Script("220 localhost ESMTP",
			[2]string{"EHLO", "250-localhost\n250 AUTH PLAIN"},
			[2]string{"AUTH PLAIN", "535 5.7.8 Authentication failed: password " + pass + " is wrong ({line})"})}).Addr
		tg := f.target(addr, probe.SecurityNone)
		tg.Password, tg.AllowPlaintextAuth = credential.NewSecret(pass), true
		r := probe.Probe(context.Background(), tg, f.deps())
		if r.Cause != probe.CauseAuthRejected {
			t.Fatalf("%q: cause %s", pass, r.Cause)
		}
		want := "password [redacted] is wrong"
		if r.SMTP == nil || !strings.Contains(r.SMTP.Message, want) {
			t.Errorf("%q: smtp %+v, want %q in it", pass, r.SMTP, want)
		}
		if !strings.Contains(r.Message, "Your password was rejected by the server (535 5.7.8 Authentication failed") {
			t.Errorf("%q: the message lost its words: %s", pass, r.Message)
		}
		forms := secretForms(user, pass)
		delete(forms, "password") // a short value is checked as a token above
		assertNoSecret(t, r, "", forms)
	}
}
