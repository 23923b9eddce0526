package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkMigrateV3 is the one-time upgrade of a history written before
// the phase columns: 30 days of one-minute checks of 10 accounts (432,000
// results), the newest 20,000 rows' phases read from their JSON. The
// daemon's first start after the upgrade waits for it.
func BenchmarkMigrateV3(b *testing.B) {
	ctx := context.Background()
	r := phased("x", base, 12, 34, 56, 7, 80, 90)
	blob, err := json.Marshal(r)
	if err != nil {
		b.Fatal(err)
	}
	const rows = 10 * 30 * 24 * 60
	for b.Loop() {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "history.db")
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)")
		if err != nil {
			b.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		if _, err := db.ExecContext(ctx, `CREATE TABLE schema_version (version INTEGER NOT NULL)`); err != nil {
			b.Fatal(err)
		}
		for i := range 2 {
			if _, err := db.ExecContext(ctx, migrations[i]); err != nil {
				b.Fatal(err)
			}
			db.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, i+1)
		}
		if _, err := db.ExecContext(ctx, `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i < ?)
			INSERT INTO results (account, at, status, cause, duration_ms, auth, result)
			SELECT 'acct' || (i % 10), ? + i * 6000000000, 'ok', 'ok', 100, 0, ? FROM n`, rows-1, base.UnixNano(), string(blob)); err != nil {
			b.Fatal(err)
		}
		db.Close()
		b.StartTimer()
		start := time.Now()
		s, err := Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		b.StopTimer()
		s.Close()
		fmt.Printf("upgrading %d results to the phase columns took %v\n", rows, took.Round(time.Millisecond))
		b.StartTimer()
	}
}
