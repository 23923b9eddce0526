package history

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

// Summary is how one account did over a period.
//
// Uptime comes from the account's health — the verdicts of the state
// machine, as its events recorded them — not from the checks: checks that
// do not log in succeed while a rejected password keeps sending from
// working, and one failed check is not an outage. Time in which this
// computer was offline, checks were paused or the state was not known yet
// says nothing about the server and is left out.
//
// Checks made while this computer was offline are counted apart, in
// Offline, and left out of Probes, Working and the percentiles.
type Summary struct {
	Account string
	// Probes counts the checks that reached a verdict on the server: every
	// check but the offline ones.
	Probes int
	// Working counts the Probes whose status was ok or degraded.
	Working int
	// Offline counts the checks made while this computer was offline.
	Offline int
	// TimeWorking and TimeFailing are how long the account's health was
	// ok or degraded, and failing, within the period. The state at the
	// period's start is the one the last event before it set; the last
	// state lasts until the account's newest check. Time in starting,
	// offline and paused counts in neither.
	TimeWorking, TimeFailing time.Duration
	// Uptime is TimeWorking/(TimeWorking+TimeFailing) as a percentage,
	// 0..100; 0 when both are 0 (no verdict in the period: see Known).
	Uptime float64
	// P50, P95 and P99 are percentiles of the total duration of the working
	// probes, by the nearest-rank method: the shortest duration that at
	// least p % of them did not exceed. Milliseconds are the precision.
	// Zero when Working is 0.
	P50, P95, P99 time.Duration
	// LastAt is the time of the newest check, offline ones included.
	LastAt time.Time
	// Failures counts the causes of the failing probes; nil when none failed.
	Failures map[probe.Cause]int
}

// Known reports whether the period holds any verdict, so that Uptime
// means something.
func (s Summary) Known() bool { return s.TimeWorking+s.TimeFailing > 0 }

type jsonSummary struct {
	Account       string              `json:"account"`
	Probes        int                 `json:"probes"`
	Working       int                 `json:"working"`
	Offline       int                 `json:"offline"`
	TimeWorkingMS int64               `json:"time_working_ms"`
	TimeFailingMS int64               `json:"time_failing_ms"`
	Uptime        float64             `json:"uptime_percent"`
	P50MS         int64               `json:"p50_ms"`
	P95MS         int64               `json:"p95_ms"`
	P99MS         int64               `json:"p99_ms"`
	LastAt        time.Time           `json:"last_at"`
	Failures      map[probe.Cause]int `json:"failures"`
}

// MarshalJSON writes durations in whole milliseconds, as probe.Result
// does, and failures as an object ({} when none).
func (s Summary) MarshalJSON() ([]byte, error) {
	j := jsonSummary{
		Account: s.Account, Probes: s.Probes, Working: s.Working, Offline: s.Offline, Uptime: s.Uptime,
		TimeWorkingMS: s.TimeWorking.Milliseconds(), TimeFailingMS: s.TimeFailing.Milliseconds(),
		P50MS: s.P50.Milliseconds(), P95MS: s.P95.Milliseconds(), P99MS: s.P99.Milliseconds(),
		LastAt: s.LastAt, Failures: s.Failures,
	}
	if j.Failures == nil {
		j.Failures = map[probe.Cause]int{}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (s *Summary) UnmarshalJSON(b []byte) error {
	var j jsonSummary
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Summary{
		Account: j.Account, Probes: j.Probes, Working: j.Working, Offline: j.Offline, Uptime: j.Uptime,
		TimeWorking: time.Duration(j.TimeWorkingMS) * time.Millisecond, TimeFailing: time.Duration(j.TimeFailingMS) * time.Millisecond,
		P50: time.Duration(j.P50MS) * time.Millisecond, P95: time.Duration(j.P95MS) * time.Millisecond,
		P99: time.Duration(j.P99MS) * time.Millisecond, LastAt: j.LastAt, Failures: j.Failures,
	}
	if len(s.Failures) == 0 {
		s.Failures = nil
	}
	return nil
}

// sinceNS is the lower time bound of a query; the zero time means no bound.
func sinceNS(since time.Time) int64 {
	if since.IsZero() {
		return math.MinInt64
	}
	return since.UnixNano()
}

// accountFilter is the SQL condition and argument for an account filter;
// "" means every account. Names compare ignoring ASCII case.
func accountFilter(account string) (string, []any) {
	if account == "" {
		return "", nil
	}
	return ` AND account = ?`, []any{account}
}

// Summaries says how each account did since the given time (the zero time
// means all history), one Summary per account that has a check since then,
// sorted by account name. account "" means every account; otherwise only
// that one (ignoring case), and an empty result when it has no checks.
//
// Memory does not grow with the number of checks: SQLite counts, and the
// durations stream through one at a time to pick the percentiles. No JSON
// is read: covering indexes answer all three queries.
func (s *Store) Summaries(ctx context.Context, account string, since time.Time) ([]Summary, error) {
	filter, fargs := accountFilter(account)
	args := append([]any{sinceNS(since)}, fargs...)

	// One read transaction: the queries see the same snapshot, so that the
	// counts and the ranks of the percentiles agree.
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("history summaries: %w", err)
	}
	defer tx.Rollback()

	// The counts, grouped by account alone: SQLite streams that group
	// along the account index instead of sorting every row.
	var out []Summary
	rows, err := tx.QueryContext(ctx, `SELECT account,
			COUNT(*) FILTER (WHERE status = 'ok' OR status = 'degraded'),
			COUNT(*) FILTER (WHERE status = 'offline'),
			COUNT(*), MAX(at)
		FROM results WHERE at >= ?`+filter+` GROUP BY account ORDER BY account`, args...)
	if err != nil {
		return nil, fmt.Errorf("history summaries: %w", err)
	}
	err = scanAll(rows, func() error {
		var (
			sm          Summary
			total, last int64
		)
		if err := rows.Scan(&sm.Account, &sm.Working, &sm.Offline, &total, &last); err != nil {
			return err
		}
		sm.Probes = int(total) - sm.Offline
		sm.LastAt = time.Unix(0, last)
		out = append(out, sm)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history summaries: %w", err)
	}
	// The column compares ignoring case: a group is one account, spelled as
	// one of its rows spells it.
	index := make(map[string]*Summary, len(out))
	for i := range out {
		index[foldASCII(out[i].Account)] = &out[i]
	}
	find := func(acct string) (*Summary, error) {
		if sm := index[foldASCII(acct)]; sm != nil {
			return sm, nil
		}
		return nil, fmt.Errorf("account %q is missing from the counts", acct)
	}

	// The causes of the failures: few rows to group.
	rows, err = tx.QueryContext(ctx, `SELECT account, cause, COUNT(*) FROM results
		WHERE at >= ?`+filter+` AND status NOT IN ('ok', 'degraded', 'offline') GROUP BY account, cause`, args...)
	if err != nil {
		return nil, fmt.Errorf("history summaries: %w", err)
	}
	err = scanAll(rows, func() error {
		var (
			acct, cause string
			n           int
		)
		if err := rows.Scan(&acct, &cause, &n); err != nil {
			return err
		}
		sm, err := find(acct)
		if err != nil {
			return err
		}
		if sm.Failures == nil {
			sm.Failures = map[probe.Cause]int{}
		}
		sm.Failures[probe.Cause(cause)] += n
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history summaries: %w", err)
	}

	// Nearest-rank percentiles: the value at rank ceil(p*n/100), 1-based,
	// of each account's working durations in ascending order; n is
	// Working. The durations come sorted within each account (a sort per
	// account, not of the whole set) and are counted off as they stream.
	rows, err = tx.QueryContext(ctx, `SELECT account, duration_ms FROM results
		WHERE at >= ?`+filter+` AND status IN ('ok', 'degraded') ORDER BY account, duration_ms`, args...)
	if err != nil {
		return nil, fmt.Errorf("history summaries: %w", err)
	}
	var (
		cur  *Summary
		rank int
	)
	err = scanAll(rows, func() error {
		var (
			acct string
			ms   int64
		)
		if err := rows.Scan(&acct, &ms); err != nil {
			return err
		}
		if cur == nil || foldASCII(acct) != foldASCII(cur.Account) {
			sm, err := find(acct)
			if err != nil {
				return err
			}
			cur, rank = sm, 0
		}
		rank++
		d := time.Duration(ms) * time.Millisecond
		n := cur.Working
		if rank == nearestRank(50, n) {
			cur.P50 = d
		}
		if rank == nearestRank(95, n) {
			cur.P95 = d
		}
		if rank == nearestRank(99, n) {
			cur.P99 = d
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history summaries: %w", err)
	}
	if err := stateTimes(ctx, tx, out, filter, args, since); err != nil {
		return nil, fmt.Errorf("history summaries: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Account < out[j].Account })
	return out, nil
}

// stateTimes fills in TimeWorking, TimeFailing and Uptime from the
// events: the state at since is the one the last event before it set (or,
// when there is none, the one the first event left), each event's state
// lasts until the next event — or, when the next event is a new run's
// first verdict (from starting), until the previous run's last check (see
// runEnd): the time the daemon was not running is no verdict — and the
// last until the account's newest check (LastAt). Reminders and the account-less config_error events do
// not change the state.
func stateTimes(ctx context.Context, tx *sql.Tx, out []Summary, filter string, args []any, since time.Time) error {
	type change struct {
		at       time.Time
		from, to health.State
	}
	changes := map[string][]change{}
	rows, err := tx.QueryContext(ctx, `SELECT account, at, from_state, to_state FROM events
		WHERE at >= ?`+filter+` AND account != '' AND kind != ? ORDER BY account, at, id`,
		append(args, string(health.EventConfigError))...)
	if err != nil {
		return err
	}
	err = scanAll(rows, func() error {
		var (
			acct, from, to string
			at             int64
		)
		if err := rows.Scan(&acct, &at, &from, &to); err != nil {
			return err
		}
		k := foldASCII(acct)
		changes[k] = append(changes[k], change{time.Unix(0, at), health.State(from), health.State(to)})
		return nil
	})
	if err != nil {
		return err
	}
	for i := range out {
		sm := &out[i]
		cs := changes[foldASCII(sm.Account)]
		var (
			state health.State
			t     = since
			known bool
		)
		if !since.IsZero() {
			err := tx.QueryRowContext(ctx, `SELECT to_state FROM events WHERE account = ? AND at < ? AND kind != ?
				ORDER BY at DESC, id DESC LIMIT 1`, sm.Account, since.UnixNano(), string(health.EventConfigError)).Scan(&state)
			switch {
			case err == nil:
				known = true
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		if !known && len(cs) > 0 {
			state = cs[0].from
			if since.IsZero() {
				t = cs[0].at // how long it was in that state before is not known
			}
		}
		add := func(until time.Time) {
			if until.After(sm.LastAt) {
				until = sm.LastAt
			}
			d := until.Sub(t)
			if d <= 0 {
				return
			}
			switch state {
			case health.OK, health.Degraded:
				sm.TimeWorking += d
			case health.Failing:
				sm.TimeFailing += d
			}
		}
		for _, c := range cs {
			if c.from == health.Starting && state != health.Starting && state != "" {
				// The daemon started again: the state before lasted until it
				// stopped, not until now.
				end, err := runEnd(ctx, tx, sm.Account, t, c.at)
				if err != nil {
					return err
				}
				add(end)
			} else {
				add(c.at)
			}
			state, t = c.to, c.at
		}
		add(sm.LastAt)
		if total := sm.TimeWorking + sm.TimeFailing; total > 0 {
			sm.Uptime = 100 * float64(sm.TimeWorking) / float64(total)
		}
	}
	return nil
}

// restartChecks bounds the checks a new run of the daemon makes before its
// first verdict: the first check and its confirmations.
const restartChecks = 8

// runEnd is when the previous run of the daemon last checked the account,
// given that a new run reached its first verdict at next and the previous
// state began at from: the check before the longest pause among the last
// checks before next — the new run's first checks follow each other within
// seconds, and the pause before them is the time the daemon was not
// running. from when there is no check to tell.
func runEnd(ctx context.Context, tx *sql.Tx, account string, from, next time.Time) (time.Time, error) {
	rows, err := tx.QueryContext(ctx, `SELECT at FROM results WHERE account = ? AND at > ? AND at <= ?
		ORDER BY at DESC LIMIT ?`, account, from.UnixNano(), next.UnixNano(), restartChecks+1)
	if err != nil {
		return from, err
	}
	var ats []int64
	err = scanAll(rows, func() error {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return err
		}
		ats = append(ats, at)
		return nil
	})
	if err != nil || len(ats) == 0 {
		return from, err
	}
	// ats is newest first; the previous run ends before the longest gap, or
	// at the oldest check read when the new run has all of them.
	end, gap := ats[len(ats)-1], int64(-1)
	if len(ats) <= restartChecks {
		end = from.UnixNano()
		gap = ats[len(ats)-1] - end
	}
	for i := 0; i+1 < len(ats); i++ {
		if d := ats[i] - ats[i+1]; d > gap {
			gap, end = d, ats[i+1]
		}
	}
	return time.Unix(0, end), nil
}

// nearestRank is the 1-based rank of the p-th percentile of n sorted
// values: ceil(p*n/100).
func nearestRank(p, n int) int { return (p*n + 99) / 100 }

// Events returns the events since the given time (the zero time means all
// history), oldest first. account "" means every account; otherwise only
// that one, ignoring case.
func (s *Store) Events(ctx context.Context, account string, since time.Time) ([]health.Event, error) {
	filter, fargs := accountFilter(account)
	rows, err := s.read.QueryContext(ctx, `SELECT event FROM events WHERE at >= ?`+filter+` ORDER BY at, id`,
		append([]any{sinceNS(since)}, fargs...)...)
	if err != nil {
		return nil, fmt.Errorf("history events: %w", err)
	}
	var out []health.Event
	err = scanAll(rows, func() error {
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			return err
		}
		var e health.Event
		if err := json.Unmarshal(blob, &e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history events: %w", err)
	}
	return out, nil
}

// LastResults returns the newest result of every account in the history,
// keyed by account name (r.Name), as Record stored it; an empty map when
// there is none. Among results with the same time, the last recorded wins.
// It costs one index lookup per account, however long the history.
func (s *Store) LastResults(ctx context.Context) (map[string]probe.Result, error) {
	// A skip-scan over the (account, at) index: the next account name after
	// the previous one, then that account's newest row.
	rows, err := s.read.QueryContext(ctx, `WITH RECURSIVE a(name) AS (
			SELECT MIN(account) FROM results
			UNION ALL
			SELECT (SELECT MIN(account) FROM results WHERE account > a.name) FROM a WHERE a.name IS NOT NULL
		)
		SELECT (SELECT result FROM results WHERE account = a.name ORDER BY at DESC, id DESC LIMIT 1)
		FROM a WHERE a.name IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("history last results: %w", err)
	}
	out := map[string]probe.Result{}
	err = scanAll(rows, func() error {
		var blob []byte
		if err := rows.Scan(&blob); err != nil {
			return err
		}
		var r probe.Result
		if err := json.Unmarshal(blob, &r); err != nil {
			return err
		}
		out[r.Name] = r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history last results: %w", err)
	}
	return out, nil
}

// ResultAt returns the newest result of the account checked at or before
// at, such as the one that explains an event; ok is false when there is
// none.
func (s *Store) ResultAt(ctx context.Context, account string, at time.Time) (r probe.Result, ok bool, err error) {
	var blob []byte
	err = s.read.QueryRowContext(ctx, `SELECT result FROM results WHERE account = ? AND at <= ?
		ORDER BY at DESC, id DESC LIMIT 1`, account, at.UnixNano()).Scan(&blob)
	if errors.Is(err, sql.ErrNoRows) {
		return probe.Result{}, false, nil
	}
	if err == nil {
		err = json.Unmarshal(blob, &r)
	}
	if err != nil {
		return probe.Result{}, false, fmt.Errorf("history result of %s at %s: %w", account, at.Format(time.RFC3339), err)
	}
	return r, true, nil
}

// scanAll calls scan for each row, then closes rows and reports the first
// error.
func scanAll(rows *sql.Rows, scan func() error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// foldASCII lowercases ASCII letters, as SQLite's NOCASE collation does.
func foldASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Logins returns up to n of the account's newest logins (checks that got
// as far as the AUTH phase, recorded with RecordCheck), newest first: the
// engine reads them at start to keep a rejected credential locked out and
// a throttled server backed off across restarts. Account names compare
// ignoring case. It costs one lookup in a small index.
func (s *Store) Logins(ctx context.Context, account string, n int) ([]Check, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT result, auth, username, fingerprint FROM results
		WHERE account = ? AND login = 1 ORDER BY at DESC, id DESC LIMIT ?`, account, n)
	if err != nil {
		return nil, fmt.Errorf("history logins of %s: %w", account, err)
	}
	var out []Check
	err = scanAll(rows, func() error {
		var (
			blob []byte
			c    Check
		)
		if err := rows.Scan(&blob, &c.Auth, &c.Username, &c.Fingerprint); err != nil {
			return err
		}
		if err := json.Unmarshal(blob, &c.Result); err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("history logins of %s: %w", account, err)
	}
	return out, nil
}

// LastWorking returns the account's newest check whose status was ok or
// degraded; with loggedIn, only among checks whose login the server
// accepted (sending would have worked end to end). ok is false when there
// is none.
func (s *Store) LastWorking(ctx context.Context, account string, loggedIn bool) (c Check, ok bool, err error) {
	q := `SELECT result, auth, username FROM results WHERE account = ? AND status IN ('ok', 'degraded')
		ORDER BY at DESC, id DESC LIMIT 1`
	if loggedIn {
		q = `SELECT result, auth, username FROM results WHERE account = ? AND login = 1 AND status IN ('ok', 'degraded')
		ORDER BY at DESC, id DESC LIMIT 1`
	}
	var blob []byte
	err = s.read.QueryRowContext(ctx, q, account).Scan(&blob, &c.Auth, &c.Username)
	if errors.Is(err, sql.ErrNoRows) {
		return Check{}, false, nil
	}
	if err == nil {
		err = json.Unmarshal(blob, &c.Result)
	}
	if err != nil {
		return Check{}, false, fmt.Errorf("history last working check of %s: %w", account, err)
	}
	if loggedIn && !c.Result.AuthVerified {
		return Check{}, false, nil
	}
	return c, true, nil
}
