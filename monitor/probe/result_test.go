package probe_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"smtpwatch/monitor/probe"
)

// The JSON form is the documented contract of check --json and of the
// daemon's API; it must carry durations in milliseconds and read back whole.
func TestResultJSONRoundTrip(t *testing.T) {
	r := probe.Result{
		Name: "charter", Provider: "Charter", Server: "smtp.charter.net", Port: 587, Security: probe.SecurityAuto, Detected: probe.SecurityStartTLS,
		Status: probe.StatusFailing, Cause: probe.CauseAuthRejected, Message: "m", Advice: []string{"a", "b"},
		Warnings:  []probe.Finding{{Cause: probe.CauseCertificateExpiring, Message: "soon"}},
		SMTP:      &probe.Reply{Code: 535, EnhancedCode: "5.7.8", Message: "no"},
		Phases:    []probe.Phase{{Name: "dns", OK: true, Duration: 18 * time.Millisecond, Detail: "x"}},
		TLS:       &probe.TLSInfo{Version: "TLS 1.3", Verified: true, NotAfter: time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC), DaysLeft: 35},
		CheckedAt: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC), Duration: 196 * time.Millisecond,
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["duration_ms"].(float64) != 196 || m["phases"].([]any)[0].(map[string]any)["duration_ms"].(float64) != 18 {
		t.Errorf("durations not in ms: %s", b)
	}
	for _, k := range []string{"name", "server", "port", "security", "status", "cause", "message", "advice", "smtp", "phases", "tls", "checked_at", "duration_ms"} {
		if _, ok := m[k]; !ok {
			t.Errorf("key %q missing: %s", k, b)
		}
	}
	var back probe.Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("round trip:\n got %+v\nwant %+v", back, r)
	}
}
