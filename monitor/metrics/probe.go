package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"smtpwatch/monitor/probe"
)

// ProbeReport is what one /probe check found, as ProbeGatherer exports it.
type ProbeReport struct {
	Result probe.Result
	// Held is the cause of a login verdict that stands (a rejected
	// credential, a temporary refusal in its back-off): the check did not
	// log in, and sending cannot be said to work. "" when none.
	Held probe.Cause
	// LoggedIn: the check tried to log in. LoginOK: when the server last
	// accepted the credential; zero when unknown.
	LoggedIn bool
	LoginOK  time.Time
	// Now is when the report is made, for the login's age.
	Now time.Time
}

// Success is probe_success: the check worked (ok or degraded) and no
// login verdict holds.
func (p ProbeReport) Success() bool {
	s := p.Result.Status
	if s == "" {
		s = p.Result.Cause.Status()
	}
	return (s == probe.StatusOK || s == probe.StatusDegraded) && p.Held == ""
}

// Cause is the cause label: the held verdict's, else the check's.
func (p ProbeReport) Cause() probe.Cause {
	if p.Held != "" {
		return p.Held
	}
	if p.Result.Cause == "" {
		return probe.CauseOK
	}
	return p.Result.Cause
}

// ProbeGatherer is a registry of its own holding one /probe check's
// metrics, in the blackbox_exporter style (no account label: Prometheus's
// relabeling gives the target as instance). Names (prefix smtpwatch_):
//
//	probe_success                          1 when sending works (Success)
//	probe_duration_seconds                 the whole check
//	probe_phase_duration_seconds{phase}    each phase that ran
//	probe_cause{cause,status}              1, with the cause (Cause) and the check's verdict
//	probe_cert_expiry_timestamp_seconds    the server certificate's NotAfter, when one was seen
//	probe_tls_version_info{version}        1, when TLS was negotiated
//	probe_logged_in                        1 when this check tried to log in
//	probe_auth_verified                    1 when the server accepted the credential, in this
//	                                       check or (when the login was not due) the last login
//	probe_login_age_seconds                how long ago that accepted login was, when known
func ProbeGatherer(p ProbeReport) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help})
		reg.MustRegister(g)
		return g
	}
	vec := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, labels)
		reg.MustRegister(g)
		return g
	}
	r := p.Result
	gauge("probe_success", "1 when sending works: the check worked (ok or degraded) and no refused login is held.").Set(b2f(p.Success()))
	gauge("probe_duration_seconds", "How long the whole check took.").Set(r.Duration.Seconds())
	phases := vec("probe_phase_duration_seconds", "How long each phase of the check took (dns, connect, greeting, ehlo, tls, auth, envelope, quit).", "phase")
	for _, ph := range r.Phases {
		phases.WithLabelValues(ph.Name).Set(ph.Duration.Seconds())
	}
	status := r.Status
	if status == "" {
		status = r.Cause.Status()
	}
	vec("probe_cause", "1, labelled with why the check came out as it did (ok when it worked) and its verdict.", "cause", "status").
		WithLabelValues(string(p.Cause()), string(status)).Set(1)
	if r.TLS != nil && !r.TLS.NotAfter.IsZero() {
		gauge("probe_cert_expiry_timestamp_seconds", "When the server certificate seen expires, in Unix seconds.").Set(unixSeconds(r.TLS.NotAfter.UnixNano()))
	}
	if r.TLS != nil && r.TLS.Version != "" {
		vec("probe_tls_version_info", "1, labelled with the TLS version negotiated.", "version").WithLabelValues(r.TLS.Version).Set(1)
	}
	gauge("probe_logged_in", "1 when this check tried to log in.").Set(b2f(p.LoggedIn))
	verified := r.AuthVerified || (!p.LoggedIn && p.Held == "" && !p.LoginOK.IsZero())
	gauge("probe_auth_verified", "1 when the server accepted the credential: in this check, or in the last login when this check did not log in.").Set(b2f(verified))
	if verified && !p.LoginOK.IsZero() {
		gauge("probe_login_age_seconds", "How long ago the server last accepted the credential.").Set(max(p.Now.Sub(p.LoginOK).Seconds(), 0))
	}
	return reg
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
