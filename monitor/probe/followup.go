package probe

import (
	"context"
	"fmt"
	"time"
)

// onlineCheckLimit bounds the reference-target check.
const onlineCheckLimit = 3 * time.Second

// followUp adds what a failure alone cannot tell: whether this computer is
// online at all, and whether another port or mode would work.
func (p *prober) followUp(ctx context.Context, f *failure) *failure {
	if f == nil {
		return nil
	}
	if f.unreachable || f.cause == CauseDNSFailure || f.cause == CauseConnectionTimeout {
		if !p.online(ctx) {
			return &failure{cause: CauseOffline, detail: "no network: neither " + p.t.Server + " nor any reference site can be reached", err: f.err}
		}
	}
	switch f.cause {
	case CauseConnectionTimeout, CauseConnectionRefused, CauseGreetingTimeout, CauseSTARTTLSUnsupported,
		CauseTLSHandshakeFailed, CauseWrongTLSMode, CausePlaintextAuthRefused, CauseAuthUnsupported:
		if f.suggestion == nil && len(p.ips) > 0 {
			f.suggestion = p.alternative(ctx)
		}
	}
	return f
}

// online reports whether any reference target accepts a connection. A
// refusal does not count: reference targets are listeners known to accept,
// so a refusal comes from something local (a firewall, a network that
// rejects everything) rather than from them.
func (p *prober) online(ctx context.Context) bool {
	targets := p.d.OnlineTargets
	if len(targets) == 0 {
		return true
	}
	octx, cancel := context.WithTimeout(ctx, onlineCheckLimit)
	defer cancel()
	ch := make(chan bool, len(targets))
	for _, t := range targets {
		go func() {
			c, err := p.d.Dial(octx, "tcp", t)
			if err == nil {
				c.Close()
			}
			ch <- err == nil
		}()
	}
	up := false
	for range targets {
		if <-ch && !up {
			up = true
			cancel() // the rest may stop
		}
	}
	return up
}

// alternative tries the other submission ports and modes in parallel and
// returns the most preferred one that reaches a verified, greeted session.
// It waits for all of them or the end of the budget.
func (p *prober) alternative(ctx context.Context) *Suggestion {
	type outcome struct {
		i  int
		ok bool
	}
	var cands []Alternative
	for _, a := range p.d.Alternatives {
		if a.Port == p.t.Port && (a.Security == p.t.Security || p.t.Security == SecurityAuto) {
			continue
		}
		cands = append(cands, a)
	}
	if len(cands) == 0 {
		return nil
	}
	ch := make(chan outcome, len(cands))
	for i, a := range cands {
		go func() {
			var ps []Phase
			s, f := p.open(ctx, p.ips, a.Port, a.Security, &ps)
			if s != nil {
				if f == nil {
					s.quit(ctx)
				}
				s.close()
			}
			ch <- outcome{i, f == nil}
		}()
	}
	ok := make([]bool, len(cands))
	for range cands {
		o := <-ch
		ok[o.i] = o.ok
	}
	for i, a := range cands {
		if ok[i] {
			return &Suggestion{Port: a.Port, Security: a.Security}
		}
	}
	p.d.Logger.Debug("no alternative port works", "server", p.t.Server, "tried", fmt.Sprint(cands))
	return nil
}
