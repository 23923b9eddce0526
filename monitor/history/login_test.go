package history

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

// loginResult is a check that got as far as the AUTH phase.
func loginResult(name string, at time.Time, cause probe.Cause) probe.Result {
	r := result(name, at, cause, 300*time.Millisecond)
	r.Phases = []probe.Phase{{Name: probe.PhaseConnect, OK: true}, {Name: probe.PhaseAuth, OK: cause == probe.CauseOK}}
	r.AuthVerified = cause == probe.CauseOK
	return r
}

// A database written by the first schema is upgraded in place: its rows
// stay, are not logins, and new checks record theirs.
func TestMigrateV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "history.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_version (version INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, migrations[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (1);
		INSERT INTO results (account, at, status, cause, duration_ms, auth, result)
		VALUES ('a', ?, 'failing', 'auth_rejected', 5, 1, '{"name":"a","status":"failing","cause":"auth_rejected","phases":[{"name":"auth","ok":false}]}')`,
		base.UnixNano()); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := OpenReadOnly(ctx, path); err == nil {
		t.Error("OpenReadOnly read a v1 database it cannot answer from")
	}

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if sums, err := s.Summaries(ctx, "a", time.Time{}); err != nil || len(sums) != 1 || sums[0].Probes != 1 {
		t.Fatalf("the v1 row after the upgrade: %+v, %v", sums, err)
	}
	if ls, err := s.Logins(ctx, "a", 5); err != nil || len(ls) != 0 {
		t.Fatalf("a v1 row counts as a login: %+v, %v", ls, err)
	}
	if err := s.RecordCheck(ctx, Check{Result: loginResult("a", base.Add(time.Minute), probe.CauseOK), Auth: true, Username: "me"}); err != nil {
		t.Fatal(err)
	}
	if ls, err := s.Logins(ctx, "A", 5); err != nil || len(ls) != 1 || ls[0].Username != "me" {
		t.Fatalf("logins after the upgrade: %+v, %v", ls, err)
	}
}

func TestLoginsAndLastWorking(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	fp := []byte{1, 2, 3, 4}
	at := base
	rec := func(c Check) {
		t.Helper()
		at = at.Add(time.Minute)
		c.Result.CheckedAt = at
		if err := s.RecordCheck(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	rec(Check{Result: loginResult("a", at, probe.CauseOK), Auth: true, Username: "me", Fingerprint: fp}) // a fingerprint of a good login is kept too
	worked := at
	rec(Check{Result: result("a", at, probe.CauseOK, time.Millisecond)})                            // connectivity only
	rec(Check{Result: result("a", at, probe.CauseConnectionRefused, time.Millisecond), Auth: true}) // meant to log in, never got there
	rec(Check{Result: loginResult("a", at, probe.CauseAuthTemporaryFailure), Auth: true, Username: "me"})
	rec(Check{Result: loginResult("a", at, probe.CauseAuthRejected), Auth: true, Username: "me", Fingerprint: fp})
	rejectedAt := at
	rec(Check{Result: result("a", at, probe.CauseOK, time.Millisecond), Fingerprint: fp}) // not a login: no fingerprint kept
	connected := at
	rec(Check{Result: loginResult("b", at, probe.CauseOK), Auth: true, Username: "other"})

	ls, err := s.Logins(ctx, "a", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 3 || ls[0].Result.Cause != probe.CauseAuthRejected || !bytes.Equal(ls[0].Fingerprint, fp) ||
		!ls[0].Result.CheckedAt.Equal(rejectedAt) || ls[1].Result.Cause != probe.CauseAuthTemporaryFailure ||
		ls[1].Fingerprint != nil || ls[2].Result.Cause != probe.CauseOK || ls[0].Username != "me" || !ls[0].Auth {
		t.Fatalf("logins of a, newest first: %+v", ls)
	}
	if ls, err := s.Logins(ctx, "a", 1); err != nil || len(ls) != 1 || ls[0].Result.Cause != probe.CauseAuthRejected {
		t.Errorf("Logins(a, 1): %+v, %v", ls, err)
	}
	var fps int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM results WHERE fingerprint IS NOT NULL`).Scan(&fps); err != nil || fps != 2 {
		t.Errorf("%d rows with a fingerprint (%v), want 2: only logins keep one", fps, err)
	}

	c, ok, err := s.LastWorking(ctx, "a", true)
	if err != nil || !ok || !c.Result.CheckedAt.Equal(worked) || c.Username != "me" {
		t.Errorf("LastWorking(a, logged in): %+v, %v, %v; want the good login at %v", c, ok, err, worked)
	}
	c, ok, err = s.LastWorking(ctx, "a", false)
	if err != nil || !ok || !c.Result.CheckedAt.Equal(connected) {
		t.Errorf("LastWorking(a): %+v, %v, %v; want the connectivity check at %v", c, ok, err, connected)
	}
	if _, ok, err := s.LastWorking(ctx, "nobody", false); ok || err != nil {
		t.Errorf("LastWorking(nobody): %v, %v", ok, err)
	}
}

// Uptime is the time the account's health said sending works, over the
// time it said works or fails; starting, offline and paused time is left
// out, and checks that succeed while the password is rejected do not make
// it up.
func TestUptimeFromVerdicts(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	ev := func(at time.Duration, from, to health.State) {
		t.Helper()
		e := health.Event{Kind: health.EventTransition, Account: "a", From: from, To: to, At: base.Add(at)}
		if from == health.Failing && to == health.OK {
			e.Kind = health.EventRecovery
		}
		if err := s.RecordEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name string, at time.Duration, c probe.Cause) {
		t.Helper()
		if err := s.Record(ctx, result(name, base.Add(at), c, time.Millisecond), false); err != nil {
			t.Fatal(err)
		}
	}
	h := time.Hour
	// a: ok from -1 h; at +1 h the password is rejected (failing) while
	// every connectivity check succeeds; offline from +2 h to +3 h; back
	// to failing; paused +4 h to +5 h; failing until the newest check at
	// +6 h. A config error in between changes nothing.
	ev(-h, health.Starting, health.OK)
	ev(h, health.OK, health.Failing)
	ev(2*h, health.Failing, health.Offline)
	ev(3*h, health.Offline, health.Failing)
	if err := s.RecordEvent(ctx, health.Event{Kind: health.EventConfigError, At: base.Add(3*h + time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordEvent(ctx, health.Event{Kind: health.EventReminder, Account: "a", From: health.Failing, To: health.Failing, At: base.Add(3*h + 30*time.Minute)}); err != nil {
		t.Fatal(err)
	}
	ev(4*h, health.Failing, health.Paused)
	ev(5*h, health.Paused, health.Failing)
	for i := 0; i <= 360; i++ {
		c := probe.CauseOK // the connectivity checks all succeed
		if i > 120 && i <= 180 {
			c = probe.CauseOffline
		}
		check("a", time.Duration(i)*time.Minute, c)
	}
	// b: a recovery whose event comes after the newest check counts
	// nothing after that check; the window starts inside the failure.
	evb := func(at time.Duration, from, to health.State) {
		if err := s.RecordEvent(ctx, health.Event{Kind: health.EventTransition, Account: "B", From: from, To: to, At: base.Add(at)}); err != nil {
			t.Fatal(err)
		}
	}
	evb(-2*h, health.Starting, health.Failing)
	evb(90*time.Minute+time.Second, health.Failing, health.OK)
	check("b", 30*time.Minute, probe.CauseOK)
	check("b", 90*time.Minute, probe.CauseOK)
	// c: checks, no events at all: no verdict.
	check("c", time.Minute, probe.CauseOK)

	sums, err := s.Summaries(ctx, "", base)
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 3 {
		t.Fatalf("summaries %+v", sums)
	}
	a, b, c := sums[0], sums[1], sums[2]
	// a: ok +0..+1 h (the window starts at base; ok since -1 h), failing
	// +1..+2 h, +3..+4 h, +5..+6 h.
	if a.TimeWorking != h || a.TimeFailing != 3*h || a.Uptime != 25 || !a.Known() {
		t.Errorf("a: working %v failing %v uptime %.1f; want 1 h, 3 h, 25 %%", a.TimeWorking, a.TimeFailing, a.Uptime)
	}
	if a.Working != a.Probes || a.Probes != 301 || a.Offline != 60 {
		t.Errorf("a: %d of %d checks working: the counts stay the checks'", a.Working, a.Probes)
	}
	if b.TimeWorking != 0 || b.TimeFailing != 90*time.Minute || b.Uptime != 0 || !b.Known() {
		t.Errorf("b: working %v failing %v uptime %.1f; want 0, 90 min, 0 %%", b.TimeWorking, b.TimeFailing, b.Uptime)
	}
	if c.Known() || c.Uptime != 0 {
		t.Errorf("c: %+v; want no verdict", c)
	}

	// A window that starts after the last event: the state it set holds.
	late, err := s.Summaries(ctx, "a", base.Add(5*h+30*time.Minute))
	if err != nil || len(late) != 1 || late[0].TimeFailing != 30*time.Minute || late[0].TimeWorking != 0 {
		t.Errorf("from +5.5 h: %+v, %v; want 30 min failing", late, err)
	}
	// All history: from the first event on.
	all, err := s.Summaries(ctx, "a", time.Time{})
	if err != nil || len(all) != 1 || all[0].TimeWorking != 2*h || all[0].TimeFailing != 3*h {
		t.Errorf("all history: %+v, %v; want 2 h working, 3 h failing", all, err)
	}
}

// Prune keeps each account's newest event, however old: without it an
// account that has been fine for longer than the retention would have no
// known state.
func TestPruneKeepsNewestEvent(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	for i, acct := range []string{"a", "a", "b", "a"} {
		e := health.Event{Kind: health.EventTransition, Account: acct, From: health.Starting, To: health.OK, At: base.Add(time.Duration(i) * time.Hour)}
		if err := s.RecordEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Record(ctx, result("a", base.Add(48*time.Hour), probe.CauseOK, time.Millisecond), false); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx, base.Add(24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("Prune: %d, %v; want the two older events of a", n, err)
	}
	evs, err := s.Events(ctx, "", time.Time{})
	if err != nil || len(evs) != 2 || evs[0].Account != "b" || !evs[1].At.Equal(base.Add(3*time.Hour)) {
		t.Fatalf("events left: %+v, %v", evs, err)
	}
	sums, err := s.Summaries(ctx, "a", base.Add(47*time.Hour))
	if err != nil || len(sums) != 1 || sums[0].TimeWorking != time.Hour || sums[0].Uptime != 100 {
		t.Errorf("a, 2 days after its last event: %+v, %v; want an hour ok", sums, err)
	}
}

// A restart of the daemon: the account was ok, the daemon stopped for four
// hours, and the new run found it failing. The four hours were no verdict
// at all — not "ok" — and count neither way.
func TestUptimeAcrossARestart(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	h := time.Hour
	record := func(e health.Event) {
		t.Helper()
		if err := s.RecordEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	check := func(at time.Duration, c probe.Cause) {
		t.Helper()
		if err := s.Record(ctx, result("a", base.Add(at), c, time.Millisecond), false); err != nil {
			t.Fatal(err)
		}
	}
	record(health.Event{Kind: health.EventTransition, Account: "a", From: health.Starting, To: health.OK, At: base})
	for m := 0; m <= 60; m++ { // the first run: ok, checked every minute for an hour
		check(time.Duration(m)*time.Minute, probe.CauseOK)
	}
	// The second run, four hours later: a failure, confirmed 5 s and 15 s
	// later, then checked every minute.
	restart := 5 * h
	check(restart, probe.CauseConnectionRefused)
	check(restart+5*time.Second, probe.CauseConnectionRefused)
	check(restart+20*time.Second, probe.CauseConnectionRefused)
	record(health.Event{Kind: health.EventTransition, Account: "a", From: health.Starting, To: health.Failing, At: base.Add(restart + 20*time.Second)})
	for m := 1; m <= 40; m++ {
		check(restart+20*time.Second+time.Duration(m)*time.Minute, probe.CauseConnectionRefused)
	}
	sums, err := s.Summaries(ctx, "a", base)
	if err != nil || len(sums) != 1 {
		t.Fatalf("%+v, %v", sums, err)
	}
	a := sums[0]
	if a.TimeWorking != h || a.TimeFailing != 40*time.Minute {
		t.Errorf("working %v, failing %v; want 1 h and 40 min: the daemon's four hours away are no verdict", a.TimeWorking, a.TimeFailing)
	}
}
