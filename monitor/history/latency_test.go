package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/probe"
)

// phased is a check whose phases took the given times; a negative time
// is a phase that failed.
func phased(name string, at time.Time, ms ...int) probe.Result {
	r := result(name, at, probe.CauseOK, 0)
	for i, m := range ms {
		p := probe.Phase{Name: LatencyPhases[i], OK: m >= 0, Duration: time.Duration(max(m, 0)) * time.Millisecond}
		if m < 0 {
			p.Duration = 30 * time.Second // a timeout, not a latency
			r.Status, r.Cause = probe.StatusFailing, probe.CauseConnectionTimeout
		}
		r.Phases = append(r.Phases, p)
		r.Duration += p.Duration
	}
	return r
}

// Latency puts each check in its bucket and averages each phase over the
// checks in which it passed: a failed phase (a timeout), a phase that did
// not run and a check made offline count in no average.
func TestLatencyBuckets(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	rec := func(r probe.Result) {
		t.Helper()
		if err := s.Record(ctx, r, false); err != nil {
			t.Fatal(err)
		}
	}
	// Bucket 0 (base..base+1h): two checks.
	rec(phased("Work", base.Add(10*time.Minute), 10, 20, 30, 5, 40, 100))
	rec(phased("work", base.Add(20*time.Minute), 30, 40, 50, 7, 60))        // no auth phase
	rec(phased("work", base.Add(30*time.Minute), 1000, -1))                 // connect timed out
	off := phased("work", base.Add(40*time.Minute), 9999, 9999, 9999, 9999) // made offline
	off.Status, off.Cause = probe.StatusOffline, probe.CauseOffline
	rec(off)
	// Bucket 2 (base+2h..base+3h): one check. Bucket 1 has none.
	rec(phased("work", base.Add(150*time.Minute), 1, 2, 3, 4, 5, 6))
	// Another account and a check outside the period.
	rec(phased("other", base.Add(10*time.Minute), 500, 500, 500, 500, 500, 500))
	rec(phased("work", base.Add(5*time.Hour), 500, 500, 500, 500, 500, 500))

	got, err := s.Latency(ctx, "WORK", base, base.Add(3*time.Hour), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d buckets, want the 2 that hold checks: %+v", len(got), got)
	}
	b0, b2 := got[0], got[1]
	if !b0.Start.Equal(base) || !b2.Start.Equal(base.Add(2*time.Hour)) {
		t.Errorf("bucket starts %v and %v", b0.Start, b2.Start)
	}
	if b0.Checks != 3 || b2.Checks != 1 {
		t.Errorf("checks %d and %d, want 3 (the offline one aside) and 1", b0.Checks, b2.Checks)
	}
	ms := time.Millisecond
	wantSamples := [NumLatencyPhases]int{3, 2, 2, 2, 2, 1}
	wantMean := [NumLatencyPhases]time.Duration{(10 + 30 + 1000) * ms / 3, 30 * ms, 40 * ms, 6 * ms, 50 * ms, 100 * ms}
	wantMax := [NumLatencyPhases]time.Duration{1000 * ms, 40 * ms, 50 * ms, 7 * ms, 60 * ms, 100 * ms}
	if b0.Samples != wantSamples || b0.Max != wantMax {
		t.Errorf("bucket 0: samples %v max %v; want %v and %v", b0.Samples, b0.Max, wantSamples, wantMax)
	}
	for i := range NumLatencyPhases {
		if d := b0.Mean[i] - wantMean[i]; d < -time.Microsecond || d > time.Microsecond {
			t.Errorf("bucket 0, %s: mean %v, want %v", LatencyPhases[i], b0.Mean[i], wantMean[i])
		}
	}
	if b2.Mean[5] != 6*ms || b2.Samples[5] != 1 {
		t.Errorf("bucket 2: %+v", b2)
	}

	if _, err := s.Latency(ctx, "work", base, base, 3); err == nil {
		t.Error("an empty period was accepted")
	}
	if _, err := s.Latency(ctx, "work", base, base.Add(time.Hour), MaxLatencyBuckets+1); err == nil {
		t.Error("too many buckets were accepted")
	}
}

// Latency reads the index alone; SQLite says how it runs the query.
func TestLatencyUsesCoveringIndex(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	rows, err := s.read.QueryContext(ctx, `EXPLAIN QUERY PLAN SELECT (at - ?1) / ?2 AS b, COUNT(*), COUNT(dns_ms), AVG(dns_ms),
		MAX(auth_ms) FROM results INDEXED BY results_phases WHERE account = ?3 AND at >= ?1 AND at < ?4 AND status != 'offline'
		GROUP BY b ORDER BY b`, 0, 1, "a", 10)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	if err := scanAll(rows, func() error {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return err
		}
		plan = append(plan, detail)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(plan, "\n"), "USING COVERING INDEX results_phases (account=? AND at>? AND at<?)") {
		t.Errorf("the query does not run on the covering index alone:\n%s", strings.Join(plan, "\n"))
	}
}

// A v2 database gets the phase columns filled from each row's JSON when
// it is upgraded, so that the charts cover the history recorded before.
func TestMigrateV2FillsPhases(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "history.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_version (version INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := db.ExecContext(ctx, migrations[i]); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, i+1); err != nil {
			t.Fatal(err)
		}
	}
	r := phased("a", base.Add(time.Minute), 12, 34, 56, 7, -1)
	blob, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO results (account, at, status, cause, duration_ms, auth, result)
		VALUES ('a', ?, 'failing', 'connection_timeout', 5, 0, ?)`, r.CheckedAt.UnixNano(), string(blob)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Latency(ctx, "a", base, base.Add(time.Hour), 1)
	if err != nil || len(got) != 1 {
		t.Fatalf("%+v, %v", got, err)
	}
	ms := time.Millisecond
	if want := [NumLatencyPhases]time.Duration{12 * ms, 34 * ms, 56 * ms, 7 * ms}; got[0].Max != want ||
		got[0].Samples != [NumLatencyPhases]int{1, 1, 1, 1, 0, 0} {
		t.Errorf("after the upgrade: max %v samples %v; want %v and no tls (it failed) or auth (it did not run)",
			got[0].Max, got[0].Samples, want)
	}
}
