package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"time"
	"unicode"
)

// certError is a certificate problem found by verifyPeer. It aborts the
// handshake, so nothing — least of all AUTH — is ever sent over a
// connection whose certificate failed.
type certError struct {
	cause  Cause
	detail string
}

func (e *certError) Error() string { return e.detail }

// tlsConfig builds the client configuration for one connection.
//
// We verify the peer ourselves in VerifyConnection (InsecureSkipVerify only
// turns off crypto/tls's own check, whose single opaque error could not tell
// an expired certificate from a wrong host name or an antivirus re-signing
// the connection). verifyPeer is at least as strict: chain to the system
// roots or the account's CA file, host name, and validity dates, with dates
// judged by the injected clock. The name checked and sent is the ASCII
// form of an international name (see asciiHost), as certificates carry it.
// ServerName is set explicitly because we dial
// an IP address we resolved ourselves, and crypto/tls would otherwise send
// no SNI; servers hosting several names then present the wrong certificate.
func (p *prober) tlsConfig(info **TLSInfo) *tls.Config {
	return &tls.Config{
		ServerName:         p.host,
		InsecureSkipVerify: true, // replaced by verifyPeer, see above
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			ti, err := p.verifyPeer(cs)
			*info = ti
			return err
		},
	}
}

// verifyPeer describes and checks the server's certificate chain. It returns
// a *certError for any problem unless Target.TLSSkipVerify is set.
func (p *prober) verifyPeer(cs tls.ConnectionState) (*TLSInfo, error) {
	if len(cs.PeerCertificates) == 0 {
		return nil, &certError{CauseTLSHandshakeFailed, "the server sent no certificate"}
	}
	now := p.d.Clock.Now()
	leaf := cs.PeerCertificates[0]
	info := &TLSInfo{
		Version:     tls.VersionName(cs.Version),
		Cipher:      tls.CipherSuiteName(cs.CipherSuite),
		Subject:     nameOf(leaf.Subject.CommonName, leaf.Subject.Organization, leaf.DNSNames),
		Issuer:      nameOf(leaf.Issuer.CommonName, leaf.Issuer.Organization, nil),
		NotAfter:    leaf.NotAfter.UTC(),
		DaysLeft:    daysLeft(now, leaf.NotAfter),
		Interceptor: interceptor(cs.PeerCertificates),
	}
	if p.t.TLSSkipVerify {
		return info, nil
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, chainErr := leaf.Verify(x509.VerifyOptions{
		Roots:         p.t.RootCAs,
		Intermediates: inter,
		CurrentTime:   now,
		DNSName:       p.host,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if chainErr == nil {
		info.Verified = true
		return info, nil
	}
	// Order matters when several things are wrong: an interceptor explains an
	// untrusted chain; dates explain themselves (and a wrong clock breaks
	// every check); then the host name; then trust.
	var unknown x509.UnknownAuthorityError
	switch {
	case info.Interceptor != "" && errors.As(chainErr, &unknown):
		return info, &certError{CauseTLSIntercepted, fmt.Sprintf("certificate issued by %s, not by the mail provider", info.Interceptor)}
	case now.After(leaf.NotAfter):
		return info, &certError{CauseCertificateExpired, fmt.Sprintf("certificate expired %s", leaf.NotAfter.UTC().Format(time.DateOnly))}
	case now.Before(leaf.NotBefore):
		return info, &certError{CauseCertificateNotYetValid, fmt.Sprintf("certificate valid only from %s; this computer's clock says %s", leaf.NotBefore.UTC().Format(time.DateOnly), now.UTC().Format(time.DateOnly))}
	case leaf.VerifyHostname(p.host) != nil:
		return info, &certError{CauseCertificateHostMismatch, fmt.Sprintf("certificate is for %s, not %s", certNames(leaf), p.hostLabel())}
	}
	var invalid x509.CertificateInvalidError
	if errors.As(chainErr, &invalid) && invalid.Reason == x509.Expired {
		return info, &certError{CauseCertificateExpired, "a certificate in the chain has expired: " + invalid.Detail}
	}
	return info, &certError{CauseCertificateUntrusted, fmt.Sprintf("certificate issued by %s, which this computer does not trust", info.Issuer)}
}

func daysLeft(now, notAfter time.Time) int {
	return int(math.Floor(notAfter.Sub(now).Hours() / 24))
}

func nameOf(cn string, org, dns []string) string {
	switch {
	case cn != "" && len(org) > 0 && org[0] != cn:
		return cn + " (" + org[0] + ")"
	case cn != "":
		return cn
	case len(org) > 0:
		return org[0]
	case len(dns) > 0:
		return dns[0]
	}
	return "(no name)"
}

func certNames(c *x509.Certificate) string {
	names := append([]string(nil), c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 && c.Subject.CommonName != "" {
		names = []string{c.Subject.CommonName}
	}
	if len(names) > 3 {
		names = append(names[:3], "…")
	}
	return strings.Join(names, ", ")
}

// interceptors are security products known to re-sign TLS connections with
// their own certificate authority ("mail shield", "SSL filter", "HTTPS
// scanning"). Single words are matched as whole words of the issuer's names.
var interceptors = []struct{ match, name string }{
	{"avast", "Avast"}, {"avg", "AVG"}, {"eset", "ESET"}, {"kaspersky", "Kaspersky"},
	{"bitdefender", "Bitdefender"}, {"norton", "Norton"}, {"fortinet", "Fortinet"},
	{"fortigate", "Fortinet FortiGate"}, {"sophos", "Sophos"}, {"zscaler", "Zscaler"},
	{"mcafee", "McAfee"}, {"trend micro", "Trend Micro"}, {"netskope", "Netskope"},
	{"blue coat", "Blue Coat"}, {"bluecoat", "Blue Coat"}, {"watchguard", "WatchGuard"},
	{"untangle", "Untangle"}, {"webroot", "Webroot"}, {"f-secure", "F-Secure"},
	{"emsisoft", "Emsisoft"}, {"dr.web", "Dr.Web"}, {"palo alto networks", "Palo Alto Networks"},
	{"cisco umbrella", "Cisco Umbrella"}, {"check point", "Check Point"}, {"gdata", "G DATA"},
	{"g data", "G DATA"}, {"mail shield", "an antivirus mail shield"}, {"ssl filter", "an SSL filter"},
}

// interceptor names the product whose authority appears in the chain's
// issuer or subject names, or "" when none does.
func interceptor(chain []*x509.Certificate) string {
	for _, c := range chain {
		for _, n := range []string{c.Issuer.CommonName, c.Subject.CommonName} {
			if m := matchInterceptor(n); m != "" {
				return m
			}
		}
		for _, list := range [][]string{c.Issuer.Organization, c.Issuer.OrganizationalUnit} {
			for _, n := range list {
				if m := matchInterceptor(n); m != "" {
					return m
				}
			}
		}
	}
	return ""
}

func matchInterceptor(name string) string {
	if name == "" {
		return ""
	}
	low := strings.ToLower(name)
	words := strings.FieldsFunc(low, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '.' })
	for _, ic := range interceptors {
		if strings.Contains(ic.match, " ") {
			if strings.Contains(low, ic.match) {
				return name
			}
			continue
		}
		for _, w := range words {
			if w == ic.match {
				return name
			}
		}
	}
	return ""
}

// handshake runs the TLS handshake over w.raw within the deadline and, on
// success, switches w to the encrypted connection.
func (p *prober) handshake(ctx context.Context, w *wire, deadline time.Time) (*TLSInfo, *failure) {
	var info *TLSInfo
	tc := tls.Client(w.raw, p.tlsConfig(&info))
	hctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	_ = w.raw.SetDeadline(deadline)
	err := tc.HandshakeContext(hctx)
	_ = w.raw.SetDeadline(time.Time{})
	if err == nil {
		w.upgrade(tc)
		return info, nil
	}
	return info, classifyHandshake(ctx, err)
}

// classifyHandshake turns a handshake error into a failure.
func classifyHandshake(ctx context.Context, err error) *failure {
	var ce *certError
	var rh tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.As(err, &ce):
		return &failure{cause: ce.cause, detail: ce.detail, err: err}
	case errors.As(err, &rh):
		if looksLikeSMTP(rh.RecordHeader[:]) {
			return &failure{cause: CauseWrongTLSMode, detail: "the server answered in plaintext: " + sanitize(string(rh.RecordHeader[:]), 5) + "…", err: err}
		}
		return &failure{cause: CauseTLSHandshakeFailed, detail: "the server's answer is not TLS", err: err}
	case errors.As(err, &alert):
		return &failure{cause: CauseTLSHandshakeFailed, detail: "the server ended the TLS handshake: " + alertText(err), err: err}
	case isTimeout(ctx, err):
		return &failure{cause: CauseTLSHandshakeFailed, detail: "no answer to the TLS handshake", err: err, timeout: true}
	case isReset(err):
		return &failure{cause: CauseTLSHandshakeFailed, detail: "the server closed the connection during the TLS handshake", err: err, reset: true}
	}
	return &failure{cause: CauseTLSHandshakeFailed, detail: "TLS handshake failed: " + sanitize(err.Error(), 120), err: err}
}

func alertText(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "tls: "); i >= 0 {
		s = s[i+5:]
	}
	return sanitize(s, 80)
}

// looksLikeSMTP reports whether bytes read where TLS was expected are the
// start of an SMTP reply ("220 ", "554-").
func looksLikeSMTP(b []byte) bool {
	return len(b) >= 4 && b[0] >= '2' && b[0] <= '5' && b[1] >= '0' && b[1] <= '9' && b[2] >= '0' && b[2] <= '9' && (b[3] == ' ' || b[3] == '-')
}

// isTimeout reports whether err is a deadline, ours or the context's.
func isTimeout(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
