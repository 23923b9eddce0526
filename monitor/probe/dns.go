package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// asciiHost returns a server name as DNS and TLS want it. A name with
// characters beyond ASCII (an internationalised domain name such as
// mäil.exämple.de) is converted with the IDNA lookup profile (UTS #46) to
// its ASCII form (xn--mil-qla.xn--exmple-cua.de); Go's resolver would call
// it non-existent without asking. ASCII names and IP literals are kept as
// written, so that names the resolver accepts today keep working (an
// underscore in an internal name, which IDNA forbids). The error says why
// a name is not a valid international name.
func asciiHost(name string) (string, error) {
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			return idna.Lookup.ToASCII(name)
		}
	}
	return name, nil
}

// hostLabel names the server for a person: as configured, with its ASCII
// form beside it when that differs ("mäil.exämple.de (xn--mil-qla...)").
func (p *prober) hostLabel() string {
	if p.host != "" && p.host != p.t.Server {
		return p.t.Server + " (" + p.host + ")"
	}
	return p.t.Server
}

// resolve is the dns phase. The lookup runs on the caller's goroutine with
// a context that ends with the stage, so it never outlives the probe.
func (p *prober) resolve(ctx context.Context) ([]net.IP, *failure) {
	began := time.Now()
	if ip := net.ParseIP(p.t.Server); ip != nil {
		record(&p.res.Phases, PhaseDNS, began, true, "IP address, no lookup needed")
		return []net.IP{ip}, nil
	}
	if p.t.Server == "" {
		record(&p.res.Phases, PhaseDNS, began, false, "no server name configured")
		return nil, &failure{cause: CauseDNSFailure, detail: "no server name configured"}
	}
	if p.hostErr != nil {
		detail := fmt.Sprintf("%s is not a valid international domain name (%s)", p.t.Server, sanitize(strings.TrimPrefix(p.hostErr.Error(), "idna: "), 80))
		record(&p.res.Phases, PhaseDNS, began, false, detail)
		return nil, &failure{cause: CauseDNSFailure, detail: detail, err: p.hostErr}
	}
	rctx, cancel := context.WithTimeout(ctx, p.stageLimit())
	defer cancel()
	ipas, err := p.d.Resolve(rctx, p.host)
	if err == nil && len(ipas) == 0 {
		err = &net.DNSError{Err: "no addresses", Name: p.host, IsNotFound: true}
	}
	if err != nil {
		f := &failure{cause: CauseDNSFailure, err: err, timeout: isTimeout(rctx, err)}
		var de *net.DNSError
		switch {
		case errors.As(err, &de) && de.IsNotFound:
			f.detail = fmt.Sprintf("the name %s does not exist", p.hostLabel())
		case f.timeout:
			f.detail = fmt.Sprintf("no answer from the name server for %s", p.hostLabel())
		default:
			f.detail = fmt.Sprintf("could not look up %s: %s", p.hostLabel(), sanitize(err.Error(), 100))
		}
		record(&p.res.Phases, PhaseDNS, began, false, f.detail)
		return nil, f
	}
	ips := make([]net.IP, 0, len(ipas))
	for _, a := range ipas {
		ips = append(ips, a.IP)
	}
	record(&p.res.Phases, PhaseDNS, began, true, fmt.Sprintf("%s → %s", p.hostLabel(), plural(len(ips), "address", "addresses")))
	return ips, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// lookupHost is the default ResolveFunc: net.DefaultResolver's LookupHost,
// which (unlike LookupIPAddr) does not hand the query to a shared
// background goroutine, so with Go's own resolver the lookup ends when ctx
// does, before Probe returns.
func lookupHost(ctx context.Context, host string) ([]net.IPAddr, error) {
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]net.IPAddr, 0, len(addrs))
	for _, a := range addrs {
		if ip, err := netip.ParseAddr(a); err == nil {
			out = append(out, net.IPAddr{IP: ip.AsSlice(), Zone: ip.Zone()})
		}
	}
	return out, nil
}
