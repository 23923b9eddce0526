package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/report"
)

// ErrNotRunning is wrapped by a Client's error when no daemon listens on
// the socket: there is no socket file, or nothing answers on it.
var ErrNotRunning = errors.New("the smtpwatch daemon is not running")

// maxResponseBytes bounds a response the client reads.
const maxResponseBytes = 16 << 20

// Error is the daemon's answer to a request it refused: the HTTP status
// and the message of its {"error": "..."} body. It wraps
// ErrUnknownAccount when the daemon did not know the account named.
type Error struct {
	StatusCode int
	Message    string
	err        error
}

func (e *Error) Error() string { return e.Message }

// Unwrap gives ErrUnknownAccount for an unknown account, else nil.
func (e *Error) Unwrap() error { return e.err }

// Client talks to the daemon over its socket, for other processes (the
// CLI, the tray client). The zero value is not usable; make one with
// NewClient. It is safe for concurrent use. Every method is bounded by its
// ctx alone: give it a deadline.
type Client struct {
	socket string
	tr     *http.Transport
	hc     *http.Client
}

// NewClient makes a client of the daemon listening on socketPath. It does
// not connect until a method is called.
func NewClient(socketPath string) *Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	tr := &http.Transport{
		// Proxy stays nil: an HTTP_PROXY setting must not apply here.
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", socketPath)
		},
		MaxIdleConns:       2,
		IdleConnTimeout:    30 * time.Second,
		DisableCompression: true,
	}
	return &Client{socket: socketPath, tr: tr, hc: &http.Client{Transport: tr}}
}

// Close closes idle connections. The client stays usable.
func (c *Client) Close() { c.tr.CloseIdleConnections() }

// Status gets the daemon's snapshot.
func (c *Client) Status(ctx context.Context) (health.Status, error) {
	var st health.Status
	err := c.do(ctx, http.MethodGet, PathStatus, nil, &st)
	return st, err
}

// Check asks the daemon to probe now (every account when account is "")
// and waits for the results; it lifts an auth lockout, as a person asking
// does. An unknown account gives an *Error wrapping ErrUnknownAccount.
func (c *Client) Check(ctx context.Context, account string) ([]probe.Result, error) {
	var doc report.Document
	if err := c.do(ctx, http.MethodPost, PathCheck, accountQuery(account), &doc); err != nil {
		return nil, err
	}
	return doc.Accounts, nil
}

// Pause suspends checks and alarms of the account (every account when
// account is "") for d; d == 0 pauses until Resume. The daemon accepts up
// to a year.
func (c *Client) Pause(ctx context.Context, account string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("api: pause: negative duration %v", d)
	}
	q := accountQuery(account)
	if d > 0 {
		q.Set("for", d.String())
	}
	return c.do(ctx, http.MethodPost, PathPause, q, nil)
}

// PauseUntil is Pause up to a time; the zero time pauses until Resume.
func (c *Client) PauseUntil(ctx context.Context, account string, until time.Time) error {
	q := accountQuery(account)
	if !until.IsZero() {
		q.Set("until", until.Format(time.RFC3339))
	}
	return c.do(ctx, http.MethodPost, PathPause, q, nil)
}

// Resume ends a pause of the account (every account when account is "").
func (c *Client) Resume(ctx context.Context, account string) error {
	return c.do(ctx, http.MethodPost, PathResume, accountQuery(account), nil)
}

// DashboardURL asks the daemon for a one-time link to its dashboard. A
// daemon that serves none answers with an *Error of status 404.
func (c *Client) DashboardURL(ctx context.Context) (string, error) {
	var link dashboardLink
	if err := c.do(ctx, http.MethodPost, PathDashboard, nil, &link); err != nil {
		return "", err
	}
	if link.URL == "" {
		return "", fmt.Errorf("api: %s: the daemon gave no link", PathDashboard)
	}
	return link.URL, nil
}

// Events subscribes to the daemon's events. It returns once the daemon
// has answered, when the subscription is in place: every event published
// after that comes on the channel. The channel closes when the stream ends
// (the daemon stopped, or ctx ended); reconnecting is the caller's
// business. Read the channel until it closes or end ctx: the stream waits
// for the reader.
func (c *Client) Events(ctx context.Context) (<-chan health.Event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://smtpwatch"+PathEvents, nil)
	if err != nil {
		return nil, fmt.Errorf("api: events: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, "events", err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, responseError(resp, "")
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/event-stream" {
		resp.Body.Close()
		return nil, fmt.Errorf("api: events: the daemon answered %q, not an event stream", mt)
	}
	ch := make(chan health.Event, 16)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		readEvents(ctx, resp.Body, ch)
	}()
	return ch, nil
}

func accountQuery(account string) url.Values {
	q := url.Values{}
	if account != "" {
		q.Set("account", account)
	}
	return q
}

// do sends a request and decodes a 2xx JSON answer into out (nil: ignore it).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, out any) error {
	u := "http://smtpwatch" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return fmt.Errorf("api: %s: %w", path, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(ctx, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return responseError(resp, q.Get("account"))
	}
	body := io.LimitReader(resp.Body, maxResponseBytes)
	if out == nil {
		_, _ = io.Copy(io.Discard, body)
		return nil
	}
	if err := json.NewDecoder(body).Decode(out); err != nil {
		return fmt.Errorf("api: %s: reading the answer: %w", path, err)
	}
	return nil
}

// transportError explains a failed round trip; a dial that finds no
// socket, or a socket nothing answers on, wraps ErrNotRunning.
func (c *Client) transportError(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("api: %s: %w", op, context.Cause(ctx))
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		if _, serr := os.Stat(c.socket); errors.Is(serr, fs.ErrNotExist) || errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w (no socket at %s)", ErrNotRunning, c.socket)
		}
		if refused(err) {
			return fmt.Errorf("%w (nothing answers on %s)", ErrNotRunning, c.socket)
		}
	}
	return fmt.Errorf("api: %s: %w", op, err)
}

// wsaeconnrefused is Windows' "connection refused", which syscall.ECONNREFUSED
// does not match there.
const wsaeconnrefused = syscall.Errno(10061)

func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, wsaeconnrefused)
}

// responseError reads the daemon's {"error": ...} answer.
func responseError(resp *http.Response, account string) error {
	var body errorBody
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{StatusCode: resp.StatusCode, Message: resp.Status}
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		e.Message = body.Error
	}
	if resp.StatusCode == http.StatusNotFound && account != "" {
		// The paths exist, so a 404 names the account.
		e.err = ErrUnknownAccount
	}
	return e
}
