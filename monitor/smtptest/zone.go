package smtptest

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Zone is a DNS server on loopback UDP (github.com/miekg/dns) that answers
// from records written as in a zone file ("example.test. 60 IN MX 10
// mx.example.test."): MX, SRV, A, AAAA, anything dns.NewRR reads. A name
// with records of other types answers with no records (NODATA); an
// unknown name is NXDOMAIN. Names in ServFail answer SERVFAIL, names in
// Silent never answer. It records every question it was asked.
type Zone struct {
	mu       sync.Mutex
	records  map[string][]dns.RR // lower-case FQDN → records
	servFail map[string]bool
	silent   map[string]bool
	asked    []string // "name TYPE"
	server   *dns.Server
	addr     string
}

// StartZone runs a zone server on addr ("127.0.0.1:0" for any port; as
// root, "127.0.0.53:53" for /etc/resolv.conf) until the test ends.
func StartZone(t testing.TB, addr string, records ...string) *Zone {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	z := &Zone{records: map[string][]dns.RR{}, servFail: map[string]bool{}, silent: map[string]bool{}, addr: pc.LocalAddr().String()}
	for _, r := range records {
		z.Add(t, r)
	}
	started := make(chan struct{})
	z.server = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(z.serve), NotifyStartedFunc: func() { close(started) }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = z.server.ActivateAndServe()
	}()
	<-started
	t.Cleanup(func() {
		_ = z.server.Shutdown()
		<-done
	})
	return z
}

// Addr is the server's host:port.
func (z *Zone) Addr() string { return z.addr }

// Add adds a record written as in a zone file.
func (z *Zone) Add(t testing.TB, record string) {
	t.Helper()
	rr, err := dns.NewRR(record)
	if err != nil || rr == nil {
		t.Fatalf("zone record %q: %v", record, err)
	}
	name := strings.ToLower(rr.Header().Name)
	z.mu.Lock()
	z.records[name] = append(z.records[name], rr)
	z.mu.Unlock()
}

// ServFail makes the server answer SERVFAIL for name (any type).
func (z *Zone) ServFail(name string) {
	z.mu.Lock()
	z.servFail[dns.Fqdn(strings.ToLower(name))] = true
	z.mu.Unlock()
}

// Silence makes the server never answer for name.
func (z *Zone) Silence(name string) {
	z.mu.Lock()
	z.silent[dns.Fqdn(strings.ToLower(name))] = true
	z.mu.Unlock()
}

// Asked lists the questions asked so far, as "name TYPE".
func (z *Zone) Asked() []string {
	z.mu.Lock()
	defer z.mu.Unlock()
	return append([]string(nil), z.asked...)
}

// Resolver returns a resolver that asks only this server.
func (z *Zone) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var nd net.Dialer
		return nd.DialContext(ctx, "udp", z.addr)
	}}
}

func (z *Zone) serve(w dns.ResponseWriter, r *dns.Msg) {
	if len(r.Question) != 1 {
		dns.HandleFailed(w, r)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	z.mu.Lock()
	z.asked = append(z.asked, strings.TrimSuffix(name, ".")+" "+dns.TypeToString[q.Qtype])
	silent, fail := z.silent[name], z.servFail[name]
	rrs, known := z.records[name]
	z.mu.Unlock()
	if silent {
		return
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	switch {
	case fail:
		m.Rcode = dns.RcodeServerFailure
	case !known:
		m.Rcode = dns.RcodeNameError
	default:
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	_ = w.WriteMsg(m)
}
