package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// resolve is the dns phase.
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
	rctx, cancel := context.WithTimeout(ctx, p.stageLimit())
	defer cancel()
	ipas, err := p.d.Resolve(rctx, p.t.Server)
	if err == nil && len(ipas) == 0 {
		err = &net.DNSError{Err: "no addresses", Name: p.t.Server, IsNotFound: true}
	}
	if err != nil {
		f := &failure{cause: CauseDNSFailure, err: err, timeout: isTimeout(rctx, err)}
		var de *net.DNSError
		switch {
		case errors.As(err, &de) && de.IsNotFound:
			f.detail = fmt.Sprintf("the name %s does not exist", p.t.Server)
		case f.timeout:
			f.detail = fmt.Sprintf("no answer from the name server for %s", p.t.Server)
		default:
			f.detail = fmt.Sprintf("could not look up %s: %s", p.t.Server, sanitize(err.Error(), 100))
		}
		record(&p.res.Phases, PhaseDNS, began, false, f.detail)
		return nil, f
	}
	ips := make([]net.IP, 0, len(ipas))
	for _, a := range ipas {
		ips = append(ips, a.IP)
	}
	record(&p.res.Phases, PhaseDNS, began, true, fmt.Sprintf("%s → %s", p.t.Server, plural(len(ips), "address", "addresses")))
	return ips, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
