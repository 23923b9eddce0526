package e2e

// End-to-end tests of the daemon: `smtpwatch run --headless` as a
// subprocess, with its own config, state directory, runtime directory and
// socket in temp dirs, watching the real Postfix of scripts/postfix-e2e
// (directly or through Toxiproxy) at intervals of a few seconds, asked
// through `smtpwatch status --json`, `smtpwatch history --json` and the API
// client. Every address is on 127.0.0.1, the "am I online" reference too.
//
// Not overlapping other tests. TestDaemonPostfixOutage stops Postfix, which
// every other test here uses, so it must run alone. Go guarantees that for
// a top-level test that does not call t.Parallel: top-level tests run one
// after the other in source order, the parallel subtests of one (TestCheck's)
// run and finish while that test is running, and top-level tests that call
// t.Parallel are held back until every sequential one has finished. None
// of the tests in this file calls t.Parallel at the top level (the two
// Toxiproxy scenarios are parallel subtests of their own test, so they
// overlap only each other), and a test added later that does would still
// not overlap them. Other packages do not use Postfix, but one does
// interfere: monitor/engine's TestWatchNetwork adds a network interface,
// and `go test ./...` runs packages side by side; the daemon treats that
// as a network change and starts a 2 min grace period, so the waits below
// extend their bound by it (and log that) when the daemon reports one.
//
// The bounds follow from the config (interval I) and the engine's rules:
// the next check comes within 1.1·I (±10 % jitter), and a failure is
// confirmed by re-checks 5 s and then 15 s later (failure_threshold 2);
// a recovery needs two good checks 5 s apart (success_threshold 2).

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"smtpwatch/monitor/api"
)

// The engine's schedule, as documented in monitor/engine and monitor/health.
const (
	firstRecheck  = 5 * time.Second
	secondRecheck = 15 * time.Second
	// pollSlack covers the 500 ms status poll, starting the status
	// process, and the probes of a refused port (milliseconds each).
	pollSlack = 5 * time.Second
)

// nextCheck is the longest wait for the next scheduled check: the
// interval plus its 10 % jitter.
func nextCheck(interval time.Duration) time.Duration { return interval + interval/10 }

// failingBound: the next check, then the two re-checks, each of which may
// take up to probeTime.
func failingBound(interval, probeTime time.Duration) time.Duration {
	return nextCheck(interval) + firstRecheck + secondRecheck + 3*probeTime + pollSlack
}

// recoveryBound: the next check (after one still in flight, up to
// probeTime) and the re-check 5 s later.
func recoveryBound(interval, probeTime time.Duration) time.Duration {
	return probeTime + nextCheck(interval) + firstRecheck + pollSlack
}

// startBound: the first check comes within a second of the start.
const startBound = 10 * time.Second

func accountIs(name, state, cause string) func(daemonStatus) bool {
	return func(st daemonStatus) bool {
		for _, a := range st.Accounts {
			if a.Name == name {
				return a.State == state && (cause == "" || a.Cause == cause)
			}
		}
		return false
	}
}

// postfixCtl runs scripts/postfix-e2e start or stop (each waits until every
// port is listening, or none is).
func postfixCtl(t *testing.T, verb string) error {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	out, err := shOut("bash", filepath.Join(root, "scripts", "postfix-e2e"), verb)
	if err != nil {
		t.Logf("scripts/postfix-e2e %s: %v\n%s", verb, err, out)
	}
	return err
}

// TestDaemonPostfixOutage stops the real Postfix under a running daemon:
// the account must be failing with connection_refused within the bound,
// then ok again within its bound once Postfix is back. It must not overlap
// any other test (see the top of the file); it is a sequential top-level
// test, and it restarts Postfix in its cleanup whatever happens.
func TestDaemonPostfixOutage(t *testing.T) {
	e := needEnv(t)
	needRoot(t, "postfix", "ss")
	smtpwatchBin(t)

	const interval = 3 * time.Second
	const name = "postfix"
	files := writeDaemonConfig(t, e, onlineTarget(t), daemonAccount{
		name: name, addr: e.Addr(t, "STARTTLS"), security: "starttls", interval: interval, timeout: 10 * time.Second,
	})
	d := startDaemon(t, e, files)
	d.waitStatus(t, e, "the first ok", time.Now(), startBound, accountIs(name, "ok", "ok"))

	// Postfix comes back whatever happens from here on.
	t.Cleanup(func() {
		if err := postfixCtl(t, "start"); err != nil {
			t.Errorf("Postfix not restarted: %v; run scripts/postfix-e2e start", err)
		}
	})
	if err := postfixCtl(t, "stop"); err != nil {
		t.Fatalf("stop Postfix: %v", err)
	}
	stopped := time.Now()
	// A refused connection fails in milliseconds; 1 s per check is ample.
	bound := failingBound(interval, time.Second)
	st, took := d.waitStatus(t, e, "failing with connection_refused", stopped, bound, accountIs(name, "failing", "connection_refused"))
	t.Logf("Postfix stopped: failing (connection_refused) after %v (bound %v = 1.1×%v + 5 s + 15 s + 3×1 s + %v)",
		took.Round(time.Millisecond), bound, interval, pollSlack)
	if a := st.Accounts[0]; a.Last == nil || a.Last.Cause != "connection_refused" || a.Last.Message == "" || len(a.Last.Advice) == 0 {
		t.Errorf("failing status without the result that explains it (cause, message, advice): %+v", a.Last)
	}

	if err := postfixCtl(t, "start"); err != nil {
		t.Fatalf("start Postfix: %v", err)
	}
	started := time.Now()
	bound = recoveryBound(interval, time.Second)
	_, took = d.waitStatus(t, e, "ok again", started, bound, accountIs(name, "ok", "ok"))
	t.Logf("Postfix started: ok after %v (bound %v = 1 s + 1.1×%v + 5 s + %v)", took.Round(time.Millisecond), bound, interval, pollSlack)

	d.signal(t, syscall.SIGTERM, 5*time.Second)
	events := files.history(t, e, name)
	var kinds []string
	sawRefused := false
	for _, ev := range events {
		kinds = append(kinds, ev.From+"→"+ev.To)
		if ev.To == "failing" && ev.Cause == "connection_refused" {
			sawRefused = true
		}
		if ev.To == "degraded" || ev.To == "offline" {
			t.Errorf("unexpected event %v", ev)
		}
	}
	if len(events) < 3 || events[0].To != "ok" || !sawRefused ||
		events[len(events)-1].Kind != "recovery" || events[len(events)-1].To != "ok" {
		t.Errorf("history events %v, want starting→ok, →failing (connection_refused), a recovery to ok", events)
	}
	t.Logf("history: %s", strings.Join(kinds, ", "))
}

// timeoutCauses are the causes of a server that stops answering.
var timeoutCauses = []string{"connection_timeout", "greeting_timeout"}

// TestDaemonBehindToxiproxy puts Toxiproxy between the daemon and Postfix:
// a server that goes silent must be reported failing with a timeout cause
// within the bound; connection resets on one connection in ten for several
// minutes must raise no alarm at all. The two scenarios run side by side,
// each with its own proxy and daemon.
func TestDaemonBehindToxiproxy(t *testing.T) {
	e := needEnv(t)
	smtpwatchBin(t)
	tp := startToxiproxy(t, e)
	online := onlineTarget(t)
	upstream := e.Addr(t, "STARTTLS")

	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		const interval, timeout = 3 * time.Second, 6 * time.Second
		const name = "silent"
		addr := tp.proxy(t, name, upstream)
		files := writeDaemonConfig(t, e, online, daemonAccount{
			name: name, addr: addr, security: "starttls", interval: interval, timeout: timeout,
		})
		d := startDaemon(t, e, files)
		d.waitStatus(t, e, "the first ok", time.Now(), startBound, accountIs(name, "ok", "ok"))

		// Data stops, the connection stays open: the greeting never comes.
		tp.addToxic(t, name, toxic{Name: "silence", Type: "timeout", Toxicity: 1, Attributes: map[string]any{"timeout": 0}})
		silenced := time.Now()
		// Each failed check may use its whole timeout (the greeting's third
		// of it, then the other ports tried).
		bound := failingBound(interval, timeout)
		st, took := d.waitStatus(t, e, "failing", silenced, bound, accountIs(name, "failing", ""))
		a := st.Accounts[0]
		t.Logf("silenced: failing (%s) after %v (bound %v = 1.1×%v + 5 s + 15 s + 3×%v + %v)",
			a.Cause, took.Round(time.Millisecond), bound, interval, timeout, pollSlack)
		if !slices.Contains(timeoutCauses, a.Cause) {
			t.Errorf("cause %q, want one of the timeout causes %v", a.Cause, timeoutCauses)
		}
		// The proxy accepts the connection, so what times out is the
		// greeting.
		if a.Cause != "greeting_timeout" {
			t.Errorf("cause %q, want greeting_timeout: the proxy accepts, then nothing comes", a.Cause)
		}
		if a.Last != nil {
			if p, ok := a.Last.phase("connect"); !ok || !p.OK {
				t.Errorf("connect phase %+v, want passed (the proxy accepts)", p)
			}
			if p, ok := a.Last.phase("greeting"); !ok || p.OK {
				t.Errorf("greeting phase %+v, want failed", p)
			}
		}

		tp.removeToxic(t, name, "silence")
		healed := time.Now()
		bound = recoveryBound(interval, timeout)
		_, took = d.waitStatus(t, e, "ok again", healed, bound, accountIs(name, "ok", "ok"))
		t.Logf("toxic removed: ok after %v (bound %v)", took.Round(time.Millisecond), bound)
	})

	t.Run("reset_peer", func(t *testing.T) {
		t.Parallel()
		// With one connection in ten reset, a check fails only when its
		// connection and the one new connection the probe makes after a
		// reset (before any credential is sent) are both reset: q = 0.1² =
		// 0.01. An alarm needs that check and both re-checks to fail:
		// q³ = 10⁻⁶ per scheduled check, so about 9·10⁻⁵ for the ~90 checks
		// of this soak (and 0.14 % a day at the default 60 s interval).
		// Without the reconnect it would be 0.1³ = 10⁻³ per check, about
		// 9 % per soak: the soak also guards that rule.
		const interval, timeout = 2 * time.Second, 10 * time.Second
		const soak = 3 * time.Minute
		const name = "flaky"
		addr := tp.proxy(t, name, upstream)
		files := writeDaemonConfig(t, e, online, daemonAccount{
			name: name, addr: addr, security: "starttls", interval: interval, timeout: timeout,
		})
		d := startDaemon(t, e, files)
		d.waitStatus(t, e, "the first ok", time.Now(), startBound, accountIs(name, "ok", "ok"))

		tp.addToxic(t, name, toxic{Name: "reset", Type: "reset_peer", Toxicity: 0.1, Attributes: map[string]any{"timeout": 0}})
		c := api.NewClient(files.socket)
		defer c.Close()
		var checks, reconnects, failed, polls int
		var lastAt time.Time
		end := time.Now().Add(soak)
		for time.Now().Before(end) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			st, err := c.Status(ctx)
			cancel()
			if err != nil {
				t.Fatalf("status: %v", err)
			}
			polls++
			if len(st.Accounts) != 1 || st.Accounts[0].State != "ok" {
				t.Fatalf("after %d checks with resets: status %+v, want ok throughout", checks, st)
			}
			if r := st.Accounts[0].Last; r != nil && r.CheckedAt.After(lastAt) {
				lastAt = r.CheckedAt
				checks++
				if r.Status != "ok" {
					failed++
				}
				if p, ok := r.Phase("connect"); ok && strings.Contains(p.Detail, "second attempt") {
					reconnects++
				}
			}
			time.Sleep(250 * time.Millisecond) // polls far more often than the 2 s checks
		}
		tp.removeToxic(t, name, "reset")
		t.Logf("soak %v: %d checks seen in %d polls, %d of them after a reset connection, %d failed alone",
			soak, checks, polls, reconnects, failed)
		if checks < int(soak/nextCheck(interval))-5 {
			t.Errorf("only %d checks in %v at a %v interval", checks, soak, interval)
		}
		// About 9 of ~90 checks meet a reset; none in 90 happens with
		// probability 0.9⁹⁰ ≈ 10⁻⁴. Without one the soak proves nothing.
		if reconnects == 0 {
			t.Errorf("no check met a reset connection: is the toxic working?")
		}

		if took := d.signal(t, syscall.SIGTERM, 5*time.Second); d.exit != 0 {
			t.Errorf("exit status %d after SIGTERM (%v)", d.exit, took)
		}
		events := files.history(t, e, name)
		if len(events) != 1 || events[0].From != "starting" || events[0].To != "ok" {
			t.Errorf("history events %v, want only starting→ok: a reset raised an alarm", events)
		}
	})
}

// TestDaemonLifecycle: SIGTERM with a check in flight ends the daemon
// within 2 s, status 0, socket removed; a second `run` for the same socket
// exits 3 with a clear message and leaves the first alone; after a kill -9
// the stale socket is replaced by the next daemon.
func TestDaemonLifecycle(t *testing.T) {
	e := needEnv(t)
	smtpwatchBin(t)
	// A server that accepts and never greets: a check stays in flight for
	// its whole 30 s timeout, so SIGTERM has a probe to cancel.
	server, accepted := silentServer(t)
	files := writeDaemonConfig(t, e, onlineTarget(t), daemonAccount{
		name: "silent", addr: server, security: "starttls", interval: 2 * time.Second, timeout: 30 * time.Second,
	})

	first := startDaemon(t, e, files)
	for i := 0; accepted() == 0; i++ {
		if i >= 100 {
			t.Fatal("the daemon did not connect to the server within 10 s")
		}
		time.Sleep(100 * time.Millisecond) // bounded: the first check comes within a second
	}

	// A second daemon for the same socket.
	r := smtpwatch(t, e, e.Password, nil, "run", "--headless", "--config", files.config, "--socket", files.socket)
	if r.Exit != 3 {
		t.Errorf("second run: exit %d, want 3\n%s", r.Exit, r)
	}
	if !strings.Contains(r.Stderr, "another smtpwatch is running") || !strings.Contains(r.Stderr, files.socket) {
		t.Errorf("second run: the message does not say another smtpwatch runs on %s:\n%s", files.socket, r.Stderr)
	}
	if r.Elapsed > 5*time.Second {
		t.Errorf("second run took %v to give up", r.Elapsed)
	}
	if st, _ := first.status(t, e); len(st.Accounts) != 1 {
		t.Errorf("the first daemon no longer answers properly after the second run: %v", st)
	}

	// SIGTERM with a check in flight.
	took := first.signal(t, syscall.SIGTERM, 10*time.Second)
	if took > 2*time.Second {
		t.Errorf("exit took %v after SIGTERM, want within 2 s", took)
	}
	if first.exit != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", first.exit)
	}
	if _, err := os.Lstat(files.socket); !os.IsNotExist(err) {
		t.Errorf("socket %s still there after a clean exit (%v)", files.socket, err)
	}
	t.Logf("SIGTERM with a check in flight: exited %d after %v", first.exit, took.Round(time.Millisecond))

	// kill -9 leaves the socket behind; the next daemon replaces it.
	second := startDaemon(t, e, files)
	second.signal(t, syscall.SIGKILL, 10*time.Second)
	if fi, err := os.Lstat(files.socket); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("after kill -9 the socket should be left behind: %v", err)
	}
	if r := smtpwatch(t, e, "", nil, "status", "--socket", files.socket); r.Exit != 3 || !strings.Contains(r.Stderr, "not running") {
		t.Errorf("status against the stale socket: exit %d, want 3 saying the daemon is not running\n%s", r.Exit, r)
	}
	third := startDaemon(t, e, files)
	if st, _ := third.status(t, e); len(st.Accounts) != 1 || st.Accounts[0].Name != "silent" {
		t.Errorf("the daemon that replaced the stale socket answers %v", st)
	}
	if took := third.signal(t, syscall.SIGTERM, 10*time.Second); took > 2*time.Second || third.exit != 0 {
		t.Errorf("third daemon: exit %d after %v", third.exit, took)
	}
}
