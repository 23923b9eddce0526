package history

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// BenchmarkRecord is the cost of one acknowledged result: 1,000 accounts
// checked every 30 s are about 33 Records a second.
func BenchmarkRecord(b *testing.B) {
	ctx := context.Background()
	s, _ := openTemp(b)
	r := fullResult("charter", base)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r.CheckedAt = base.Add(time.Duration(i) * time.Second)
		i++
		if err := s.Record(ctx, r, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordParallel is Record from many goroutines, as the scheduler
// calls it: the writes are serialized, so this measures the contention.
func BenchmarkRecordParallel(b *testing.B) {
	ctx := context.Background()
	s, _ := openTemp(b)
	b.RunParallel(func(pb *testing.PB) {
		r := fullResult("charter", base)
		for pb.Next() {
			if err := s.Record(ctx, r, false); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSummaries is `smtpwatch history` over a day of 100 accounts
// checked every 30 s (288,000 results).
func BenchmarkSummaries(b *testing.B) {
	ctx := context.Background()
	s, _ := openTemp(b)
	blob, err := json.Marshal(fullResult("x", base))
	if err != nil {
		b.Fatal(err)
	}
	const accounts, perAccount = 100, 2880
	if _, err := s.write.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i < ?)
		INSERT INTO results (account, at, status, cause, duration_ms, auth, result)
		SELECT 'acct' || (i % ?), ? + i * 30000000000 / ?, CASE WHEN i % 97 = 0 THEN 'failing' ELSE 'ok' END,
			CASE WHEN i % 97 = 0 THEN 'auth_rejected' ELSE 'ok' END, 100 + i % 400, 0, ? FROM n`,
		accounts*perAccount-1, accounts, base.UnixNano(), accounts, string(blob)); err != nil {
		b.Fatal(err)
	}
	// As the daemon's automatic checkpoints would have left it.
	if _, err := s.write.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		sums, err := s.Summaries(ctx, "", base)
		if err != nil || len(sums) != accounts {
			b.Fatalf("%d summaries, %v", len(sums), err)
		}
	}
}
