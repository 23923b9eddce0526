//go:build linux

package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"smtpwatch/monitor/smtptest"
)

// server is a submission server on 127.0.0.1 for the benchmarks: go-smtp
// with STARTTLS (a certificate made in memory, from a CA made in memory)
// and AUTH PLAIN/LOGIN for one user. It accepts any envelope and discards
// any message.
type server struct {
	Addr  string
	Port  int
	CAPEM []byte         // the CA, for a config's ca_file
	Roots *x509.CertPool // the CA, for config.Account.RootCAs

	Sessions atomic.Int64 // sessions opened
	Logins   atomic.Int64 // AUTH exchanges that succeeded

	srv  *smtp.Server
	done chan struct{}
}

// startServer listens on a free loopback port. latency, when positive,
// delays every write of the server by that much, like a network round
// trip per reply: a check then takes about seven of them (greeting, EHLO,
// STARTTLS, the TLS handshake, EHLO, AUTH, QUIT).
func startServer(user, password string, latency time.Duration) (*server, error) {
	caPEM, cert, err := makeCerts()
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("smtpd: CA not parsed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("smtpd: %w", err)
	}
	s := &server{Addr: ln.Addr().String(), Port: ln.Addr().(*net.TCPAddr).Port, CAPEM: caPEM, Roots: roots,
		done: make(chan struct{})}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		s.Sessions.Add(1)
		return &session{s: s, user: user, password: password}, nil
	}))
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout = 30 * time.Second
	s.srv.WriteTimeout = 30 * time.Second
	s.srv.MaxRecipients = 10
	s.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	s.srv.ErrorLog = log.New(io.Discard, "", 0)
	var serveLn net.Listener = ln
	if latency > 0 {
		serveLn = slowListener{ln, latency}
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(serveLn)
	}()
	return s, nil
}

// Close stops accepting, ends the sessions (waiting up to 10 s for them)
// and returns once the server's goroutines are gone.
func (s *server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

// slowListener's connections wait before each write.
type slowListener struct {
	net.Listener
	latency time.Duration
}

func (l slowListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return slowConn{c, l.latency}, nil
}

type slowConn struct {
	net.Conn
	latency time.Duration
}

func (c slowConn) Write(p []byte) (int, error) {
	time.Sleep(c.latency) // simulated network delay; bounded by the flag
	return c.Conn.Write(p)
}

type session struct {
	s              *server
	user, password string
}

func (*session) Mail(string, *smtp.MailOptions) error { return nil }
func (*session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (*session) Data(r io.Reader) error {
	_, err := io.Copy(io.Discard, io.LimitReader(r, 1<<20))
	return err
}
func (*session) Reset()        {}
func (*session) Logout() error { return nil }

func (*session) AuthMechanisms() []string { return []string{sasl.Plain, sasl.Login} }

func (se *session) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != se.user || pass != se.password {
			return smtp.ErrAuthFailed
		}
		se.s.Logins.Add(1)
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return smtptest.NewLoginServer(check), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// makeCerts makes a CA and a certificate it signs for 127.0.0.1 and
// localhost, valid from an hour ago for 90 days (no certificate_expiring
// warning), all in memory.
func makeCerts() (caPEM []byte, leaf tls.Certificate, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, leaf, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtpwatch bench CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, leaf, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, leaf, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, leaf, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(90 * 24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, leaf, err
	}
	leaf = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), leaf, nil
}
