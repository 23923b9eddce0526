package probe

import (
	"context"
	"errors"
	"net"
	"smtpwatch/monitor/human"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type dialAttempt struct {
	addr string
	c    net.Conn
	err  error
}

// staggerDelay is how long one address gets before the next is tried in
// parallel (RFC 8305 "Happy Eyeballs" uses 250 ms).
const staggerDelay = 250 * time.Millisecond

// connect is the connect phase: it tries the addresses in order, starting the
// next while earlier attempts are still pending, and keeps the first that
// answers.
func (p *prober) connect(ctx context.Context, ips []net.IP, port int, ps *[]Phase) (net.Conn, string, *failure) {
	began := time.Now()
	cctx, cancel := context.WithTimeout(ctx, p.stageLimit())
	defer cancel()
	ch := make(chan dialAttempt, len(ips))
	next, pending := 0, 0
	launch := func() {
		addr := net.JoinHostPort(ips[next].String(), strconv.Itoa(port))
		next++
		pending++
		go func() {
			c, err := p.d.Dial(cctx, "tcp", addr)
			ch <- dialAttempt{addr, c, err}
		}()
	}
	launch()
	timer := time.NewTimer(staggerDelay)
	defer timer.Stop()
	var won *dialAttempt
	var fails []dialAttempt
	for pending > 0 {
		select {
		case a := <-ch:
			pending--
			switch {
			case a.err != nil:
				fails = append(fails, a)
			case won == nil:
				won = &a
				cancel() // abandon the other attempts
			default:
				a.c.Close()
			}
			if won == nil && pending == 0 && next < len(ips) {
				launch()
				timer.Reset(staggerDelay)
			}
		case <-timer.C:
			if won == nil && next < len(ips) {
				launch()
				timer.Reset(staggerDelay)
			}
		}
	}
	if won != nil {
		record(ps, PhaseConnect, began, true, won.addr)
		return won.c, won.addr, nil
	}
	f := classifyDial(cctx, fails, p.stageLimit())
	record(ps, PhaseConnect, began, false, f.detail)
	return nil, "", f
}

// classifyDial picks the most telling of several failed attempts: a refusal
// proves the host is there and the port closed; a timeout that something
// drops the packets; an unreachable network may mean we are offline.
func classifyDial(ctx context.Context, fails []dialAttempt, limit time.Duration) *failure {
	var parts []string
	refused, unreachable, reset := false, false, false
	var first error
	for _, a := range fails {
		what := "timed out after " + human.Duration(limit)
		switch {
		case errors.Is(a.err, syscall.ECONNREFUSED):
			refused = true
			what = "connection refused"
		case isReset(a.err):
			reset = true
			what = "connection reset as soon as it opened"
		case errors.Is(a.err, syscall.ENETUNREACH), errors.Is(a.err, syscall.EHOSTUNREACH), errors.Is(a.err, syscall.EADDRNOTAVAIL):
			unreachable = true
			what = "network unreachable"
		case isTimeout(ctx, a.err):
		default:
			what = sanitize(a.err.Error(), 80)
		}
		if first == nil {
			first = a.err
		}
		parts = append(parts, a.addr+": "+what)
	}
	detail := strings.Join(parts, "; ")
	switch {
	case refused:
		return &failure{cause: CauseConnectionRefused, detail: detail, err: first}
	case reset:
		return &failure{cause: CauseServiceUnavailable, detail: detail, err: first, reset: true}
	case unreachable:
		return &failure{cause: CauseConnectionTimeout, detail: detail, err: first, unreachable: true}
	}
	return &failure{cause: CauseConnectionTimeout, detail: detail, err: first, timeout: true}
}
