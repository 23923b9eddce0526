package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/probe"
)

func rejected() probe.Result {
	return probe.Result{
		Name: "charter", Provider: "Charter", Server: "smtp.charter.net", Port: 587, Security: probe.SecurityStartTLS,
		Status: probe.StatusFailing, Cause: probe.CauseAuthRejected,
		Message: "Your password was rejected by the server (535 5.7.8 Authentication credentials invalid).",
		Advice: []string{
			"Re-enter the password for me@charter.net (smtpwatch password set charter).",
			"If you changed it on the Charter website recently, use the new one.",
		},
		SMTP: &probe.Reply{Code: 535, EnhancedCode: "5.7.8", Message: "Authentication credentials invalid"},
		Phases: []probe.Phase{
			{Name: "dns", OK: true, Duration: 18 * time.Millisecond, Detail: "smtp.charter.net → 2 addresses"},
			{Name: "connect", OK: true, Duration: 31 * time.Millisecond, Detail: "[2001:db8::25]:587"},
			{Name: "auth", OK: false, Duration: 55 * time.Millisecond, Detail: "535 5.7.8 Authentication credentials invalid"},
		},
		TLS:      &probe.TLSInfo{Version: "TLS 1.3", Verified: true, DaysLeft: 211},
		Duration: 196 * time.Millisecond,
	}
}

// The text report leads with the verdict, then the cause, then what to
// change, then the evidence, as UX.md shows.
func TestText(t *testing.T) {
	var b bytes.Buffer
	err := Text(&b, []probe.Result{rejected()}, TextOptions{Rerun: func(r probe.Result) string {
		return "smtpwatch check --account " + r.Name + " --json"
	}})
	if err != nil {
		t.Fatal(err)
	}
	want := `Charter (smtp.charter.net:587, STARTTLS) — sending mail will FAIL

  Your password was rejected by the server (535 5.7.8 Authentication
  credentials invalid).
  → Re-enter the password for me@charter.net (smtpwatch password set charter).
  → If you changed it on the Charter website recently, use the new one.

  dns        ok    18 ms   smtp.charter.net → 2 addresses
  connect    ok    31 ms   [2001:db8::25]:587
  auth       FAIL  55 ms   535 5.7.8 Authentication credentials invalid
  total           196 ms

  Report for support: smtpwatch check --account charter --json
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestTextDetailsAndWarnings(t *testing.T) {
	r := rejected()
	r.Security, r.Detected = probe.SecurityAuto, probe.SecurityTLS
	r.Server = "2001:db8::25"
	r.Notes = []string{"tls_skip_verify is on"}
	r.Warnings = []probe.Finding{{Cause: probe.CauseCertificateExpiring, Message: "the certificate expires in 3 days"}}
	r.Suggestion = &probe.Suggestion{Port: 465, Security: probe.SecurityTLS}
	var b bytes.Buffer
	if err := Text(&b, []probe.Result{r, r}, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"([2001:db8::25]:587, auto: found SSL/TLS)", "⚠ WARNING: tls_skip_verify is on",
		"Also: the certificate expires in 3 days", "→ Port 465 with SSL/TLS works from here."} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "sending mail will FAIL") != 2 || strings.Contains(out, "Report for support") {
		t.Errorf("two accounts, no rerun line expected:\n%s", out)
	}
}

func TestWorstAndJSON(t *testing.T) {
	ok := probe.Result{Name: "a", Status: probe.StatusOK, Cause: probe.CauseOK}
	deg := probe.Result{Name: "b", Status: probe.StatusDegraded, Cause: probe.CauseSlowResponse}
	off := probe.Result{Name: "c", Status: probe.StatusOffline, Cause: probe.CauseOffline}
	for _, c := range []struct {
		in   []probe.Result
		want probe.Status
	}{
		{nil, probe.StatusOK},
		{[]probe.Result{ok, deg}, probe.StatusDegraded},
		{[]probe.Result{ok, rejected(), deg}, probe.StatusFailing},
		{[]probe.Result{rejected(), off}, probe.StatusOffline},
	} {
		if got := Worst(c.in); got != c.want {
			t.Errorf("Worst = %s, want %s", got, c.want)
		}
	}
	var b bytes.Buffer
	if err := JSON(&b, []probe.Result{ok, rejected()}); err != nil {
		t.Fatal(err)
	}
	var d struct {
		Status   string
		Accounts []map[string]any
	}
	if err := json.Unmarshal(b.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	if d.Status != "failing" || len(d.Accounts) != 2 || d.Accounts[1]["cause"] != "auth_rejected" {
		t.Errorf("JSON %s", b.String())
	}
	b.Reset()
	_ = JSON(&b, nil)
	if !strings.Contains(b.String(), `"accounts": []`) {
		t.Errorf("no accounts: %s", b.String())
	}
}

func TestNagiosLine(t *testing.T) {
	got := NagiosLine([]probe.Result{rejected(), {Name: "work it", Status: probe.StatusOK, Cause: probe.CauseOK, Duration: 180 * time.Millisecond}})
	want := "SMTP CRITICAL - charter: password rejected (535 5.7.8 Authentication credentials invalid); work it: OK | " +
		"'charter_time'=0.196s;;;0 'charter_dns'=0.018s;;;0 'charter_connect'=0.031s;;;0 'charter_auth'=0.055s;;;0 " +
		"'charter_cert_days'=211;;; 'work_it_time'=0.180s;;;0"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := NagiosLine(nil); got != "SMTP UNKNOWN - no accounts to check" {
		t.Errorf("no accounts: %q", got)
	}
}

// A server reply holding "|" (or a line break) must not end the text part
// of the plugin line early: everything after the first "|" is performance
// data to Nagios, and a line break starts the long output.
func TestNagiosLineEscapesTheText(t *testing.T) {
	r := rejected()
	r.Name = "a|b='c' d"
	r.SMTP = &probe.Reply{Code: 535, EnhancedCode: "5.7.8", Message: "no | way\r\nreally"}
	r.Phases = []probe.Phase{{Name: "auth", Duration: 55 * time.Millisecond}}
	r.TLS = nil
	got := NagiosLine([]probe.Result{r})
	text, perf, ok := strings.Cut(got, " | ")
	if !ok || strings.Contains(perf, " | ") || strings.Count(got, "|") != 1 {
		t.Fatalf("the line has more than one \"|\": %q", got)
	}
	if want := "SMTP CRITICAL - a¦b='c' d: password rejected (535 5.7.8 no ¦ way  really)"; text != want {
		t.Errorf("text %q, want %q", text, want)
	}
	if strings.ContainsAny(got, "\r\n") {
		t.Errorf("line break in %q", got)
	}
	// Each label is quoted and holds none of ' = | or a space.
	for _, item := range strings.Fields(perf) {
		label, _, ok := strings.Cut(item, "=")
		if !ok || len(label) < 3 || label[0] != '\'' || label[len(label)-1] != '\'' || strings.ContainsAny(label[1:len(label)-1], "'=| ") {
			t.Errorf("bad label in %q (all: %q)", item, perf)
		}
	}
	if want := "'a_b__c__d_time'=0.196s;;;0 'a_b__c__d_auth'=0.055s;;;0"; perf != want {
		t.Errorf("perf %q, want %q", perf, want)
	}
}

// Every duration in the report is rounded as a person reads it: a phase
// of 2.666666666 s is "2.7 s", not "2666 ms" or "2.666666666s".
func TestTextRoundsDurations(t *testing.T) {
	r := rejected()
	r.Phases = []probe.Phase{{Name: "greeting", OK: false, Duration: 8 * time.Second / 3, Detail: "no greeting"}}
	r.Duration = 90 * time.Second
	var b bytes.Buffer
	if err := Text(&b, []probe.Result{r}, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"  greeting   FAIL  2.7 s   no greeting\n", "  total           1 min 30 s\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
