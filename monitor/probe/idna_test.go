package probe_test

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

// A Unicode server name is looked up, and its certificate checked, in its
// ASCII (IDNA) form, and the report shows both forms.
func TestInternationalServerName(t *testing.T) {
	f := newFixture(t)
	const name, ascii = "mäil.exämple.test", "xn--mil-qla.xn--exmple-cua.test"
	dns := smtptest.StartDNS(t, map[string][]net.IP{ascii: {net.IPv4(127, 0, 0, 1)}})
	srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{DNSNames: []string{ascii}}), Users: users})
	tg := f.target(srv.Addr, probe.SecurityStartTLS)
	tg.Server = name
	d := f.deps()
	d.Resolve = dns.Resolver().LookupIPAddr
	r := probe.Probe(context.Background(), tg, d)
	if r.Cause != probe.CauseOK || !r.AuthVerified || r.TLS == nil || !r.TLS.Verified {
		t.Fatalf("cause %s (%s), tls %+v", r.Cause, r.Message, r.TLS)
	}
	if p, _ := r.Phase(probe.PhaseDNS); !strings.Contains(p.Detail, name+" ("+ascii+")") {
		t.Errorf("dns detail %q does not show both forms", p.Detail)
	}
	if r.Server != name {
		t.Errorf("server %q, want it as configured", r.Server)
	}

	// A certificate for another name is named against both forms too.
	other := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{DNSNames: []string{"other.example.test"}}), Users: users})
	tg = f.target(other.Addr, probe.SecurityStartTLS)
	tg.Server = name
	r = probe.Probe(context.Background(), tg, d)
	if r.Cause != probe.CauseCertificateHostMismatch || !strings.Contains(r.Message, ascii) {
		t.Errorf("cause %s: %s", r.Cause, r.Message)
	}
}

// A name that is not a valid international name is reported as such,
// without a lookup.
func TestInvalidInternationalServerName(t *testing.T) {
	f := newFixture(t)
	var lookups atomic.Int32
	d := f.deps()
	d.Resolve = func(ctx context.Context, host string) ([]net.IPAddr, error) {
		lookups.Add(1)
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	tg := f.target("127.0.0.1:587", probe.SecurityStartTLS)
	tg.Server = "-mäil.exämple.test"
	r := probe.Probe(context.Background(), tg, d)
	if r.Cause != probe.CauseDNSFailure || !strings.Contains(r.Message, "not a valid international domain name") {
		t.Errorf("cause %s: %s", r.Cause, r.Message)
	}
	if n := lookups.Load(); n != 0 {
		t.Errorf("%d lookups of an invalid name", n)
	}
}
