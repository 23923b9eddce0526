package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

var base = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "history.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s, path
}

// result is a small result of the given verdict.
func result(name string, at time.Time, cause probe.Cause, d time.Duration) probe.Result {
	return probe.Result{
		Name: name, Server: "mail.example.net", Port: 587, Security: probe.SecurityStartTLS,
		Status: cause.Status(), Cause: cause, Message: string(cause), CheckedAt: at, Duration: d,
	}
}

// fullResult has every field set, to prove the JSON form comes back whole.
func fullResult(name string, at time.Time) probe.Result {
	return probe.Result{
		Name: name, Provider: "Charter", Server: "mobile.charter.net", Port: 587,
		Security: probe.SecurityAuto, Detected: probe.SecurityStartTLS,
		Status: probe.StatusFailing, Cause: probe.CauseAuthRejected,
		Message:  "The server rejected the user name or password.",
		Advice:   []string{"Check the password.", "Reset it on the provider's site."},
		Warnings: []probe.Finding{{Cause: probe.CauseCertificateExpiring, Message: "expires in 9 days"}},
		Notes:    []string{"tls_skip_verify is on"},
		SMTP:     &probe.Reply{Code: 535, EnhancedCode: "5.7.8", Message: "authentication failed"},
		Phases: []probe.Phase{
			{Name: probe.PhaseDNS, OK: true, Duration: 12 * time.Millisecond, Detail: "2 addresses"},
			{Name: probe.PhaseAuth, OK: false, Duration: 340 * time.Millisecond, Detail: "535 5.7.8"},
		},
		TLS: &probe.TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", Verified: true,
			Subject: "CN=mobile.charter.net", Issuer: "CN=R11", NotAfter: base.Add(9 * 24 * time.Hour), DaysLeft: 9},
		Suggestion: &probe.Suggestion{Port: 465, Security: probe.SecurityTLS},
		CheckedAt:  at,
		Duration:   420 * time.Millisecond,
	}
}

// sameJSON fails unless a and b have the same JSON form.
func sameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func TestOpenCreatesPrivateWALDatabase(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	if err := s.Record(ctx, result("a", base, probe.CauseOK, time.Millisecond), false); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]fs.FileMode{filepath.Dir(path): 0o700 | fs.ModeDir, path: 0o600, path + "-wal": 0o600} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != want {
				t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
			}
		}
	}
	var mode string
	var sync, autoVacuum int
	if err := s.write.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := s.write.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if err := s.write.QueryRowContext(ctx, `PRAGMA auto_vacuum`).Scan(&autoVacuum); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 1 || autoVacuum != 2 {
		t.Errorf("journal_mode %s, synchronous %d, auto_vacuum %d; want wal, 1 (NORMAL), 2 (INCREMENTAL)", mode, sync, autoVacuum)
	}
	// Reopening migrates nothing twice.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	*s = *s2 // for openTemp's cleanup
	var rows, v int
	if err := s2.read.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_version`).Scan(&rows, &v); err != nil {
		t.Fatal(err)
	}
	if rows != len(migrations) || v != len(migrations) {
		t.Errorf("schema_version: %d rows, version %d; want one row per version, up to %d", rows, v, len(migrations))
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	if _, err := s.write.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (99)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, path); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Open: %v, want ErrNewerSchema", err)
	}
	if _, err := OpenReadOnly(ctx, path); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("OpenReadOnly: %v, want ErrNewerSchema", err)
	}
}

func TestOpenReadOnlyWithoutHistory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	missing := filepath.Join(dir, "history.db")
	if _, err := OpenReadOnly(ctx, missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReadOnly created the file: %v", err)
	}
	// A daemon killed between creating the file and creating the schema.
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReadOnly(ctx, empty); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty file: %v, want fs.ErrNotExist", err)
	}
}

func TestReadOnlyStoreRefusesWrites(t *testing.T) {
	ctx := context.Background()
	_, path := openTemp(t)
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Record(ctx, result("a", base, probe.CauseOK, 0), false); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Record: %v", err)
	}
	if err := ro.RecordEvent(ctx, health.Event{Account: "a", At: base}); !errors.Is(err, ErrReadOnly) {
		t.Errorf("RecordEvent: %v", err)
	}
	if _, err := ro.Prune(ctx, base); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Prune: %v", err)
	}
	// Not even SQL can write through it.
	if _, err := ro.read.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (7)`); err == nil {
		t.Error("a read-only connection wrote")
	}
}

func TestRecordRejectsIncompleteInput(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if err := s.Record(ctx, result("", base, probe.CauseOK, 0), false); err == nil {
		t.Error("Record accepted a result without a name")
	}
	if err := s.Record(ctx, result("a", time.Time{}, probe.CauseOK, 0), false); err == nil {
		t.Error("Record accepted a result without a time")
	}
	if err := s.RecordEvent(ctx, health.Event{Account: "a"}); err == nil {
		t.Error("RecordEvent accepted an event without a time")
	}
}

func TestLastResultsRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	if got, err := s.LastResults(ctx); err != nil || len(got) != 0 {
		t.Fatalf("empty history: %v, %v", got, err)
	}
	charter := fullResult("charter", base.Add(time.Minute))
	tie := result("gmail", base.Add(2*time.Minute), probe.CauseSlowResponse, 3*time.Second)
	for _, r := range []probe.Result{
		result("charter", base, probe.CauseOK, time.Millisecond),
		charter,
		result("charter", base.Add(-time.Hour), probe.CauseOK, time.Millisecond), // late but older
		result("gmail", base.Add(2*time.Minute), probe.CauseOK, time.Millisecond),
		tie, // same time: the last recorded wins
	} {
		if err := s.Record(ctx, r, r.Name == "charter"); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.LastResults(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("LastResults has %d accounts, want 2: %v", len(got), got)
	}
	sameJSON(t, "charter", got["charter"], charter)
	sameJSON(t, "gmail", got["gmail"], tie)

	var auth int
	if err := s.read.QueryRowContext(ctx, `SELECT auth FROM results WHERE account = 'charter' AND cause = 'auth_rejected'`).Scan(&auth); err != nil || auth != 1 {
		t.Errorf("auth flag: %d, %v", auth, err)
	}

	// ResultAt: the one that explains a moment.
	r, ok, err := s.ResultAt(ctx, "Charter", base.Add(90*time.Second))
	if err != nil || !ok {
		t.Fatalf("ResultAt: %v, %v", ok, err)
	}
	sameJSON(t, "ResultAt", r, charter)
	if _, ok, err := s.ResultAt(ctx, "charter", base.Add(-2*time.Hour)); ok || err != nil {
		t.Errorf("ResultAt before any result: %v, %v", ok, err)
	}
}

func TestEventsFilterByAccountAndTime(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	ev := func(acct string, min int, from, to health.State, cause probe.Cause) health.Event {
		kind := health.EventTransition
		if to == health.OK && (from == health.Failing || from == health.Offline) {
			kind = health.EventRecovery
		}
		return health.Event{Kind: kind, Account: acct, Provider: "P " + acct, From: from, To: to, Cause: cause,
			Message: "m", Advice: []string{"do this"}, At: base.Add(time.Duration(min) * time.Minute).In(time.FixedZone("X", 3600))}
	}
	a1 := ev("a", 1, health.Starting, health.OK, probe.CauseOK)
	a2 := ev("a", 10, health.OK, health.Failing, probe.CauseAuthRejected)
	a3 := ev("a", 20, health.Failing, health.OK, probe.CauseOK)
	b1 := ev("b", 5, health.Starting, health.Offline, probe.CauseOffline)
	b2 := ev("b", 15, health.Offline, health.OK, probe.CauseOK)
	for _, e := range []health.Event{a3, b1, a1, b2, a2} { // recorded out of order
		if err := s.RecordEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		account string
		since   time.Time
		want    []health.Event
	}{
		{"all", "", time.Time{}, []health.Event{a1, b1, a2, b2, a3}},
		{"one account", "a", time.Time{}, []health.Event{a1, a2, a3}},
		{"ignoring case", "B", time.Time{}, []health.Event{b1, b2}},
		{"since, inclusive", "", base.Add(10 * time.Minute), []health.Event{a2, b2, a3}},
		{"account and since", "b", base.Add(6 * time.Minute), []health.Event{b2}},
		{"unknown account", "c", time.Time{}, nil},
		{"nothing since", "", base.Add(time.Hour), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Events(ctx, tc.account, tc.since)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			sameJSON(t, "events", got, tc.want)
			for i := range got {
				if i < len(tc.want) && !got[i].At.Equal(tc.want[i].At) {
					t.Errorf("event %d at %v, want %v", i, got[i].At, tc.want[i].At)
				}
			}
		})
	}
}

func TestSummaries(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	var rs []probe.Result
	at := base
	next := func() time.Time { at = at.Add(time.Second); return at }
	// a: 100 working probes taking 1..100 ms (ok and degraded), 5
	// failures, 10 offline checks (the newest of all), and old rows
	// before the window.
	for i := 1; i <= 100; i++ {
		c := probe.CauseOK
		if i%7 == 0 {
			c = probe.CauseCertificateExpiring
		}
		rs = append(rs, result("a", next(), c, time.Duration(i)*time.Millisecond))
	}
	for _, c := range []probe.Cause{probe.CauseAuthRejected, probe.CauseAuthRejected, probe.CauseAuthRejected, probe.CauseDNSFailure, probe.CauseDNSFailure} {
		rs = append(rs, result("a", next(), c, 9*time.Second))
	}
	for range 10 {
		rs = append(rs, result("a", next(), probe.CauseOffline, 5*time.Second))
	}
	lastA := at
	for range 20 {
		rs = append(rs, result("a", base.Add(-time.Hour), probe.CauseConnectionTimeout, time.Hour))
	}
	// b: ten working probes, 10..100 ms.
	for i := 1; i <= 10; i++ {
		rs = append(rs, result("b", next(), probe.CauseOK, time.Duration(i*10)*time.Millisecond))
	}
	lastB := at
	// c: only ever offline.
	for range 3 {
		rs = append(rs, result("c", next(), probe.CauseOffline, time.Second))
	}
	lastC := at
	// d: one working probe.
	rs = append(rs, result("d", next(), probe.CauseOK, 7*time.Millisecond))
	rand.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
	for _, r := range rs {
		if err := s.Record(ctx, r, false); err != nil {
			t.Fatal(err)
		}
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	want := map[string]Summary{
		// No events: no verdict, so no uptime; the checks still count.
		"a": {Account: "a", Probes: 105, Working: 100, Offline: 10,
			P50: ms(50), P95: ms(95), P99: ms(99), LastAt: lastA,
			Failures: map[probe.Cause]int{probe.CauseAuthRejected: 3, probe.CauseDNSFailure: 2}},
		// n = 10: ranks ceil(5) = 5, ceil(9.5) = 10, ceil(9.9) = 10.
		"b": {Account: "b", Probes: 10, Working: 10, P50: ms(50), P95: ms(100), P99: ms(100), LastAt: lastB},
		"c": {Account: "c", Offline: 3, LastAt: lastC},
		"d": {Account: "d", Probes: 1, Working: 1, P50: ms(7), P95: ms(7), P99: ms(7), LastAt: at},
	}
	got, err := s.Summaries(ctx, "", base)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d summaries, want 4: %+v", len(got), got)
	}
	for i, name := range []string{"a", "b", "c", "d"} {
		if got[i].Account != name {
			t.Errorf("summary %d is %q, want %q (sorted by name)", i, got[i].Account, name)
			continue
		}
		checkSummary(t, got[i], want[name])
	}

	// One account, named in another case.
	one, err := s.Summaries(ctx, "A", base)
	if err != nil {
		t.Fatal(err)
	}
	if len(one) != 1 {
		t.Fatalf("Summaries(A): %+v", one)
	}
	checkSummary(t, one[0], want["a"])

	// All history: a's old timeouts count.
	all, err := s.Summaries(ctx, "a", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0].Probes != 125 || all[0].Failures[probe.CauseConnectionTimeout] != 20 || all[0].P99 != ms(99) {
		t.Errorf("Summaries(a, all time): %+v", all)
	}

	// Nothing since: no summaries.
	none, err := s.Summaries(ctx, "", at.Add(time.Second))
	if err != nil || len(none) != 0 {
		t.Errorf("Summaries after the last check: %+v, %v", none, err)
	}
}

func checkSummary(t *testing.T, got, want Summary) {
	t.Helper()
	if !got.LastAt.Equal(want.LastAt) {
		t.Errorf("%s: LastAt %v, want %v", want.Account, got.LastAt, want.LastAt)
	}
	got.LastAt, want.LastAt = time.Time{}, time.Time{}
	if fmt.Sprint(got) != fmt.Sprint(want) || got.Uptime != want.Uptime {
		t.Errorf("%s:\n got %+v\nwant %+v", want.Account, got, want)
	}
}

func TestSummaryJSON(t *testing.T) {
	sm := Summary{Account: "a", Probes: 4, Working: 3, Offline: 1, Uptime: 75, TimeWorking: 3 * time.Hour, TimeFailing: time.Hour,
		P50: 180 * time.Millisecond,
		P95: 420 * time.Millisecond, P99: 1200 * time.Millisecond, LastAt: base,
		Failures: map[probe.Cause]int{probe.CauseAuthRejected: 1}}
	b, err := json.Marshal(sm)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"account":"a","probes":4,"working":3,"offline":1,"time_working_ms":10800000,"time_failing_ms":3600000,"uptime_percent":75,"p50_ms":180,"p95_ms":420,"p99_ms":1200,"last_at":"2026-11-28T12:00:00Z","failures":{"auth_rejected":1}}`
	if string(b) != want {
		t.Errorf("JSON:\n got %s\nwant %s", b, want)
	}
	var back Summary
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	checkSummary(t, back, sm)
	if b, _ := json.Marshal(Summary{}); !json.Valid(b) || !strings.Contains(string(b), `"failures":{}`) {
		t.Errorf("no failures: %s", b)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	for i := range 10 {
		at := base.Add(time.Duration(i) * time.Hour)
		if err := s.Record(ctx, result("a", at, probe.CauseOK, time.Millisecond), false); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordEvent(ctx, health.Event{Kind: health.EventTransition, Account: "a", At: at}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.Prune(ctx, base.Add(4*time.Hour)) // hours 0..3 go
	if err != nil || n != 8 {
		t.Fatalf("Prune: %d, %v; want 8 (4 results, 4 events)", n, err)
	}
	if n, err := s.Prune(ctx, base.Add(4*time.Hour)); err != nil || n != 0 {
		t.Errorf("second Prune: %d, %v; want 0", n, err)
	}
	sums, err := s.Summaries(ctx, "", time.Time{})
	if err != nil || len(sums) != 1 || sums[0].Probes != 6 {
		t.Errorf("after Prune: %+v, %v", sums, err)
	}
	evs, err := s.Events(ctx, "", time.Time{})
	if err != nil || len(evs) != 6 || !evs[0].At.Equal(base.Add(4*time.Hour)) {
		t.Errorf("events after Prune: %d, %v", len(evs), err)
	}
}

// TestPruneLarge deletes more than one batch and gives pages back.
func TestPruneLarge(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	blob, err := json.Marshal(fullResult("bulk", base))
	if err != nil {
		t.Fatal(err)
	}
	const rows = pruneBatch + 123
	// Bulk insert in SQL: Record one by one would only make the test slow.
	if _, err := s.write.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ?)
		INSERT INTO results (account, at, status, cause, duration_ms, auth, result)
		SELECT 'bulk', ? + i, 'ok', 'ok', 1, 0, ? FROM n`, rows, base.UnixNano(), string(blob)); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, result("bulk", base.Add(time.Hour), probe.CauseOK, time.Millisecond), false); err != nil {
		t.Fatal(err)
	}
	pages := func() (count, free int) {
		t.Helper()
		if err := s.write.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if err := s.write.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil {
			t.Fatal(err)
		}
		return count, free
	}
	before, _ := pages()
	n, err := s.Prune(ctx, base.Add(time.Minute))
	if err != nil || n != rows {
		t.Fatalf("Prune: %d, %v; want %d", n, err, rows)
	}
	after, free := pages()
	// Some pages go back to the file system, not all at once: the vacuum
	// is bounded (vacuumPages, plus the pointer-map pages that go with them).
	if after >= before || free == 0 {
		t.Errorf("page count %d → %d, %d free: want it to shrink, with free pages left", before, after, free)
	}
	if last, err := s.LastResults(ctx); err != nil || len(last) != 1 {
		t.Errorf("the newest result did not survive: %v, %v", last, err)
	}
}

func TestConcurrentWritesAndReads(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	ro, err := OpenReadOnly(ctx, path) // another "process" reading along
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	const writers, each = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers+2)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				at := base.Add(time.Duration(w*each+i) * time.Millisecond)
				if err := s.Record(ctx, result(fmt.Sprintf("acct%d", w%3), at, probe.CauseOK, time.Millisecond), false); err != nil {
					errs <- err
					return
				}
				if i%10 == 0 {
					if err := s.RecordEvent(ctx, health.Event{Account: "x", At: at}); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	for _, st := range []*Store{s, ro} {
		wg.Go(func() {
			for range 20 {
				if _, err := st.Summaries(ctx, "", time.Time{}); err != nil {
					errs <- err
					return
				}
				if _, err := st.LastResults(ctx); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sums, err := ro.Summaries(ctx, "", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, sm := range sums {
		total += sm.Probes
	}
	if total != writers*each {
		t.Errorf("the read-only store sees %d results, want %d", total, writers*each)
	}
}

func TestContextBoundsCalls(t *testing.T) {
	s, _ := openTemp(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Record(ctx, result("a", base, probe.CauseOK, 0), false); !errors.Is(err, context.Canceled) {
		t.Errorf("Record: %v", err)
	}
	if _, err := s.Summaries(ctx, "", time.Time{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Summaries: %v", err)
	}
	if _, err := s.Prune(ctx, base); !errors.Is(err, context.Canceled) {
		t.Errorf("Prune: %v", err)
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "h.db")); !errors.Is(err, context.Canceled) {
		t.Errorf("Open: %v", err)
	}
}

func TestFileURIEscapes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "odd ?name#50%", "history.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, result("a", base, probe.CauseOK, 0), false); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not where asked: %v", err)
	}
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if last, err := ro.LastResults(ctx); err != nil || len(last) != 1 {
		t.Errorf("LastResults: %v, %v", last, err)
	}
}
