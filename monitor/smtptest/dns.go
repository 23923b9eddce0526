package smtptest

import (
	"context"
	"net"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// DNS is a small DNS server on loopback UDP for Go's own resolver. Names in
// Hosts answer with their addresses, names in Silent get no answer at all,
// every other name is NXDOMAIN.
type DNS struct {
	Hosts  map[string][]net.IP
	Silent map[string]bool
	pc     net.PacketConn
}

// StartDNS runs the server until the test ends.
func StartDNS(t testing.TB, hosts map[string][]net.IP, silent ...string) *DNS {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &DNS{Hosts: map[string][]net.IP{}, Silent: map[string]bool{}, pc: pc}
	for k, v := range hosts {
		d.Hosts[strings.ToLower(strings.TrimSuffix(k, "."))] = v
	}
	for _, s := range silent {
		d.Silent[strings.ToLower(s)] = true
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		d.serve()
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return d
}

// Resolver returns a resolver that asks only this server.
func (d *DNS) Resolver() *net.Resolver {
	addr := d.pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var nd net.Dialer
		return nd.DialContext(ctx, "udp", addr)
	}}
}

// LookupHost resolves host through this server with LookupHost, which
// runs the query on the caller's goroutine: it has the shape of
// probe.ResolveFunc and ends when ctx does.
func (d *DNS) LookupHost(ctx context.Context, host string) ([]net.IPAddr, error) {
	addrs, err := d.Resolver().LookupHost(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]net.IPAddr, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, net.IPAddr{IP: net.ParseIP(a)})
	}
	return out, nil
}

func (d *DNS) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(q.Name.String(), "."))
		if d.Silent[name] {
			continue
		}
		ips, known := d.Hosts[name]
		rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true}
		if !known {
			rh.RCode = dnsmessage.RCodeNameError
		}
		b := dnsmessage.NewBuilder(nil, rh)
		b.EnableCompression()
		_ = b.StartQuestions()
		_ = b.Question(q)
		_ = b.StartAnswers()
		for _, ip := range ips {
			rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
			if v4 := ip.To4(); v4 != nil && q.Type == dnsmessage.TypeA {
				_ = b.AResource(rr, dnsmessage.AResource{A: [4]byte(v4)})
			} else if v4 == nil && q.Type == dnsmessage.TypeAAAA {
				_ = b.AAAAResource(rr, dnsmessage.AAAAResource{AAAA: [16]byte(ip.To16())})
			}
		}
		msg, err := b.Finish()
		if err != nil {
			continue
		}
		_, _ = d.pc.WriteTo(msg, from)
	}
}
