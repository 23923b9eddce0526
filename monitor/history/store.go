// Package history is the daemon's memory: every probe result and every
// health event, kept in one SQLite database in the state directory
// (<state dir>/history.db), so that `smtpwatch history`, the tray and the
// API can say how an account has been doing, and the daemon can show the
// last known result when it starts.
//
// # Durability
//
// The database runs in WAL journal mode with synchronous=NORMAL. A write
// that returned nil is committed: its frames are in the WAL file, written
// with write(2) but not fsync'd on every commit.
//
//   - A kill -9 of the process (or a crash of it) never loses a committed
//     write and never corrupts the database: the WAL's pages are in the
//     operating system's page cache, which outlives the process, and the
//     next open replays them.
//   - A power loss or an operating system crash may lose the last commits
//     made since the last checkpoint's fsync, but never corrupts the
//     database: the WAL is checksummed and a torn tail is discarded.
//
// For a history of probe results that is the right trade: losing the last
// few seconds of a monitor's log to a power cut is harmless, an fsync per
// probe is not free.
//
// # Concurrency
//
// One Store is meant for one process. Its writes (Record, RecordEvent,
// Prune) may be called from several goroutines: they go through a single
// connection and so run one at a time. Reads use a small pool of their own
// and run concurrently with each other and with the writes (WAL readers see
// the last commit made before their query began). Another process may read
// the same file at the same time through OpenReadOnly.
//
// Every method takes a context that bounds it: waiting for the writer,
// waiting for a lock held by another process (up to the busy timeout), and
// the query itself, which is interrupted when the context is done.
package history

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver; pure Go, no cgo
)

// Errors of the Store, for errors.Is.
var (
	// ErrReadOnly is returned by the writes of a Store from OpenReadOnly.
	ErrReadOnly = errors.New("history opened read-only")
	// ErrNewerSchema means the database was written by a newer smtpwatch
	// whose schema this one does not know; the file is left untouched.
	ErrNewerSchema = errors.New("history database is from a newer smtpwatch")
)

// busyTimeoutMS bounds the wait for a lock held by another connection or
// process; a context that ends sooner ends the wait sooner.
const busyTimeoutMS = 5000

// readConns bounds the read pool.
const readConns = 4

// Store is an open history database. Its methods are safe for concurrent
// use; see the package doc.
type Store struct {
	write    *sql.DB // one connection: writes are serialized; nil when read-only
	read     *sql.DB
	readOnly bool
}

// Open opens the history database at path, creating it (and its parent
// directory, 0700) when missing. A new file is created 0600, and SQLite
// gives its -wal and -shm files the same mode. Open brings the schema up to
// date in one transaction, so an interrupted Open leaves either the old
// schema or the new one.
//
// Open blocks until the database is ready or ctx is done. It returns an
// error wrapping ErrNewerSchema when the file was written by a newer
// smtpwatch. The Store must be closed with Close.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	// Create the file ourselves so that its mode is 0600 whatever the umask;
	// SQLite treats an empty file as an empty database.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	f.Close()

	base, err := fileURI(path)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	common := fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=synchronous(NORMAL)", busyTimeoutMS)
	// auto_vacuum=INCREMENTAL only takes effect on a new, empty file (the
	// driver sets it before anything else); it lets Prune give space back
	// a bounded number of pages at a time. _txlock=immediate makes every
	// transaction take the write lock at BEGIN, so that two writers wait
	// on the busy timeout instead of failing with SQLITE_BUSY mid-way.
	w, err := sql.Open("sqlite", base+"?"+common+"&_auto_vacuum=incremental&_pragma=journal_mode(WAL)"+
		"&_pragma=journal_size_limit(16777216)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	w.SetMaxOpenConns(1) // kept open: idle connections are not closed by default
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("open history %s: %w", path, err)
	}
	// The read pool opens after the writer has switched the file to WAL.
	r, err := sql.Open("sqlite", base+"?"+common+"&_query_only=1")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open history: %w", err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open history %s: %w", path, err)
	}
	return &Store{write: w, read: r}, nil
}

// OpenReadOnly opens an existing history database for reading, while a
// daemon may be writing to it: no connection of this Store can write the
// file (SQLite opens it with mode=ro). Its writes return ErrReadOnly.
//
// When there is no database at path, or one whose schema was never
// created, the error wraps fs.ErrNotExist: there is no history yet. A
// database from a newer smtpwatch gives an error wrapping ErrNewerSchema;
// one from an older smtpwatch, an error asking to run the daemon once
// (which upgrades it). The Store must be closed with Close.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	base, err := fileURI(path)
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	r, err := sql.Open("sqlite", base+fmt.Sprintf("?mode=ro&_pragma=busy_timeout(%d)&_query_only=1", busyTimeoutMS))
	if err != nil {
		return nil, fmt.Errorf("open history: %w", err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	v, err := schemaVersion(ctx, r)
	switch {
	case err != nil:
		err = fmt.Errorf("open history %s: %w", path, err)
	case v == 0:
		err = fmt.Errorf("open history %s: no schema yet: %w", path, fs.ErrNotExist)
	case v > len(migrations):
		err = fmt.Errorf("open history %s: schema v%d, this smtpwatch knows up to v%d: %w", path, v, len(migrations), ErrNewerSchema)
	case v < len(migrations):
		err = fmt.Errorf("open history %s: schema v%d is older than v%d: run `smtpwatch run` once to upgrade it", path, v, len(migrations))
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return &Store{read: r, readOnly: true}, nil
}

// Close closes the database. It waits for running queries to finish;
// calls made after Close return an error. When a Store from Open holds the
// last connection to the file, closing it checkpoints the WAL into the
// database.
func (s *Store) Close() error {
	err := s.read.Close()
	if s.write != nil {
		err = errors.Join(err, s.write.Close())
	}
	if err != nil {
		return fmt.Errorf("close history: %w", err)
	}
	return nil
}

// fileURI is the SQLite URI of path, with its special characters escaped
// (a plain name would lose everything after a '?').
func fileURI(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	p := filepath.ToSlash(abs)
	if runtime.GOOS == "windows" && !strings.HasPrefix(p, "/") {
		p = "/" + p // file:///C:/Users/...
	}
	return (&url.URL{Scheme: "file", Path: p}).String(), nil
}

// migrations[i] brings the schema from version i to version i+1. Entries
// are never edited once released; a change is a new entry.
var migrations = []string{
	// v1: results and events. Times are Unix nanoseconds (UTC); account
	// names compare ignoring ASCII case, as the config's do. results.result
	// and events.event hold the JSON form, returned as is; the other
	// columns are what the queries filter and count on. Both indexes
	// cover the summaries' queries, which then never read the JSON.
	`CREATE TABLE results (
		id          INTEGER PRIMARY KEY,
		account     TEXT    NOT NULL COLLATE NOCASE,
		at          INTEGER NOT NULL,
		status      TEXT    NOT NULL,
		cause       TEXT    NOT NULL,
		duration_ms INTEGER NOT NULL,
		auth        INTEGER NOT NULL,
		result      TEXT    NOT NULL
	);
	CREATE INDEX results_account_at ON results (account, at, status, cause, duration_ms);
	CREATE INDEX results_at ON results (at, account, status, cause, duration_ms);
	CREATE TABLE events (
		id         INTEGER PRIMARY KEY,
		account    TEXT    NOT NULL COLLATE NOCASE,
		at         INTEGER NOT NULL,
		kind       TEXT    NOT NULL,
		from_state TEXT    NOT NULL,
		to_state   TEXT    NOT NULL,
		cause      TEXT    NOT NULL,
		event      TEXT    NOT NULL
	);
	CREATE INDEX events_at ON events (at);
	CREATE INDEX events_account_at ON events (account, at);`,

	// v2: logins, so that a restarted daemon keeps its word (see
	// RecordCheck). login is 1 when the check got as far as the AUTH
	// phase; username is the user name it logged in as; fingerprint
	// identifies a credential the server rejected — a slow keyed hash
	// whose key is kept outside this file, never the credential — and is
	// NULL otherwise. Rows from v1 are not logins. The partial index
	// finds an account's last logins at once.
	`ALTER TABLE results ADD COLUMN login INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE results ADD COLUMN username TEXT NOT NULL DEFAULT '';
	ALTER TABLE results ADD COLUMN fingerprint BLOB;
	CREATE INDEX results_logins ON results (account, at) WHERE login = 1;`,

	// v3: the time of each phase, for latency over time (Latency): the
	// whole milliseconds of the phases that passed, NULL for a phase that
	// did not run or failed (a timeout is not a latency). The newest
	// 20,000 rows from before are filled from their JSON — about a second,
	// where all of a large history (432,000 rows: 10 accounts, 30 days)
	// took 20 s that the daemon's start would wait; older rows keep NULL
	// and count in no chart. The index covers Latency's query, which then
	// reads no JSON and no table row.
	`ALTER TABLE results ADD COLUMN dns_ms INTEGER;
	ALTER TABLE results ADD COLUMN connect_ms INTEGER;
	ALTER TABLE results ADD COLUMN greeting_ms INTEGER;
	ALTER TABLE results ADD COLUMN ehlo_ms INTEGER;
	ALTER TABLE results ADD COLUMN tls_ms INTEGER;
	ALTER TABLE results ADD COLUMN auth_ms INTEGER;
	UPDATE results SET (dns_ms, connect_ms, greeting_ms, ehlo_ms, tls_ms, auth_ms) = (
		SELECT MAX(CASE WHEN n = 'dns' THEN d END), MAX(CASE WHEN n = 'connect' THEN d END),
			MAX(CASE WHEN n = 'greeting' THEN d END), MAX(CASE WHEN n = 'ehlo' THEN d END),
			MAX(CASE WHEN n = 'tls' THEN d END), MAX(CASE WHEN n = 'auth' THEN d END)
		FROM (SELECT json_extract(value, '$.name') AS n, json_extract(value, '$.duration_ms') AS d
			FROM json_each(results.result, '$.phases') WHERE json_extract(value, '$.ok')))
		WHERE id > (SELECT MAX(id) - 20000 FROM results);
	CREATE INDEX results_phases ON results (account, at, status, dns_ms, connect_ms, greeting_ms, ehlo_ms, tls_ms, auth_ms);`,
}

// migrate brings the schema up to date in one write transaction.
// There are no foreign keys: results and events are independent rows.
func migrate(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: see _txlock
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var v int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("migrate: schema v%d, this smtpwatch knows up to v%d: %w", v, len(migrations), ErrNewerSchema)
	}
	for ; v < len(migrations); v++ {
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			return fmt.Errorf("migrate to v%d: %w", v+1, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v+1); err != nil {
			return fmt.Errorf("migrate to v%d: %w", v+1, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// schemaVersion reads the schema version; 0 when there is no schema.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'`).Scan(&n)
	if err != nil || n == 0 {
		return 0, err
	}
	var v int
	err = db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}
