package smtptest

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Web is an HTTPS server on loopback for many host names at once, with
// certificates from a test CA: the autoconfig servers of several domains
// and the ISPDB in one process. Handle routes by host name; a name the
// server has no certificate for gets one that does not match it.
type Web struct {
	ca    *CA
	mux   map[string]http.Handler // lower-case host → handler
	certs map[string]*tls.Certificate
	srv   *http.Server
	addr  string
}

// StartWeb serves HTTPS on addr ("127.0.0.1:0"; as root "127.0.0.53:443")
// until the test ends, with a certificate from ca for each name in hosts.
// Route requests with Handle before making them.
func StartWeb(t testing.TB, addr string, ca *CA, hosts ...string) *Web {
	t.Helper()
	w := &Web{ca: ca, mux: map[string]http.Handler{}, certs: map[string]*tls.Certificate{}}
	for _, h := range hosts {
		c := ca.Issue(t, Leaf{DNSNames: []string{h}})
		w.certs[strings.ToLower(h)] = &c
	}
	wrong := ca.Issue(t, Leaf{DNSNames: []string{"wrong-name.invalid"}})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	w.addr = ln.Addr().String()
	w.srv = &http.Server{
		Handler:           http.HandlerFunc(w.serve),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // refused handshakes are the point of some tests
		TLSConfig: &tls.Config{GetCertificate: func(hi *tls.ClientHelloInfo) (*tls.Certificate, error) {
			if c, ok := w.certs[strings.ToLower(hi.ServerName)]; ok {
				return c, nil
			}
			return &wrong, nil
		}},
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.srv.ServeTLS(ln, "", "")
	}()
	t.Cleanup(func() {
		// Close, not Shutdown: Shutdown waits 5 s for connections whose
		// TLS handshake a cancelled client left half done.
		_ = w.srv.Close()
		<-done
	})
	return w
}

// Addr is the server's host:port.
func (w *Web) Addr() string { return w.addr }

// Handle routes requests for host (any path) to h. Call it before the
// requests come.
func (w *Web) Handle(host string, h http.Handler) { w.mux[strings.ToLower(host)] = h }

func (w *Web) serve(rw http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if h, ok := w.mux[strings.ToLower(host)]; ok {
		h.ServeHTTP(rw, r)
		return
	}
	http.NotFound(rw, r)
}

// Client is an HTTP client that trusts ca and sends every connection to
// this server, whatever port the URL names, after resolving the name with
// lookup (a Zone's resolver): a name that does not resolve fails as it
// would on the internet.
func (w *Web) Client(ca *CA, lookup func(ctx context.Context, host string) ([]string, error)) *http.Client {
	_, port, _ := net.SplitHostPort(w.addr)
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			ips, err := lookup(ctx, host)
			if err != nil {
				return nil, err
			}
			var nd net.Dialer
			return nd.DialContext(ctx, network, net.JoinHostPort(ips[0], port))
		},
		ForceAttemptHTTP2: false,
	}
	return &http.Client{Transport: tr}
}
