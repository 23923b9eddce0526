package history

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

// The crash test runs this test binary again as a child that writes to the
// database until it is killed. These variables, read only here in the
// test's TestMain, mark the child and name its database and run.
const (
	crashChildEnv = "SMTPWATCH_HISTORY_TEST_CRASH_DB"
	crashRunEnv   = "SMTPWATCH_HISTORY_TEST_CRASH_RUN"
)

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		os.Exit(crashChild(path, os.Getenv(crashRunEnv)))
	}
	os.Exit(m.Run())
}

// crashChild writes results and events from several goroutines, printing
// "ack KIND ID ." on stdout after each write returned nil, until it is
// killed; a bounded loop and a timeout end it should the parent never do.
// Alongside, it records old results and prunes them, so that the kill may
// also land in a delete or an incremental vacuum.
func crashChild(path, run string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	defer s.Close()
	var (
		mu     sync.Mutex // one write(2) per line, whole lines
		failed bool
	)
	ack := func(kind, id string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stdout, "ack %s %s .\n", kind, id)
	}
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		failed = true
		fmt.Fprintln(os.Stderr, "child:", err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := 0; i < 1_000_000 && ctx.Err() == nil; i++ {
				id := fmt.Sprintf("%s-%d-%d", run, g, i)
				r := fullResult(fmt.Sprintf("acct%d", g), time.Now())
				r.Message = id
				if err := s.Record(ctx, r, i%2 == 0); err != nil {
					fail(err)
					return
				}
				ack("r", id)
			}
		})
	}
	wg.Go(func() {
		for i := 0; i < 1_000_000 && ctx.Err() == nil; i++ {
			id := fmt.Sprintf("%s-e-%d", run, i)
			e := health.Event{Kind: health.EventTransition, Account: "acct0", From: health.OK, To: health.Failing,
				Cause: probe.CauseAuthRejected, Message: id, At: time.Now()}
			if err := s.RecordEvent(ctx, e); err != nil {
				fail(err)
				return
			}
			ack("e", id)
		}
	})
	wg.Go(func() {
		old := time.Now().Add(-48 * time.Hour)
		for i := 0; i < 1_000_000 && ctx.Err() == nil; i++ {
			if err := s.Record(ctx, fullResult("old", old), false); err != nil {
				fail(err)
				return
			}
			if i%20 == 19 {
				if _, err := s.Prune(ctx, time.Now().Add(-24*time.Hour)); err != nil {
					fail(err)
					return
				}
			}
		}
	})
	wg.Wait()
	if failed {
		return 1
	}
	return 0
}

// TestCrashSafetyKill9 is the acceptance test "history after repeated
// kill -9 during writes: PRAGMA integrity_check is ok and nothing
// acknowledged is lost". A child process writes to one database file from
// several goroutines and is SIGKILLed at a random moment, a dozen times;
// every id it printed after a nil Record or RecordEvent must then be in the
// database, and the database must pass integrity_check.
func TestCrashSafetyKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "history.db")
	acked := map[string]bool{} // "r ID" or "e ID"
	const runs = 12
	for run := range runs {
		// Kill after 50..300 acknowledgements, or at the latest after 2 s;
		// every fourth run as soon as the child starts (during Open).
		threshold := 50 + rand.IntN(251)
		if run%4 == 3 {
			threshold = 0
		}
		n := crashRun(t, exe, path, run, threshold, acked)
		t.Logf("run %d: killed after %d acknowledged writes (threshold %d)", run, n, threshold)
	}
	if len(acked) < runs*50/2 {
		t.Fatalf("only %d writes acknowledged in %d runs: the test did not exercise much", len(acked), runs)
	}

	ctx := context.Background()
	// What `smtpwatch history` sees right after a crash: the WAL is
	// replayed by a read-only connection too.
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	checkAcked(t, ro, acked)
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	// What the daemon sees when it starts again.
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var check string
	if err := s.read.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil {
		t.Fatal(err)
	}
	if check != "ok" {
		t.Fatalf("integrity_check: %s", check)
	}
	checkAcked(t, s, acked)
	if err := s.Record(ctx, fullResult("after", time.Now()), false); err != nil {
		t.Errorf("Record after the crashes: %v", err)
	}
}

// crashRun starts one child, kills it after threshold acknowledgements or
// 2 s, reads every acknowledgement it printed, and returns their number.
func crashRun(t *testing.T, exe, path string, run, threshold int, acked map[string]bool) int {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashRunEnv+"="+strconv.Itoa(run))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	killed := false
	kill := func() {
		if !killed {
			killed = true
			if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
				t.Errorf("kill: %v", err)
			}
		}
	}
	if threshold == 0 {
		kill()
	}
	deadline := time.NewTimer(2 * time.Second)
	defer deadline.Stop()
	n := 0
	for done := false; !done; {
		select {
		case line, ok := <-lines:
			if !ok {
				done = true
				break
			}
			// The child writes each line in one write(2), but a line
			// must be whole to count: "ack KIND ID .".
			f := strings.Fields(line)
			if len(f) != 4 || f[0] != "ack" || f[3] != "." {
				t.Fatalf("run %d: bad line from the child: %q", run, line)
			}
			acked[f[1]+" "+f[2]] = true
			n++
			if n >= threshold {
				kill()
			}
		case <-deadline.C:
			kill()
		}
	}
	werr := cmd.Wait()
	if !killed || stderr.Len() > 0 {
		t.Fatalf("run %d: the child ended by itself (%v):\n%s", run, werr, stderr.String())
	}
	return n
}

// checkAcked fails for every acknowledged id missing from the store.
func checkAcked(t *testing.T, s *Store, acked map[string]bool) {
	t.Helper()
	ctx := context.Background()
	have := map[string]bool{}
	for _, q := range []string{
		`SELECT 'r ' || json_extract(result, '$.message') FROM results WHERE account LIKE 'acct%'`,
		`SELECT 'e ' || json_extract(event, '$.message') FROM events`,
	} {
		rows, err := s.read.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		err = scanAll(rows, func() error {
			var id string
			if err := rows.Scan(&id); err != nil {
				return err
			}
			have[id] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	lost := 0
	for id := range acked {
		if !have[id] {
			if lost < 10 {
				t.Errorf("acknowledged write lost: %s", id)
			}
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes lost", lost, len(acked))
	}
}
