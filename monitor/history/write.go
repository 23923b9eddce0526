package history

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

// Record stores one probe result: r.Name is the account, r.CheckedAt the
// time, auth whether the probe tried to log in. It is RecordCheck with
// only Result and Auth set.
func (s *Store) Record(ctx context.Context, r probe.Result, auth bool) error {
	return s.RecordCheck(ctx, Check{Result: r, Auth: auth})
}

// Check is one probe as the daemon knew it: the result and the login.
type Check struct {
	Result probe.Result
	// Auth is set when the probe was meant to log in (not a
	// connectivity-only check).
	Auth bool
	// Username is the user name the probe logged in as; kept when the
	// probe got as far as the login (see Login).
	Username string
	// Fingerprint identifies the credential of a login the server
	// rejected, so that a restarted daemon can tell whether the credential
	// changed since (engine.Fingerprinter makes it: a slow keyed hash, the
	// key kept outside the database). nil for any other check. Kept only
	// with a login.
	Fingerprint []byte
}

// Login reports whether the probe got as far as the login: it was meant
// to log in and ran the AUTH phase, so the server answered the credential
// (or the probe refused to send it).
func (c Check) Login() bool {
	_, reached := c.Result.Phase(probe.PhaseAuth)
	return c.Auth && reached
}

// RecordCheck stores one probe: c.Result.Name is the account,
// c.Result.CheckedAt the time. The whole result is kept in its JSON form
// and comes back as is (durations in whole milliseconds); Logins and
// LastWorking give back the rest.
//
// RecordCheck blocks while another write runs. A nil error means the
// check is committed (see the package doc on durability). Result.Name and
// Result.CheckedAt must be set.
func (s *Store) RecordCheck(ctx context.Context, c Check) error {
	r := c.Result
	if s.readOnly {
		return fmt.Errorf("record result: %w", ErrReadOnly)
	}
	if r.Name == "" || r.CheckedAt.IsZero() {
		return errors.New("record result: the result has no account name or no CheckedAt")
	}
	blob, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("record result: %w", err)
	}
	login, username, fp := c.Login(), "", []byte(nil)
	if login {
		username, fp = c.Username, c.Fingerprint
	}
	ph := phaseMillis(r)
	_, err = s.write.ExecContext(ctx,
		`INSERT INTO results (account, at, status, cause, duration_ms, auth, result, login, username, fingerprint,
			dns_ms, connect_ms, greeting_ms, ehlo_ms, tls_ms, auth_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Name, r.CheckedAt.UnixNano(), string(r.Status), string(r.Cause), r.Duration.Milliseconds(), c.Auth, string(blob),
		login, username, fp, ph[0], ph[1], ph[2], ph[3], ph[4], ph[5])
	if err != nil {
		return fmt.Errorf("record result of %s: %w", r.Name, err)
	}
	return nil
}

// RecordEvent stores a health event (a transition, a recovery or a
// reminder); it comes back as is from Events. e.At must be set.
//
// RecordEvent blocks while another write runs; a nil error means the event
// is committed.
func (s *Store) RecordEvent(ctx context.Context, e health.Event) error {
	if s.readOnly {
		return fmt.Errorf("record event: %w", ErrReadOnly)
	}
	if e.At.IsZero() {
		return errors.New("record event: the event has no time")
	}
	blob, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("record event: %w", err)
	}
	_, err = s.write.ExecContext(ctx,
		`INSERT INTO events (account, at, kind, from_state, to_state, cause, event) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.Account, e.At.UnixNano(), string(e.Kind), string(e.From), string(e.To), string(e.Cause), string(blob))
	if err != nil {
		return fmt.Errorf("record event of %s: %w", e.Account, err)
	}
	return nil
}

// pruneBatch is how many rows one Prune transaction deletes: small enough
// that Record never waits long behind it, big enough to keep up with any
// realistic history.
const pruneBatch = 5000

// vacuumPages bounds the pages one Prune gives back to the file system
// (4 MiB at the default page size). The rest stay on the free list, where
// new rows reuse them, and a later Prune returns more.
const vacuumPages = 1024

// Prune deletes the results and events older than before and returns how
// many rows it deleted. The newest event of each account is kept however
// old: it says what state the account has been in since, which uptime
// needs (see Summary.TimeWorking). It costs two index lookups when there is nothing to
// delete. Large deletions run in transactions of a few thousand rows, with
// the other writes free to run between them, so the daemon never waits long
// on it; then at most a few megabytes of freed pages are returned to the
// file system (an incremental vacuum). When ctx ends midway, the rows
// deleted so far stay deleted and are counted.
func (s *Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	if s.readOnly {
		return 0, fmt.Errorf("prune history: %w", ErrReadOnly)
	}
	cut := before.UnixNano()
	var total int64
	for _, q := range []string{
		`DELETE FROM results WHERE id IN (SELECT id FROM results WHERE at < ? LIMIT ?)`,
		`DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ?
			AND id NOT IN (SELECT MAX(id) FROM events GROUP BY account) LIMIT ?)`,
	} {
		for {
			res, err := s.write.ExecContext(ctx, q, cut, pruneBatch)
			if err != nil {
				return total, fmt.Errorf("prune history: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return total, fmt.Errorf("prune history: %w", err)
			}
			total += n
			if n < pruneBatch {
				break
			}
		}
	}
	if total > 0 {
		if _, err := s.write.ExecContext(ctx, fmt.Sprintf(`PRAGMA incremental_vacuum(%d)`, vacuumPages)); err != nil {
			return total, fmt.Errorf("prune history: vacuum: %w", err)
		}
	}
	return total, nil
}
