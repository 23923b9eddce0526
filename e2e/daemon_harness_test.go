package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/smtptest"
)

// Helpers for the tests of `smtpwatch run --headless`: a daemon process with
// its own config, state directory, runtime directory and socket, and the
// CLI (`status --json`, `history --json`) to ask it what it knows.

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// daemonAccount is one [[account]] of a daemon's config.
type daemonAccount struct {
	name     string
	addr     string // host:port
	security string
	interval time.Duration
	timeout  time.Duration
}

// daemonFiles are a daemon's config, state and socket. Two processes given
// the same daemonFiles are "the same user" starting smtpwatch twice.
type daemonFiles struct {
	config   string
	stateDir string
	runDir   string // XDG_RUNTIME_DIR
	socket   string
}

// writeDaemonConfig writes a config for the accounts, logging in as the e2e
// user with the password from SMTPWATCH_PASSWORD, with the "am I online"
// reference on loopback (online), never a public address.
func writeDaemonConfig(t *testing.T, e *env, online string, accounts ...daemonAccount) daemonFiles {
	t.Helper()
	dir := t.TempDir()
	// The socket path must stay short (sun_path is 104 bytes on some
	// systems); t.TempDir() paths carry the test's name.
	runDir, err := os.MkdirTemp("", "swd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(runDir) })
	f := daemonFiles{
		config:   filepath.Join(dir, "config.toml"),
		stateDir: filepath.Join(dir, "state"),
		runDir:   runDir,
		socket:   filepath.Join(runDir, "smtpwatch.sock"),
	}
	var b strings.Builder
	fmt.Fprintf(&b, "state_dir = %q\n\n[online]\ntargets = [%q]\n", f.stateDir, online)
	for _, a := range accounts {
		fmt.Fprintf(&b, "\n[[account]]\nname = %q\nserver = %q\nport = %s\nsecurity = %q\n",
			a.name, hostOf(t, a.addr), portOf(t, a.addr), a.security)
		fmt.Fprintf(&b, "username = %q\npassword_env = \"SMTPWATCH_PASSWORD\"\ninterval = %q\ntimeout = %q\n",
			e.User, a.interval.String(), a.timeout.String())
	}
	if err := os.WriteFile(f.config, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func hostOf(t *testing.T, addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return h
}

func portOf(t *testing.T, addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return p
}

// daemon is one running `smtpwatch run --headless` process.
type daemon struct {
	files daemonFiles
	cmd   *exec.Cmd
	out   *syncBuffer // stdout and stderr
	done  chan struct{}
	exit  int // valid once done is closed; -1 when killed by a signal
}

// daemonReadyLimit bounds the wait for a new daemon's API.
const daemonReadyLimit = 15 * time.Second

// startDaemon starts `smtpwatch run --headless` on files and waits until
// its API answers. The test's cleanup kills it if it still runs, and logs
// its output when the test failed.
func startDaemon(t *testing.T, e *env, files daemonFiles) *daemon {
	t.Helper()
	d := launchDaemon(t, e, files)
	d.waitReady(t)
	return d
}

// launchDaemon starts the process without waiting for its API.
func launchDaemon(t *testing.T, e *env, files daemonFiles) *daemon {
	t.Helper()
	bin := smtpwatchBin(t)
	d := &daemon{files: files, out: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(bin, "run", "--headless", "--config", files.config, "--socket", files.socket)
	d.cmd.Env = append(childEnv(t, e, e.Password), "XDG_RUNTIME_DIR="+files.runDir)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start smtpwatch run: %v", err)
	}
	go func() {
		err := d.cmd.Wait()
		d.exit = 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			d.exit = ee.ExitCode()
		} else if err != nil {
			d.exit = -2
		}
		close(d.done)
	}()
	t.Cleanup(func() {
		if !d.exited() {
			_ = d.cmd.Process.Kill()
			select {
			case <-d.done:
			case <-time.After(10 * time.Second):
				t.Errorf("smtpwatch run (pid %d) did not die after SIGKILL", d.cmd.Process.Pid)
			}
		}
		if t.Failed() {
			t.Logf("smtpwatch run output (last 60 lines):\n%s", tail(d.out.String(), 60))
		}
	})
	return d
}

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// waitReady waits, boundedly, until the daemon answers on its socket.
func (d *daemon) waitReady(t *testing.T) {
	t.Helper()
	c := api.NewClient(d.files.socket)
	defer c.Close()
	deadline := time.Now().Add(daemonReadyLimit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.Status(ctx)
		cancel()
		if err == nil {
			return
		}
		if d.exited() {
			t.Fatalf("smtpwatch run exited with status %d before answering:\n%s", d.exit, tail(d.out.String(), 30))
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtpwatch run did not answer on %s within %v: %v", d.files.socket, daemonReadyLimit, err)
		}
		time.Sleep(100 * time.Millisecond) // bounded polling of another process
	}
}

// signal sends sig and waits up to limit for the process to exit; it
// returns how long that took, or fails the test.
func (d *daemon) signal(t *testing.T, sig syscall.Signal, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
	select {
	case <-d.done:
		return time.Since(start)
	case <-time.After(limit):
		t.Fatalf("smtpwatch run still running %v after %v", limit, sig)
		return 0
	}
}

// wakes counts the daemon's log lines saying it woke from sleep or saw
// the network change: both start a grace period in which failures do not
// count (health.Policy.Grace, 2 min), which delays an alarm.
func (d *daemon) wakes() int {
	out := d.out.String()
	return strings.Count(out, "network changed; checking again") + strings.Count(out, "woke from sleep; checking again")
}

// graceDelay is health.DefaultPolicy().Grace, what a wake can add to a bound.
const graceDelay = 2 * time.Minute

// daemonStatus is `smtpwatch status --json`.
type daemonStatus struct {
	State    string `json:"state"`
	Accounts []struct {
		Name  string    `json:"name"`
		State string    `json:"state"`
		Cause string    `json:"cause"`
		Since time.Time `json:"since"`
		Last  *account  `json:"last"`
	} `json:"accounts"`
}

func (s daemonStatus) String() string {
	var parts []string
	for _, a := range s.Accounts {
		parts = append(parts, fmt.Sprintf("%s=%s/%s", a.Name, a.State, a.Cause))
	}
	return s.State + " [" + strings.Join(parts, " ") + "]"
}

// status runs `smtpwatch status --json --socket S`.
func (d *daemon) status(t *testing.T, e *env) (daemonStatus, run) {
	t.Helper()
	r := smtpwatch(t, e, "", nil, "status", "--json", "--socket", d.files.socket)
	var st daemonStatus
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, r)
	}
	want, known := map[string]int{"ok": exitOK, "degraded": exitDegraded, "failing": exitFailing}[st.State]
	if !known {
		want = 3 // offline, paused, starting
	}
	if r.Exit != want {
		t.Errorf("status exit %d for state %s, want %d", r.Exit, st.State, want)
	}
	return st, r
}

// waitStatus polls `status --json` every 500 ms until ok(st) or bound has
// passed since from, and returns the status and when it came (relative to
// from). A wake or network change seen in the daemon's log extends the
// bound once by the grace period, and says so.
func (d *daemon) waitStatus(t *testing.T, e *env, what string, from time.Time, bound time.Duration, ok func(daemonStatus) bool) (daemonStatus, time.Duration) {
	t.Helper()
	wakes := d.wakes()
	deadline := from.Add(bound)
	extended := false
	var st daemonStatus
	for {
		st, _ = d.status(t, e)
		if ok(st) {
			return st, time.Since(from)
		}
		if d.exited() {
			t.Fatalf("smtpwatch run exited (status %d) while waiting for %s", d.exit, what)
		}
		if !extended && d.wakes() > wakes {
			extended = true
			deadline = deadline.Add(graceDelay)
			t.Logf("the daemon saw a network change or a wake while waiting for %s (another test "+
				"adding an interface?): its 2 min grace period delays alarms; bound extended to %v",
				what, deadline.Sub(from))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v; last status %v", what, deadline.Sub(from), st)
		}
		time.Sleep(500 * time.Millisecond) // bounded polling of another process
	}
}

// historyEvent is one event of `smtpwatch history --json`.
type historyEvent struct {
	Kind    string    `json:"kind"`
	Account string    `json:"account"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Cause   string    `json:"cause"`
	At      time.Time `json:"at"`
}

func (h historyEvent) String() string {
	return fmt.Sprintf("%s %s: %s→%s (%s) at %s", h.Kind, h.Account, h.From, h.To, h.Cause, h.At.Format("15:04:05.000"))
}

// history runs `smtpwatch history --json --state-dir D --since 1h` and
// returns the events of account.
func (f daemonFiles) history(t *testing.T, e *env, account string) []historyEvent {
	t.Helper()
	r := smtpwatch(t, e, "", nil, "history", "--json", "--state-dir", f.stateDir, "--since", "1h", "--account", account)
	if r.Exit != 0 {
		t.Fatalf("history failed:\n%s", r)
	}
	var out struct {
		Events []historyEvent `json:"events"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("history --json: %v\n%s", err, r)
	}
	return out.Events
}

// --- loopback servers the daemon's config points at ------------------------------

// loopbackListener accepts on 127.0.0.1 until the test ends, handing each
// connection to handle (which owns it). It returns the address and a
// counter of accepted connections.
func loopbackListener(t *testing.T, handle func(net.Conn)) (string, func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	accepted := 0
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted++
			conns = append(conns, c)
			mu.Unlock()
			go handle(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String(), func() int {
		mu.Lock()
		defer mu.Unlock()
		return accepted
	}
}

// onlineTarget is the daemons' "am I online" reference: a loopback port
// that accepts and closes, so the machine always counts as online and no
// probe ever looks beyond 127.0.0.1.
func onlineTarget(t *testing.T) string { return smtptest.Online(t) }

// silentServer accepts connections and never says a word: a probe of it
// waits for a greeting until its timeout.
func silentServer(t *testing.T) (string, func() int) {
	return loopbackListener(t, func(net.Conn) {})
}
