package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"smtpwatch/monitor/engine"
	"smtpwatch/monitor/metrics"
)

// PathProbe is the blackbox_exporter-style endpoint of the metrics
// listener.
const PathProbe = "/probe"

// ScrapeTimeoutHeader is the header in which Prometheus says how long it
// waits for a scrape; /probe ends its check ScrapeTimeoutOffset before.
const ScrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// ScrapeTimeoutOffset is taken off the scrape timeout for the answer to
// reach Prometheus in time.
const ScrapeTimeoutOffset = 500 * time.Millisecond

// Prober runs the checks /probe asks for; the daemon's satisfies it.
type Prober interface {
	// ProbeAccount checks a configured account now, with its schedule's
	// login rules (engine.Engine.Probe): never a rejected credential, no
	// login during a back-off. timeout > 0 shortens the check.
	ProbeAccount(ctx context.Context, account string, timeout time.Duration) (engine.Probed, error)
	// ProbeTarget checks target (HOST[:PORT]) with the [[module]] named
	// module (engine.Targets.Probe). Errors wrap engine.ErrUnknownModule,
	// engine.ErrBadTarget or engine.ErrTargetNotAllowed for a bad request.
	ProbeTarget(ctx context.Context, module, target string, timeout time.Duration) (engine.Probed, error)
}

// scrapeTimeout is the check's deadline for a request: the scrape timeout
// Prometheus gives, less ScrapeTimeoutOffset (at least 1 s); 0 when the
// header is absent (the account's or module's own timeout). A header that
// is not a positive number is an error.
func scrapeTimeout(r *http.Request) (time.Duration, error) {
	v := r.Header.Get(ScrapeTimeoutHeader)
	if v == "" {
		return 0, nil
	}
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || secs <= 0 || math.IsNaN(secs) || math.IsInf(secs, 0) || secs > 3600 {
		return 0, fmt.Errorf("%s: %q is not a number of seconds", ScrapeTimeoutHeader, clip(v))
	}
	return max(time.Duration(secs*float64(time.Second))-ScrapeTimeoutOffset, time.Second), nil
}

// probe answers GET /probe?account=NAME or /probe?target=HOST:PORT&module=NAME
// with the check's metrics (metrics.ProbeGatherer). At most
// h.probeSlots checks run at once; a request that cannot start before
// its deadline gets 503, as does one whose check could not start (an
// account busy past the deadline).
func (h *handler) probe(w http.ResponseWriter, r *http.Request, q url.Values) {
	account, target, module := q.Get("account"), q.Get("target"), q.Get("module")
	switch {
	case account != "" && (target != "" || module != ""):
		h.error(w, http.StatusBadRequest, "give account=NAME, or target=HOST:PORT and module=NAME, not both")
		return
	case account == "" && (target == "" || module == ""):
		h.error(w, http.StatusBadRequest, "want account=NAME, or target=HOST:PORT and module=NAME")
		return
	}
	timeout, err := scrapeTimeout(r)
	if err != nil {
		h.error(w, http.StatusBadRequest, "%v", err)
		return
	}
	// The request may wait for a slot and for a check already running on
	// the account; it ends with the scrape (or the longest check).
	wait := timeout
	if wait == 0 {
		wait = h.o.checkTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), wait+ScrapeTimeoutOffset/2)
	defer cancel()
	select {
	case h.probeSlots <- struct{}{}:
		defer func() { <-h.probeSlots }()
	case <-ctx.Done():
		h.error(w, http.StatusServiceUnavailable, "too many probes at once; none free in time")
		return
	}
	var p engine.Probed
	if account != "" {
		p, err = h.prober.ProbeAccount(ctx, account, timeout)
	} else {
		p, err = h.prober.ProbeTarget(ctx, module, target, timeout)
	}
	switch {
	case errors.Is(err, ErrUnknownAccount), errors.Is(err, engine.ErrUnknownModule):
		h.error(w, http.StatusNotFound, "%v", err)
		return
	case errors.Is(err, engine.ErrBadTarget):
		h.error(w, http.StatusBadRequest, "%v", err)
		return
	case errors.Is(err, engine.ErrTargetNotAllowed):
		h.error(w, http.StatusForbidden, "%v", err)
		return
	case err != nil && ctx.Err() != nil:
		h.error(w, http.StatusServiceUnavailable, "the check could not start in time: %v", err)
		return
	case err != nil:
		h.error(w, http.StatusInternalServerError, "probe: %v", err)
		return
	}
	reg := metrics.ProbeGatherer(metrics.ProbeReport{Result: p.Result, Held: p.Held, LoggedIn: p.LoggedIn, LoginOK: p.LoginOK, Now: time.Now()})
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.o.writeTimeout))
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(h.log.Handler(), slog.LevelWarn), ErrorHandling: promhttp.ContinueOnError,
	}).ServeHTTP(w, r)
}

// ServePrometheus serves GET /metrics and, with a prober, GET /probe on
// the TCP address addr (the config's metrics_listen) until ctx ends, then
// shuts down as Serve does. At most probes /probe checks run at once
// (at least 1). It logs a warning when addr is not a loopback address.
// Errors: the listen error, or what stopped it serving.
func ServePrometheus(ctx context.Context, addr string, gatherer prometheus.Gatherer, prober Prober, probes int, logger *slog.Logger) error {
	return serveMetrics(ctx, addr, gatherer, prober, probes, logger)
}
