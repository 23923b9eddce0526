package history

import (
	"context"
	"errors"
	"fmt"
	"time"

	"smtpwatch/monitor/probe"
)

// LatencyPhases are the phases whose times the history keeps in columns of
// their own, in pipeline order: the index of a phase here is its index in
// LatencyBucket's arrays.
var LatencyPhases = [NumLatencyPhases]string{
	probe.PhaseDNS, probe.PhaseConnect, probe.PhaseGreeting, probe.PhaseEHLO, probe.PhaseTLS, probe.PhaseAuth,
}

// NumLatencyPhases is len(LatencyPhases).
const NumLatencyPhases = 6

// phaseMillis is the whole milliseconds of each of LatencyPhases that ran
// and passed in r, as a column value: nil for a phase that did not run or
// failed, whose time (a timeout) says nothing of the server's speed.
func phaseMillis(r probe.Result) [NumLatencyPhases]any {
	var out [NumLatencyPhases]any
	for i, name := range LatencyPhases {
		if p, ok := r.Phase(name); ok && p.OK {
			out[i] = p.Duration.Milliseconds()
		}
	}
	return out
}

// LatencyBucket is how long each phase took over one stretch of time.
type LatencyBucket struct {
	// Start is the bucket's start; it lasts until the next bucket's.
	Start time.Time
	// Checks counts the checks in the bucket, offline ones aside.
	Checks int
	// Samples counts, per phase of LatencyPhases, the checks in which the
	// phase ran and passed; Mean and Max are the average and the longest
	// of their times, in whole milliseconds, and zero when Samples is 0.
	Samples   [NumLatencyPhases]int
	Mean, Max [NumLatencyPhases]time.Duration
}

// MaxLatencyBuckets bounds the buckets Latency gives.
const MaxLatencyBuckets = 2000

// Latency cuts [since, until) into n buckets of equal length and says, per
// bucket, how long each of LatencyPhases took in the account's checks
// (ignoring case in the name; checks made while this computer was offline
// are left out). It returns only the buckets that hold a check, oldest
// first. n must be 1..MaxLatencyBuckets and until after since.
//
// SQLite does the work on the results_phases index alone: no JSON and no
// table row is read, and memory grows with n, not with the checks.
func (s *Store) Latency(ctx context.Context, account string, since, until time.Time, n int) ([]LatencyBucket, error) {
	if n < 1 || n > MaxLatencyBuckets {
		return nil, fmt.Errorf("history latency: %d buckets, want 1 to %d", n, MaxLatencyBuckets)
	}
	span := until.Sub(since)
	if span <= 0 {
		return nil, errors.New("history latency: the period ends before it starts")
	}
	width := (span.Nanoseconds() + int64(n) - 1) / int64(n)
	rows, err := s.read.QueryContext(ctx, `SELECT (at - ?1) / ?2 AS b, COUNT(*),
			COUNT(dns_ms), AVG(dns_ms), MAX(dns_ms),
			COUNT(connect_ms), AVG(connect_ms), MAX(connect_ms),
			COUNT(greeting_ms), AVG(greeting_ms), MAX(greeting_ms),
			COUNT(ehlo_ms), AVG(ehlo_ms), MAX(ehlo_ms),
			COUNT(tls_ms), AVG(tls_ms), MAX(tls_ms),
			COUNT(auth_ms), AVG(auth_ms), MAX(auth_ms)
		FROM results INDEXED BY results_phases
		WHERE account = ?3 AND at >= ?1 AND at < ?4 AND status != 'offline'
		GROUP BY b ORDER BY b`, since.UnixNano(), width, account, until.UnixNano())
	if err != nil {
		return nil, fmt.Errorf("history latency of %s: %w", account, err)
	}
	var out []LatencyBucket
	err = scanAll(rows, func() error {
		var (
			b    int64
			lb   LatencyBucket
			mean [NumLatencyPhases]*float64
			most [NumLatencyPhases]*int64
		)
		dest := []any{&b, &lb.Checks}
		for i := range NumLatencyPhases {
			dest = append(dest, &lb.Samples[i], &mean[i], &most[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		lb.Start = since.Add(time.Duration(b * width))
		for i := range NumLatencyPhases {
			if mean[i] != nil {
				lb.Mean[i] = time.Duration(*mean[i] * float64(time.Millisecond))
			}
			if most[i] != nil {
				lb.Max[i] = time.Duration(*most[i]) * time.Millisecond
			}
		}
		out = append(out, lb)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history latency of %s: %w", account, err)
	}
	return out, nil
}
