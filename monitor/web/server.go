package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/discover"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/history"
	"smtpwatch/monitor/probe"
)

// Engine is what the pages show and drive: the same view of the daemon
// the local API serves (its status with the alert channels, its event
// stream with the decided notifications, checks, pause and resume).
type Engine = api.Engine

// History is what the account page reads; *history.Store satisfies it.
type History interface {
	Summaries(ctx context.Context, account string, since time.Time) ([]history.Summary, error)
	Events(ctx context.Context, account string, since time.Time) ([]health.Event, error)
	Latency(ctx context.Context, account string, since, until time.Time, n int) ([]history.LatencyBucket, error)
}

// OAuth2SignIn starts the OAuth2 sign-in of the account named account in
// the config file configPath, for the settings page's "Sign in with
// OAuth2". It returns the address of the page where the person signs in
// (the provider's), to which the dashboard sends the browser, and finishes
// the sign-in by itself (on its loopback redirect), storing the token as
// `smtpwatch login NAME` does; a running daemon sees the new credential as
// it sees one stored by the command. It must return once the sign-in has
// started, within ctx; its error is shown to the person as it is.
//
// It is the one seam between the dashboard and the OAuth2 sign-in. A nil
// OAuth2SignIn means this build has none: the page says so and names
// `smtpwatch login NAME`.
type OAuth2SignIn func(ctx context.Context, configPath, account string) (signInURL string, err error)

// Options configure a Server. Engine is required; the zero value of the
// rest leaves its part out, as documented.
type Options struct {
	Engine Engine
	// History feeds the account page's uptime, charts and timeline; nil
	// leaves them out.
	History History
	// ConfigPath is the config file the settings pages read and write;
	// "" leaves the settings out.
	ConfigPath string
	// Reload applies the config file after a page wrote it, and returns
	// once it has; nil leaves it to the daemon's watch of the file.
	Reload func()
	// Icon returns the PNG of a state's tray icon (icons.PNG); nil shows
	// the states' text marks alone.
	Icon func(state string) []byte
	// OAuth2SignIn: see its type.
	OAuth2SignIn OAuth2SignIn
	// Discover and Probe are the network of the settings page's "add an
	// account" (the zero values: the real network).
	Discover discover.Options
	Probe    probe.Deps
	// CheckTimeout bounds the live check of an account being added; 0
	// means 20 s, as `smtpwatch add`.
	CheckTimeout time.Duration
	// Logger gets a line per change made through the pages; nil discards.
	Logger *slog.Logger
	// Now tells the time; nil means time.Now.
	Now func() time.Time
}

// Server is the dashboard. Make one with New and serve it with Serve; its
// methods are safe for concurrent use.
type Server struct {
	o    Options
	log  *slog.Logger
	now  func() time.Time
	auth *authority
	mux  *http.ServeMux

	mu     sync.Mutex
	addr   netip.AddrPort // the listener's; zero before Serve
	origin string         // "http://127.0.0.1:PORT"

	tmplOnce sync.Once
	tmpl     *templates
	tmplErr  error

	// editMu makes the pages' writes to the config file one at a time.
	editMu sync.Mutex
	// seen keeps recent versions of the config file that pages were made
	// from, for comparing with the file when it changed meanwhile.
	seen *versions
	// adds are the additions in progress, by id.
	adds *pendingAdds
}

// New makes a dashboard for o. It does not listen; see Serve.
func New(o Options) (*Server, error) {
	if o.Engine == nil {
		return nil, errors.New("web: no engine")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = 20 * time.Second
	}
	s := &Server{o: o, log: o.Logger, now: o.Now, auth: newAuthority(o.Now), seen: newVersions(), adds: newPendingAdds(o.Now)}
	s.routes()
	return s, nil
}

// Listen opens the dashboard's listener on addr, which must be a loopback
// address or "localhost" (bound as 127.0.0.1) with a port, 0 for a free
// one. Another address is refused: the dashboard is for this computer.
func Listen(addr string) (net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("web: listen %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		host = "127.0.0.1"
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() || ip.Zone() != "" {
		return nil, fmt.Errorf("web: listen %q: not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), port))
	if err != nil {
		return nil, fmt.Errorf("web: listen: %w", err)
	}
	if ap, ok := tcpAddr(ln.Addr()); !ok || !ap.Addr().IsLoopback() {
		ln.Close()
		return nil, fmt.Errorf("web: listen %q: bound to %s, not loopback", addr, ln.Addr())
	}
	return ln, nil
}

func tcpAddr(a net.Addr) (netip.AddrPort, bool) {
	t, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	return t.AddrPort(), true
}

// Timing of the server.
const (
	readHeaderTimeout = 5 * time.Second
	idleTimeout       = 60 * time.Second
	writeTimeout      = 30 * time.Second // each page; an event stream per event
	shutdownTimeout   = 2 * time.Second
	heartbeat         = 15 * time.Second
	maxHeaderBytes    = 16 << 10
	maxFormBytes      = 64 << 10
)

// Bind makes ln, which must be a loopback TCP listener (Listen), the
// dashboard's address, so that LoginURL gives links to it before Serve
// runs. Serve binds it too.
func (s *Server) Bind(ln net.Listener) error {
	ap, ok := tcpAddr(ln.Addr())
	if !ok || !ap.Addr().IsLoopback() {
		return fmt.Errorf("web: %s is not a loopback TCP listener", ln.Addr())
	}
	s.mu.Lock()
	s.addr = ap
	s.origin = "http://" + ap.String()
	s.mu.Unlock()
	return nil
}

// Serve answers on ln, which must be a loopback TCP listener (Listen),
// until ctx ends; then open requests get 2 s and ln is closed. It blocks
// until then and returns nil after that shutdown, or the error that
// stopped it serving earlier.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if err := s.Bind(ln); err != nil {
		ln.Close()
		return fmt.Errorf("web: serve: %w", err)
	}
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("web: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("web: serve: %w", err)
	}
	return nil
}

// ErrNotServing is returned by LoginURL before Serve has started.
var ErrNotServing = errors.New("the dashboard is not being served")

// LoginURL returns the address that opens the dashboard in a browser,
// http://127.0.0.1:PORT/login?token=...: the token in it is good for one
// use within TokenLifetime. Hand it only to the user the daemon runs as.
func (s *Server) LoginURL() (string, error) {
	s.mu.Lock()
	origin := s.origin
	s.mu.Unlock()
	if origin == "" {
		return "", ErrNotServing
	}
	return origin + "/login?token=" + url.QueryEscape(s.auth.newToken()), nil
}

// Addr is the address the dashboard listens on; the zero value before
// Serve.
func (s *Server) Addr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

func (s *Server) cookieName() string {
	return "smtpwatch_session_" + strconv.Itoa(int(s.Addr().Port()))
}

// allowedHost reports whether a Host header names this listener.
func (s *Server) allowedHost(h string) bool {
	ap := s.Addr()
	if !ap.IsValid() {
		return false
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil || port != strconv.Itoa(int(ap.Port())) {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip == ap.Addr()
}

// ServeHTTP guards every request (see the package doc), then routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin") // not no-referrer: with it, browsers send "Origin: null" on the site's own forms
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")

	if !s.allowedHost(r.Host) {
		s.forbidden(w, "This page is served at "+s.origin+" only (the address asked for was "+clip(r.Host)+").")
		return
	}
	if !s.fetchAllowed(r) {
		s.forbidden(w, "A page of another site may not use the dashboard.")
		return
	}
	if r.URL.Path == "/login" && r.Method == http.MethodGet {
		s.login(w, r)
		return
	}
	id := ""
	if c, err := r.Cookie(s.cookieName()); err == nil {
		id = c.Value
	}
	csrf, ok := s.auth.session(id)
	if !ok {
		s.forbidden(w, "This browser has no session with the dashboard, or it has expired.")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		if o := r.Header.Get("Origin"); o != "" && o != s.origin && o != s.localhostOrigin() {
			s.forbidden(w, "A page of another site ("+clip(o)+") may not change anything here.")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		given := r.Header.Get("X-CSRF-Token")
		if given == "" {
			given = r.PostFormValue("csrf")
		}
		if !sameSecret(given, csrf) {
			s.forbidden(w, "The form is missing its safety token (CSRF), or it belongs to another session: reload the page and try again.")
			return
		}
	}
	ctx := context.WithValue(r.Context(), sessionKey{}, sessionInfo{id: id, csrf: csrf})
	s.mux.ServeHTTP(w, r.WithContext(ctx))
}

func (s *Server) localhostOrigin() string {
	return "http://localhost:" + strconv.Itoa(int(s.Addr().Port()))
}

// fetchAllowed applies the browser's fetch metadata: a request another
// site's page made (Sec-Fetch-Site cross-site, or same-site: another port
// of 127.0.0.1) is refused unless it is a plain navigation to a page.
// Requests without the headers (older browsers, command-line clients)
// pass to the checks that follow.
func (s *Server) fetchAllowed(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return r.Method == http.MethodGet && r.Header.Get("Sec-Fetch-Mode") == "navigate" && r.Header.Get("Sec-Fetch-Dest") == "document"
}

type sessionKey struct{}

type sessionInfo struct{ id, csrf string }

func sessionOf(r *http.Request) sessionInfo {
	si, _ := r.Context().Value(sessionKey{}).(sessionInfo)
	return si
}

// login exchanges a one-time token for a session. The answer is a page
// that moves on to the overview by itself: a navigation started from the
// site itself, so that the SameSite=Strict cookie goes with it even when
// the login link came from another program.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	id, _, ok := s.auth.exchange(r.URL.Query().Get("token"))
	if !ok {
		s.log.Info("dashboard: a login link was refused (used, expired or unknown)")
		s.forbidden(w, "This link to the dashboard was used already, or it has expired.")
		return
	}
	http.SetCookie(w, sessionCookie(s.cookieName(), id, 0))
	s.log.Info("dashboard: a browser opened the dashboard")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Refresh", "0; url=/")
	_, _ = fmt.Fprint(w, `<!doctype html><meta charset="utf-8"><title>smtpwatch</title><p><a href="/">Open the dashboard</a></p>`)
}

// forbidden answers 403 with a page that says how to get in.
func (s *Server) forbidden(w http.ResponseWriter, why string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	_, _ = fmt.Fprintf(w, `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width">`+
		`<title>smtpwatch: not allowed</title><h1>Not allowed</h1><p>%s</p>`+
		`<p>To open the dashboard, run <code>smtpwatch open</code> or pick <b>Open dashboard</b> in smtpwatch's tray menu: `+
		`each gives a new link that opens it.</p></html>`, htmlEscape(why))
}

// clip shortens what a client sent before a page repeats it.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}
