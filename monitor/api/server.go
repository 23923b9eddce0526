package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/report"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Engine is what the API serves: the daemon's engine satisfies it.
type Engine interface {
	// Status is the current snapshot. It must not block for long.
	Status() health.Status
	// Subscribe delivers events until ctx ends; the channel is closed then.
	Subscribe(ctx context.Context) <-chan health.Event
	// Check probes now (all accounts when account == "") and returns when
	// the results are in; it counts as "the user asked", which lifts auth
	// lockout. Unknown account: an error wrapping ErrUnknownAccount.
	Check(ctx context.Context, account string) ([]probe.Result, error)
	// Pause suspends checks and alarms of the account (all when "") until
	// the time given; a zero time means until resumed. Unknown account: an
	// error wrapping ErrUnknownAccount.
	Pause(account string, until time.Time) error
	// Resume ends a pause of the account (all when "").
	Resume(account string) error
}

// Dashboard is implemented by an Engine whose daemon serves the dashboard
// (monitor/web): the socket then answers POST /v1/ui/token with a fresh
// one-time link to it. The metrics listener never does.
type Dashboard interface {
	// DashboardURL returns a new one-time login link to the dashboard, or
	// an error wrapping ErrNoDashboard when it is not served.
	DashboardURL() (string, error)
}

// ErrNoDashboard is wrapped by Dashboard's error when the daemon serves no
// dashboard (ui = false, or its listener could not be opened); the API
// answers 404 with its text.
var ErrNoDashboard = errors.New("the dashboard is not served")

// ErrUnknownAccount is wrapped by the Engine's errors for an account name
// it does not know; the API answers 404 with the error's text. It is
// health.ErrUnknownAccount, the sentinel the engine wraps.
var ErrUnknownAccount = health.ErrUnknownAccount

// The API's paths.
const (
	PathStatus  = "/v1/status"
	PathEvents  = "/v1/events"
	PathCheck   = "/v1/check"
	PathPause   = "/v1/pause"
	PathResume  = "/v1/resume"
	PathMetrics = "/metrics"
	// PathDashboard gives a one-time link to the dashboard; only over the
	// socket, only the user's own processes can ask.
	PathDashboard = "/v1/ui/token"
)

// Bounds on what a request may take.
const (
	maxHeaderBytes = 8 << 10
	maxBodyBytes   = 4 << 10 // no endpoint takes a body; a small one is read and ignored
	maxPause       = 366 * 24 * time.Hour
)

// options are the server's timing; tests shorten them.
type options struct {
	readHeaderTimeout time.Duration    // the request line and headers
	bodyTimeout       time.Duration    // reading (and ignoring) a request body
	writeTimeout      time.Duration    // each response, each event
	idleTimeout       time.Duration    // a kept-alive connection between requests
	checkTimeout      time.Duration    // POST /v1/check
	heartbeat         time.Duration    // SSE comment interval
	shutdownTimeout   time.Duration    // open requests get this long once ctx ends
	now               func() time.Time // for pause times; deadlines use the real clock
}

func defaultOptions() options {
	return options{
		readHeaderTimeout: 5 * time.Second,
		bodyTimeout:       5 * time.Second,
		writeTimeout:      10 * time.Second,
		idleTimeout:       60 * time.Second,
		checkTimeout:      3 * time.Minute,
		heartbeat:         15 * time.Second,
		shutdownTimeout:   2 * time.Second,
		now:               time.Now,
	}
}

// Serve answers API requests on ln until ctx ends, then shuts down: event
// streams end at once, other requests get up to 2 s to finish, and ln is
// closed (which removes a Unix socket file). It blocks until then and
// returns nil after a shutdown, or the error that stopped it serving
// earlier. engine must not be nil. A nil gatherer leaves /metrics
// answering 404; a nil logger discards the server's log.
func Serve(ctx context.Context, ln net.Listener, engine Engine, gatherer prometheus.Gatherer, logger *slog.Logger) error {
	o := defaultOptions()
	logger = orDiscard(logger)
	return serve(ctx, ln, newHandler(engine, gatherer, logger, o), logger, o)
}

// ServeMetrics serves only GET /metrics on the TCP address addr (the
// config's metrics_listen, e.g. "127.0.0.1:9925") until ctx ends, then
// shuts down as Serve does. It logs a warning when addr is not a loopback
// address: the metrics name the accounts and servers. Errors: the listen
// error, or what stopped it serving.
func ServeMetrics(ctx context.Context, addr string, gatherer prometheus.Gatherer, logger *slog.Logger) error {
	return serveMetrics(ctx, addr, gatherer, nil, 0, logger)
}

func serveMetrics(ctx context.Context, addr string, gatherer prometheus.Gatherer, prober Prober, probes int, logger *slog.Logger) error {
	logger = orDiscard(logger)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("api: metrics listener: %w", err)
	}
	if !loopback(ln.Addr()) {
		logger.Warn("metrics are served to other machines too", "addr", ln.Addr().String())
	}
	o := defaultOptions()
	h := newHandler(nil, gatherer, logger, o)
	if prober != nil {
		h.prober, h.probeSlots = prober, make(chan struct{}, max(probes, 1))
		h.routes[PathProbe] = route{method: http.MethodGet, params: []string{"account", "target", "module"}, serve: h.probe}
	}
	return serve(ctx, ln, h, logger, o)
}

func loopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, o options) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.readHeaderTimeout,
		// No ReadTimeout or WriteTimeout: they would cut event streams and
		// long checks. The handlers set per-read and per-write deadlines.
		IdleTimeout:    o.idleTimeout,
		MaxHeaderBytes: maxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		// Requests inherit ctx, so event streams and checks end with it.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		logger.Warn("api: requests still open at shutdown, closing them", "err", err)
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve: %w", err)
	}
	return nil
}

// handler routes requests. A nil engine serves /metrics alone.
type handler struct {
	engine  Engine
	metrics http.Handler // nil: no gatherer
	// prober answers /probe (the metrics listener only); probeSlots
	// bounds its checks.
	prober     Prober
	probeSlots chan struct{}
	log        *slog.Logger
	o          options
	routes     map[string]route
}

type route struct {
	method string
	params []string // the query parameters allowed, unless any
	any    bool     // any query parameters (for /metrics, which ignores them)
	serve  func(http.ResponseWriter, *http.Request, url.Values)
}

func newHandler(engine Engine, gatherer prometheus.Gatherer, logger *slog.Logger, o options) *handler {
	h := &handler{engine: engine, log: logger, o: o, routes: map[string]route{}}
	if gatherer != nil {
		h.metrics = promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{
			ErrorLog:            slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
			ErrorHandling:       promhttp.ContinueOnError,
			MaxRequestsInFlight: 4,
		})
	}
	h.routes[PathMetrics] = route{method: http.MethodGet, any: true, serve: h.serveMetrics}
	if engine != nil {
		h.routes[PathStatus] = route{method: http.MethodGet, serve: h.status}
		h.routes[PathEvents] = route{method: http.MethodGet, serve: h.events}
		h.routes[PathCheck] = route{method: http.MethodPost, params: []string{"account"}, serve: h.check}
		h.routes[PathPause] = route{method: http.MethodPost, params: []string{"account", "for", "until"}, serve: h.pause}
		h.routes[PathResume] = route{method: http.MethodPost, params: []string{"account"}, serve: h.resume}
		if d, ok := engine.(Dashboard); ok {
			h.routes[PathDashboard] = route{method: http.MethodPost, serve: func(w http.ResponseWriter, r *http.Request, _ url.Values) {
				u, err := d.DashboardURL()
				switch {
				case errors.Is(err, ErrNoDashboard):
					h.error(w, http.StatusNotFound, "%v", err)
				case err != nil:
					h.error(w, http.StatusInternalServerError, "dashboard: %v", err)
				default:
					h.writeJSON(w, http.StatusOK, dashboardLink{URL: u})
				}
			}}
		}
	}
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := h.routes[r.URL.Path]
	if !ok {
		h.error(w, http.StatusNotFound, "no such endpoint: %s", clip(r.URL.Path))
		return
	}
	if r.Method != rt.method {
		w.Header().Set("Allow", rt.method)
		h.error(w, http.StatusMethodNotAllowed, "%s %s: method not allowed, use %s", clip(r.Method), r.URL.Path, rt.method)
		return
	}
	if code, msg := h.readBody(w, r); code != 0 {
		h.error(w, code, "%s", msg)
		return
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.error(w, http.StatusBadRequest, "bad query string: %v", err)
		return
	}
	if !rt.any {
		for k, v := range q {
			if !slices.Contains(rt.params, k) {
				h.error(w, http.StatusBadRequest, "unknown parameter %q", clip(k))
				return
			}
			if len(v) > 1 {
				h.error(w, http.StatusBadRequest, "parameter %q given %d times", k, len(v))
				return
			}
		}
	}
	rt.serve(w, r, q)
}

// readBody reads and ignores a request body of up to maxBodyBytes, with a
// deadline; it returns the status to refuse the request with, or 0.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request) (int, string) {
	if r.ContentLength == 0 {
		return 0, ""
	}
	if r.ContentLength > maxBodyBytes {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large (limit %d bytes; no endpoint takes a body)", maxBodyBytes)
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(h.o.bodyTimeout))
	_, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, maxBodyBytes))
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		// The rest of the body is not worth waiting for: answer and close,
		// rather than let net/http read on for the next request.
		w.Header().Set("Connection", "close")
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body too large (limit %d bytes; no endpoint takes a body)", maxBodyBytes)
	case err != nil:
		return http.StatusBadRequest, fmt.Sprintf("reading the request body: %v", err)
	}
	return 0, ""
}

func (h *handler) status(w http.ResponseWriter, r *http.Request, _ url.Values) {
	h.writeJSON(w, http.StatusOK, h.snapshot())
}

func (h *handler) snapshot() health.Status {
	st := h.engine.Status()
	if st.Accounts == nil {
		st.Accounts = []health.AccountStatus{}
	}
	return st
}

func (h *handler) check(w http.ResponseWriter, r *http.Request, q url.Values) {
	ctx, cancel := context.WithTimeout(r.Context(), h.o.checkTimeout)
	defer cancel()
	rs, err := h.engine.Check(ctx, q.Get("account"))
	if err != nil {
		switch {
		case errors.Is(err, ErrUnknownAccount):
			h.error(w, http.StatusNotFound, "%v", err)
		case r.Context().Err() != nil:
			h.error(w, http.StatusServiceUnavailable, "check canceled: the daemon is stopping or the client left")
		case ctx.Err() != nil:
			h.error(w, http.StatusGatewayTimeout, "check took longer than %v", h.o.checkTimeout)
		default:
			h.error(w, http.StatusInternalServerError, "check: %v", err)
		}
		return
	}
	if rs == nil {
		rs = []probe.Result{}
	}
	h.writeJSON(w, http.StatusOK, report.Document{Status: report.Worst(rs), Accounts: rs})
}

func (h *handler) pause(w http.ResponseWriter, r *http.Request, q url.Values) {
	var until time.Time
	now := h.o.now()
	switch {
	case q.Has("for") && q.Has("until"):
		h.error(w, http.StatusBadRequest, "give for or until, not both")
		return
	case q.Has("for"):
		d, err := time.ParseDuration(q.Get("for"))
		if err != nil {
			h.error(w, http.StatusBadRequest, "for=%q: not a duration such as 30m or 2h", clip(q.Get("for")))
			return
		}
		if d <= 0 || d > maxPause {
			h.error(w, http.StatusBadRequest, "for=%s: want more than 0 and at most %v", d, maxPause)
			return
		}
		until = now.Add(d)
	case q.Has("until"):
		t, err := time.Parse(time.RFC3339, q.Get("until"))
		if err != nil {
			h.error(w, http.StatusBadRequest, "until=%q: not an RFC 3339 time such as 2026-01-02T08:00:00+01:00", clip(q.Get("until")))
			return
		}
		if !t.After(now) || t.Sub(now) > maxPause {
			h.error(w, http.StatusBadRequest, "until=%s: want a time in the next %v", t.Format(time.RFC3339), maxPause)
			return
		}
		until = t
	}
	if err := h.engine.Pause(q.Get("account"), until); err != nil {
		h.engineError(w, "pause", err)
		return
	}
	h.writeJSON(w, http.StatusOK, h.snapshot())
}

func (h *handler) resume(w http.ResponseWriter, r *http.Request, q url.Values) {
	if err := h.engine.Resume(q.Get("account")); err != nil {
		h.engineError(w, "resume", err)
		return
	}
	h.writeJSON(w, http.StatusOK, h.snapshot())
}

func (h *handler) engineError(w http.ResponseWriter, op string, err error) {
	if errors.Is(err, ErrUnknownAccount) {
		h.error(w, http.StatusNotFound, "%v", err)
		return
	}
	h.error(w, http.StatusInternalServerError, "%s: %v", op, err)
}

func (h *handler) serveMetrics(w http.ResponseWriter, r *http.Request, _ url.Values) {
	if h.metrics == nil {
		h.error(w, http.StatusNotFound, "metrics are not enabled")
		return
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.o.writeTimeout))
	h.metrics.ServeHTTP(w, r)
}

// dashboardLink is the answer of POST /v1/ui/token.
type dashboardLink struct {
	URL string `json:"url"`
}

// errorBody is every error's JSON form.
type errorBody struct {
	Error string `json:"error"`
}

func (h *handler) error(w http.ResponseWriter, code int, format string, args ...any) {
	h.writeJSON(w, code, errorBody{fmt.Sprintf(format, args...)})
}

func (h *handler) writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.log.Error("api: encoding a response", "err", err)
		code, b = http.StatusInternalServerError, []byte(`{"error":"internal error encoding the response"}`)
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(h.o.writeTimeout))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

// clip shortens what a client sent before it is echoed in an error.
func clip(s string) string {
	const limit = 100
	if len(s) > limit {
		return s[:limit] + "..."
	}
	return s
}
