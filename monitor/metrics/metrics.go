// Package metrics exports the daemon's view of each account as Prometheus
// metrics: the health state, how long each probe phase took, how often
// checks ran and failed and why, when the server's certificate expires and
// when the account was last checked.
//
// All series carry an "account" label, the account's name in the config.
// Names (prefix smtpwatch_):
//
//	account_state{account,state}             1 for the current state, 0 for the others
//	probe_duration_seconds{account,phase}    histogram per pipeline phase, and phase="total"
//	probe_total{account,status}              checks by verdict (ok, degraded, failing, offline)
//	failures_total{account,cause}            checks whose cause was not ok, by cause
//	cert_expiry_timestamp_seconds{account}   the server certificate's NotAfter
//	last_check_timestamp_seconds{account}    when the last check started
//
// Alert channels ([[notify]] tables) carry a "channel" label instead:
//
//	notify_sent_total{channel}               notifications delivered
//	notify_failures_total{channel}           attempts that failed (each retry counts)
//	notify_dropped_total{channel}            notifications given up
//	notify_channel_up{channel}               1 when the last attempt got through, 0 while failing
//
// ProbeGatherer holds the metrics of one /probe check.
//
// A Metrics is safe for concurrent use.
package metrics

import (
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "smtpwatch"

// PhaseTotal is the phase label of the whole check's duration in
// probe_duration_seconds.
const PhaseTotal = "total"

// DurationBuckets are the probe_duration_seconds buckets: 1 ms to 30 s, the
// range from a loopback relay's reply to a probe's whole time budget.
var DurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 20, 30}

// statuses are the probe_total series made for every account as soon as it
// is seen, so that rate() works from the first failure on.
var statuses = []probe.Status{probe.StatusOK, probe.StatusDegraded, probe.StatusFailing, probe.StatusOffline}

// Metrics holds the collectors. Make one with New.
type Metrics struct {
	state      *prometheus.GaugeVec
	duration   *prometheus.HistogramVec
	probes     *prometheus.CounterVec
	failures   *prometheus.CounterVec
	certExpiry *prometheus.GaugeVec
	lastCheck  *prometheus.GaugeVec

	notifySent    *prometheus.CounterVec
	notifyFailed  *prometheus.CounterVec
	notifyDropped *prometheus.CounterVec
	notifyUp      *prometheus.GaugeVec
}

// New makes the collectors and registers them with reg; a nil reg registers
// them nowhere. It panics if reg already holds metrics of these names, as
// prometheus.MustRegister does: that is a programming error.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "account_state",
			Help: "The account's health: 1 for the current state, 0 for the others.",
		}, []string{"account", "state"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "probe_duration_seconds",
			Help:    "Time taken by each phase of a check (dns, connect, greeting, ehlo, tls, auth, envelope, quit) and by the whole check (total).",
			Buckets: DurationBuckets,
		}, []string{"account", "phase"}),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "probe_total",
			Help: "Checks run, by verdict.",
		}, []string{"account", "status"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "failures_total",
			Help: "Checks whose cause was not ok (failures, warnings and offline), by cause.",
		}, []string{"account", "cause"}),
		certExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "cert_expiry_timestamp_seconds",
			Help: "When the server certificate last seen expires, in Unix seconds.",
		}, []string{"account"}),
		lastCheck: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "last_check_timestamp_seconds",
			Help: "When the last check started, in Unix seconds.",
		}, []string{"account"}),
	}
	m.notifySent = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "notify_sent_total", Help: "Notifications an alert channel delivered.",
	}, []string{"channel"})
	m.notifyFailed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "notify_failures_total", Help: "Attempts to deliver through an alert channel that failed (each retry counts).",
	}, []string{"channel"})
	m.notifyDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "notify_dropped_total", Help: "Notifications an alert channel gave up (attempts spent, or its queue was full).",
	}, []string{"channel"})
	m.notifyUp = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "notify_channel_up", Help: "1 when the alert channel's last attempt got through, 0 while it fails.",
	}, []string{"channel"})
	if reg != nil {
		reg.MustRegister(m.state, m.duration, m.probes, m.failures, m.certExpiry, m.lastCheck,
			m.notifySent, m.notifyFailed, m.notifyDropped, m.notifyUp)
	}
	return m
}

// Observe records one probe result; call it for every result, including
// quick confirmation re-probes. The account label is r.Name.
//
// The certificate expiry is set whenever the check saw a certificate
// (r.TLS with a NotAfter), even one that failed verification, and is kept
// from the last check that saw one when this check did not get as far.
func (m *Metrics) Observe(r probe.Result) {
	account := r.Name
	for _, s := range statuses {
		m.probes.WithLabelValues(account, string(s))
	}
	status := r.Status
	if status == "" {
		status = r.Cause.Status()
	}
	m.probes.WithLabelValues(account, string(status)).Inc()
	if r.Cause != "" && r.Cause != probe.CauseOK {
		m.failures.WithLabelValues(account, string(r.Cause)).Inc()
	}
	for _, p := range r.Phases {
		m.duration.WithLabelValues(account, p.Name).Observe(p.Duration.Seconds())
	}
	m.duration.WithLabelValues(account, PhaseTotal).Observe(r.Duration.Seconds())
	if r.TLS != nil && !r.TLS.NotAfter.IsZero() {
		m.certExpiry.WithLabelValues(account).Set(unixSeconds(r.TLS.NotAfter.UnixNano()))
	}
	if !r.CheckedAt.IsZero() {
		m.lastCheck.WithLabelValues(account).Set(unixSeconds(r.CheckedAt.UnixNano()))
	}
}

func unixSeconds(ns int64) float64 { return float64(ns) / 1e9 }

// SetState records the account's health state: account_state is 1 for s
// and 0 for every other state in health.States.
func (m *Metrics) SetState(account string, s health.State) {
	for _, st := range health.States {
		v := 0.0
		if st == s {
			v = 1
		}
		m.state.WithLabelValues(account, string(st)).Set(v)
	}
}

// Forget drops every series of the account, for an account that a config
// reload removed. A later Observe or SetState for the name starts afresh.
func (m *Metrics) Forget(account string) {
	l := prometheus.Labels{"account": account}
	m.state.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.probes.DeletePartialMatch(l)
	m.failures.DeletePartialMatch(l)
	m.certExpiry.DeletePartialMatch(l)
	m.lastCheck.DeletePartialMatch(l)
}

// ChannelSent counts a notification the channel delivered.
func (m *Metrics) ChannelSent(channel string) { m.notifySent.WithLabelValues(channel).Inc() }

// ChannelFailed counts a failed attempt.
func (m *Metrics) ChannelFailed(channel string) { m.notifyFailed.WithLabelValues(channel).Inc() }

// ChannelDropped counts a notification given up.
func (m *Metrics) ChannelDropped(channel string) { m.notifyDropped.WithLabelValues(channel).Inc() }

// ChannelUp sets notify_channel_up, and makes every series of the channel
// so that rate() works from the first failure on.
func (m *Metrics) ChannelUp(channel string, up bool) {
	m.notifySent.WithLabelValues(channel)
	m.notifyFailed.WithLabelValues(channel)
	m.notifyDropped.WithLabelValues(channel)
	m.notifyUp.WithLabelValues(channel).Set(b2f(up))
}

// ChannelForget drops the series of a channel a reload removed.
func (m *Metrics) ChannelForget(channel string) {
	l := prometheus.Labels{"channel": channel}
	m.notifySent.DeletePartialMatch(l)
	m.notifyFailed.DeletePartialMatch(l)
	m.notifyDropped.DeletePartialMatch(l)
	m.notifyUp.DeletePartialMatch(l)
}

// NotifyUp, NotifySent and NotifyFailed are a channel's series, for tests.
func (m *Metrics) NotifyUp(channel string) prometheus.Gauge {
	return m.notifyUp.WithLabelValues(channel)
}

// NotifySent is the channel's notify_sent_total.
func (m *Metrics) NotifySent(channel string) prometheus.Counter {
	return m.notifySent.WithLabelValues(channel)
}

// NotifyFailed is the channel's notify_failures_total.
func (m *Metrics) NotifyFailed(channel string) prometheus.Counter {
	return m.notifyFailed.WithLabelValues(channel)
}
