package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/history"
	"smtpwatch/monitor/probe"
)

// fillHistory records 30 days of one-minute checks of alpha (43,200, with
// every phase timed, one in 97 failing) and a change of state for each
// outage, ending now.
func fillHistory(b testing.TB, store *history.Store) {
	ctx := context.Background()
	now := time.Now()
	const n = 30 * 24 * 60
	start := now.Add(-n * time.Minute)
	state := health.OK
	for i := range n {
		at := start.Add(time.Duration(i) * time.Minute)
		r := probe.Result{Name: "alpha", Server: "127.0.0.1", Port: 587, Security: probe.SecurityStartTLS,
			Status: probe.StatusOK, Cause: probe.CauseOK, Message: "Sending works.", CheckedAt: at}
		for k, name := range history.LatencyPhases {
			d := time.Duration(5+(i*7+k*13)%40) * time.Millisecond
			r.Phases = append(r.Phases, probe.Phase{Name: name, OK: true, Duration: d, Detail: "ok"})
			r.Duration += d
		}
		failing := i%97 == 0
		if failing {
			r.Status, r.Cause, r.Phases = probe.StatusFailing, probe.CauseConnectionRefused, r.Phases[:1]
		}
		if err := store.RecordCheck(ctx, history.Check{Result: r, Auth: i%15 == 0}); err != nil {
			b.Fatal(err)
		}
		to := health.OK
		if failing {
			to = health.Failing
		}
		if to != state {
			kind := health.EventTransition
			if to == health.OK {
				kind = health.EventRecovery
			}
			if err := store.RecordEvent(ctx, health.Event{Kind: kind, Account: "alpha", From: state, To: to, Cause: r.Cause, At: at,
				Message: "The server refused the connection."}); err != nil {
				b.Fatal(err)
			}
			state = to
		}
	}
}

// BenchmarkAccountPage30Days is the account page of an account checked
// every minute for 30 days, with the 30-day charts: the whole request, as
// a browser makes it. The budget is 200 ms.
func BenchmarkAccountPage30Days(b *testing.B) {
	bd := newBed(b)
	fillHistory(b, bd.store)
	c := bd.login()
	get := func() int {
		resp, err := c.Get(bd.base + "/account/alpha?range=30d")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != http.StatusOK {
		b.Fatalf("account page: %d", code)
	}
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		get()
		n++
	}
	per := time.Since(start) / time.Duration(max(n, 1))
	b.ReportMetric(float64(per.Microseconds())/1000, "ms/page")
	fmt.Printf("account page, 30 days of one-minute checks (43,200), 30-day charts: %.1f ms per page (budget 200 ms)\n",
		float64(per.Microseconds())/1000)
}
