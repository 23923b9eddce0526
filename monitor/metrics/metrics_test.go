package metrics

import (
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

var checkedAt = time.Date(2026, 3, 4, 14, 2, 0, 500_000_000, time.UTC)

func rejected() probe.Result {
	return probe.Result{
		Name: "charter", Provider: "Charter", Server: "smtp.charter.net", Port: 587,
		Status: probe.StatusFailing, Cause: probe.CauseAuthRejected,
		Phases: []probe.Phase{
			{Name: probe.PhaseDNS, OK: true, Duration: 18 * time.Millisecond},
			{Name: probe.PhaseConnect, OK: true, Duration: 31 * time.Millisecond},
			{Name: probe.PhaseTLS, OK: true, Duration: 38 * time.Millisecond},
			{Name: probe.PhaseAuth, OK: false, Duration: 55 * time.Millisecond},
		},
		TLS:       &probe.TLSInfo{Version: "TLS 1.3", Verified: true, NotAfter: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)},
		CheckedAt: checkedAt,
		Duration:  196 * time.Millisecond,
	}
}

func refused() probe.Result {
	return probe.Result{
		Name: "work", Server: "mail.example.com", Port: 587,
		Status: probe.StatusFailing, Cause: probe.CauseConnectionRefused,
		Phases:    []probe.Phase{{Name: probe.PhaseDNS, OK: true, Duration: 2 * time.Millisecond}, {Name: probe.PhaseConnect, Duration: time.Millisecond}},
		CheckedAt: checkedAt.Add(time.Minute),
		Duration:  3 * time.Millisecond,
	}
}

func TestObserveCounters(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	ok := rejected()
	ok.Status, ok.Cause = probe.StatusOK, probe.CauseOK
	m.Observe(rejected())
	m.Observe(rejected())
	m.Observe(ok)
	m.Observe(refused())

	want := `
# HELP smtpwatch_probe_total Checks run, by verdict.
# TYPE smtpwatch_probe_total counter
smtpwatch_probe_total{account="charter",status="degraded"} 0
smtpwatch_probe_total{account="charter",status="failing"} 2
smtpwatch_probe_total{account="charter",status="offline"} 0
smtpwatch_probe_total{account="charter",status="ok"} 1
smtpwatch_probe_total{account="work",status="degraded"} 0
smtpwatch_probe_total{account="work",status="failing"} 1
smtpwatch_probe_total{account="work",status="offline"} 0
smtpwatch_probe_total{account="work",status="ok"} 0
# HELP smtpwatch_failures_total Checks whose cause was not ok (failures, warnings and offline), by cause.
# TYPE smtpwatch_failures_total counter
smtpwatch_failures_total{account="charter",cause="auth_rejected"} 2
smtpwatch_failures_total{account="work",cause="connection_refused"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "smtpwatch_probe_total", "smtpwatch_failures_total"); err != nil {
		t.Error(err)
	}
}

func TestObserveGauges(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	m.Observe(rejected())
	m.Observe(refused()) // no TLS reached: no expiry series for work

	// A later check that does not reach TLS keeps the certificate last seen.
	later := rejected()
	later.TLS, later.Cause, later.CheckedAt = nil, probe.CauseConnectionTimeout, checkedAt.Add(2*time.Minute)
	m.Observe(later)

	want := `
# HELP smtpwatch_cert_expiry_timestamp_seconds When the server certificate last seen expires, in Unix seconds.
# TYPE smtpwatch_cert_expiry_timestamp_seconds gauge
smtpwatch_cert_expiry_timestamp_seconds{account="charter"} 1.790812800e+09
# HELP smtpwatch_last_check_timestamp_seconds When the last check started, in Unix seconds.
# TYPE smtpwatch_last_check_timestamp_seconds gauge
smtpwatch_last_check_timestamp_seconds{account="charter"} 1.7726330405e+09
smtpwatch_last_check_timestamp_seconds{account="work"} 1.7726329805e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "smtpwatch_cert_expiry_timestamp_seconds", "smtpwatch_last_check_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}

func TestCertificateSeenButNotVerified(t *testing.T) {
	// An expired certificate fails the handshake (no TLS version), but its
	// expiry is exactly what an alert wants to see.
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	r := rejected()
	r.Cause = probe.CauseCertificateExpired
	r.TLS = &probe.TLSInfo{NotAfter: time.Unix(1_700_000_000, 0)}
	m.Observe(r)
	if got := testutil.ToFloat64(m.certExpiry.WithLabelValues("charter")); got != 1_700_000_000 {
		t.Errorf("cert expiry = %v, want 1.7e9", got)
	}
}

func TestObserveDurations(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	m.Observe(rejected())
	m.Observe(rejected())

	// One histogram per phase that ran, plus the total.
	if n := testutil.CollectAndCount(m.duration); n != 5 {
		t.Errorf("%d duration series, want 5 (dns, connect, tls, auth, total)", n)
	}
	want := `
# HELP smtpwatch_probe_duration_seconds Time taken by each phase of a check (dns, connect, greeting, ehlo, tls, auth, envelope, quit) and by the whole check (total).
# TYPE smtpwatch_probe_duration_seconds histogram
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="0.001"} 0
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="0.0025"} 0
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="0.005"} 0
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="0.01"} 0
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="0.025"} 0
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="0.05"} 0
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="0.1"} 2
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="0.25"} 2
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="0.5"} 2
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="1"} 2
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="2.5"} 2
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="5"} 2
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="10"} 2
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="20"} 2
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="30"} 2
smtpwatch_probe_duration_seconds_bucket{account="charter",phase="auth",le="+Inf"} 2
smtpwatch_probe_duration_seconds_sum{account="charter",phase="auth"} 0.11
smtpwatch_probe_duration_seconds_count{account="charter",phase="auth"} 2
`
	// Compare the auth series alone: filter the gathered families to it.
	got := filterPhase(t, reg, "auth")
	if err := testutil.GatherAndCompare(got, strings.NewReader(want), "smtpwatch_probe_duration_seconds"); err != nil {
		t.Error(err)
	}
}

// filterPhase is a Gatherer of reg's duration histogram for one phase.
func filterPhase(t *testing.T, reg prometheus.Gatherer, phase string) prometheus.Gatherer {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "smtpwatch_probe_duration_seconds" {
			continue
		}
		kept := mf.Metric[:0]
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "phase" && l.GetValue() == phase {
					kept = append(kept, m)
				}
			}
		}
		mf.Metric = kept
	}
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return mfs, nil })
}

func TestSetState(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	m.SetState("charter", health.OK)
	m.SetState("charter", health.Failing)
	want := `
# HELP smtpwatch_account_state The account's health: 1 for the current state, 0 for the others.
# TYPE smtpwatch_account_state gauge
smtpwatch_account_state{account="charter",state="degraded"} 0
smtpwatch_account_state{account="charter",state="failing"} 1
smtpwatch_account_state{account="charter",state="offline"} 0
smtpwatch_account_state{account="charter",state="ok"} 0
smtpwatch_account_state{account="charter",state="paused"} 0
smtpwatch_account_state{account="charter",state="starting"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "smtpwatch_account_state"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.state); n != len(health.States) {
		t.Errorf("%d state series, want one per state (%d)", n, len(health.States))
	}
}

func TestForget(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	for _, r := range []probe.Result{rejected(), refused()} {
		m.Observe(r)
		m.SetState(r.Name, health.Failing)
	}
	m.Forget("charter")

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, s := range mf.Metric {
			for _, l := range s.Label {
				if l.GetName() == "account" && l.GetValue() == "charter" {
					t.Errorf("%s still has a series for the forgotten account", mf.GetName())
				}
			}
		}
	}
	if n := testutil.CollectAndCount(m.state); n != len(health.States) {
		t.Errorf("work's state series: %d, want %d", n, len(health.States))
	}
	// The name can come back.
	m.SetState("charter", health.Starting)
	if got := testutil.ToFloat64(m.state.WithLabelValues("charter", string(health.Starting))); got != 1 {
		t.Errorf("starting after re-adding = %v, want 1", got)
	}
}

func TestLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := New(reg)
	m.Observe(rejected())
	m.SetState("charter", health.Failing)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

func TestNilRegisterer(t *testing.T) {
	m := New(nil)
	m.Observe(probe.Result{}) // an empty result must not panic
	m.SetState("", health.Starting)
	m.Forget("")
}
