package smtptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options are the knobs of a test server. The zero value is a plaintext
// server without AUTH.
type Options struct {
	// Cert enables TLS: STARTTLS, or implicit TLS with Implicit.
	Cert     *tls.Certificate
	Implicit bool
	// MaxTLSVersion caps the server's TLS version (tls.VersionTLS11 makes a
	// server that a modern client refuses).
	MaxTLSVersion uint16

	// Users enables AUTH: username → password.
	Users map[string]string
	// Mechanisms offered; default PLAIN and LOGIN when Users is set.
	Mechanisms []string
	// AllowInsecureAuth offers AUTH without TLS.
	AllowInsecureAuth bool
	// AuthError, when set, answers every AUTH with this error.
	AuthError *smtp.SMTPError
	// Tokens enables the OAuth2 mechanisms (XOAUTH2 and OAUTHBEARER, after
	// PLAIN and LOGIN when Users is set too) and judges each bearer token.
	Tokens TokenCheck
	// MaxLineLength is the longest line the server reads; 0 means
	// go-smtp's 2000. OAuth2 tokens of 1–2 kB need more, as real servers
	// allow (RFC 4954 raises the limit for AUTH responses).
	MaxLineLength int

	MailError *smtp.SMTPError
	RcptError *smtp.SMTPError

	// Delay holds every accepted connection this long before the server
	// greets it.
	Delay time.Duration
	// ResetFirst resets (TCP RST) the first N connections at once.
	ResetFirst int
	// Handler, when set, receives every accepted connection instead of the
	// SMTP server: for scripted faults (see Greet, Silent, Trickle...).
	Handler func(net.Conn)
}

// Server is a running test server.
type Server struct {
	Addr string // 127.0.0.1:port
	Port int

	// AuthAttempts counts AUTH exchanges that reached the backend.
	AuthAttempts atomic.Int64
	// Accepted counts accepted connections.
	Accepted atomic.Int64

	srv *smtp.Server
	ln  net.Listener

	mu       sync.Mutex
	received []*bytes.Buffer // per connection, what the client sent, as seen on the wire
	debug    bytes.Buffer    // go-smtp's decrypted log of both directions
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
}

// Start runs a server on 127.0.0.1 until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: ln.Addr().String(), Port: ln.Addr().(*net.TCPAddr).Port, conns: map[net.Conn]struct{}{}}
	s.ln = &listener{Listener: ln, s: s, delay: o.Delay, resetFirst: int64(o.ResetFirst)}
	if o.Mechanisms == nil {
		if len(o.Users) > 0 {
			o.Mechanisms = []string{sasl.Plain, sasl.Login}
		}
		if o.Tokens != nil {
			o.Mechanisms = append(o.Mechanisms, XOAuth2, OAuthBearer)
		}
	}
	s.srv = smtp.NewServer(&backend{s: s, o: o})
	s.srv.Domain = "localhost"
	s.srv.AllowInsecureAuth = o.AllowInsecureAuth
	if o.MaxLineLength > 0 {
		s.srv.MaxLineLength = o.MaxLineLength
	}
	s.srv.ReadTimeout = 10 * time.Second
	s.srv.WriteTimeout = 10 * time.Second
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.Debug = lockedWriter{&s.mu, &s.debug}
	if o.Cert != nil {
		s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*o.Cert}, MaxVersion: o.MaxTLSVersion}
	}
	var serveLn net.Listener = s.ln
	if o.Cert != nil && o.Implicit {
		serveLn = tls.NewListener(s.ln, s.srv.TLSConfig)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if o.Handler != nil {
			s.handle(serveLn, o.Handler)
			return
		}
		_ = s.srv.Serve(serveLn)
	}()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server, closes every connection it holds and returns once
// all of its goroutines have ended.
func (s *Server) Close() {
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx) // closes the listener, waits for the sessions
	_ = s.ln.Close()
	s.wg.Wait()
}

func (s *Server) handle(ln net.Listener, h func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			h(c)
		}()
	}
}

// Received returns what each connection's client sent, as seen on the wire
// (ciphertext after a TLS handshake), in accept order.
func (s *Server) Received() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.received))
	for i, b := range s.received {
		out[i] = bytes.Clone(b.Bytes())
	}
	return out
}

// Idle waits until the server holds no open connection — every session
// has ended as the client left it — or the timeout passes, and reports
// whether it is idle. A client that sends QUIT and closes without waiting
// for the reply is done before the server has read the QUIT.
func (s *Server) Idle(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond) // bounded polling of sessions that end on their own
	}
}

// Log is go-smtp's debug log of every session, decrypted, both directions.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.debug.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// listener records what clients send, tracks connections so Close can end
// them, and applies Options.Delay.
type listener struct {
	net.Listener
	s          *Server
	delay      time.Duration
	resetFirst int64
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if n := l.s.Accepted.Add(1); n <= l.resetFirst {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST
		}
		c.Close()
		return l.Accept()
	}
	rc := &recConn{Conn: c, s: l.s, buf: &bytes.Buffer{}}
	l.s.mu.Lock()
	l.s.received = append(l.s.received, rc.buf)
	l.s.conns[c] = struct{}{}
	l.s.mu.Unlock()
	if l.delay > 0 {
		time.Sleep(l.delay) // the server is slow to accept; bounded by the option
	}
	return rc, nil
}

type recConn struct {
	net.Conn
	s   *Server
	buf *bytes.Buffer
}

func (c *recConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.s.mu.Lock()
	c.buf.Write(b[:n])
	c.s.mu.Unlock()
	return n, err
}

func (c *recConn) Close() error {
	c.s.mu.Lock()
	delete(c.s.conns, c.Conn)
	c.s.mu.Unlock()
	return c.Conn.Close()
}

type backend struct {
	s *Server
	o Options
}

func (b *backend) NewSession(*smtp.Conn) (smtp.Session, error) {
	if len(b.o.Mechanisms) == 0 {
		return &session{b: b}, nil
	}
	return &authSession{session{b: b}}, nil
}

type session struct{ b *backend }

func (s *session) Mail(string, *smtp.MailOptions) error {
	if e := s.b.o.MailError; e != nil {
		return e
	}
	return nil
}

func (s *session) Rcpt(string, *smtp.RcptOptions) error {
	if e := s.b.o.RcptError; e != nil {
		return e
	}
	return nil
}

func (s *session) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, r)
	return err
}

func (s *session) Reset()        {}
func (s *session) Logout() error { return nil }

type authSession struct{ session }

func (s *authSession) AuthMechanisms() []string { return s.b.o.Mechanisms }

func (s *authSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		s.b.s.AuthAttempts.Add(1)
		if e := s.b.o.AuthError; e != nil {
			return e
		}
		if want, ok := s.b.o.Users[user]; ok && want == pass {
			return nil
		}
		return smtp.ErrAuthFailed
	}
	checkToken := func(user, token string) error {
		s.b.s.AuthAttempts.Add(1)
		if e := s.b.o.AuthError; e != nil {
			return e
		}
		if s.b.o.Tokens == nil {
			return smtp.ErrAuthFailed
		}
		return s.b.o.Tokens(user, token)
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return NewLoginServer(check), nil
	case XOAuth2:
		return newXOAuth2Server(checkToken), nil
	case OAuthBearer:
		return newOAuthBearerServer(checkToken), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// NewLoginServer is the server side of AUTH LOGIN, which go-sasl lacks:
// it asks for the user name and the password, then calls check.
func NewLoginServer(check func(user, pass string) error) sasl.Server {
	return &loginServer{check: check}
}

// loginServer is the server side of AUTH LOGIN.
type loginServer struct {
	check    func(user, pass string) error
	user     string
	gotUser  bool
	finished bool
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch {
	case !l.gotUser && resp == nil:
		return []byte("Username:"), false, nil
	case !l.gotUser:
		l.user, l.gotUser = string(resp), true
		return []byte("Password:"), false, nil
	case !l.finished:
		l.finished = true
		return nil, true, l.check(l.user, string(resp))
	}
	return nil, false, errors.New("unexpected response")
}

// Port returns the port of a host:port address.
func Port(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
