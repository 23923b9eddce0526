package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serviceEnv is a private login session for `smtpwatch service`: its own
// home and XDG directories (the autostart entry, the config, the state and
// the socket all land there) and no D-Bus, so the daemon runs headless.
type serviceEnv struct {
	home, runtime, state, config, socket, entry string
	env                                         []string
}

func newServiceEnv(t *testing.T) serviceEnv {
	t.Helper()
	dir := t.TempDir()
	s := serviceEnv{home: filepath.Join(dir, "home"), runtime: filepath.Join(dir, "run")}
	for _, d := range []string{s.home, s.runtime} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s.config = filepath.Join(s.home, ".config", "smtpwatch", "config.toml")
	s.state = filepath.Join(s.home, ".local", "state", "smtpwatch")
	s.socket = filepath.Join(s.runtime, "smtpwatch", "smtpwatch.sock")
	s.entry = filepath.Join(s.home, ".config", "autostart", "smtpwatch.desktop")
	s.env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + s.home, "XDG_RUNTIME_DIR=" + s.runtime,
		"DBUS_SESSION_BUS_ADDRESS=disabled:", "TZ=UTC", "LANG=C"}
	return s
}

// run runs the real binary in the session, bounded.
func (s serviceEnv) run(t *testing.T, args ...string) run {
	t.Helper()
	return runWith(t, s.env, args...)
}

// expect checks a run's exit status and that its stdout matches re.
func expect(t *testing.T, r run, exit int, re string) []string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(r.Stdout + r.Stderr)
	if r.Exit != exit || m == nil {
		t.Fatalf("want exit %d and output matching %q, got:\n%s", exit, re, r)
	}
	return m
}

// processRuns reports whether the process pid runs (a zombie has ended).
func processRuns(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || (b[i+2] != 'Z' && b[i+2] != 'X')
}

// killAtEnd ends the process pid, if still there, when the test ends.
func killAtEnd(t *testing.T, pid int) {
	t.Cleanup(func() {
		if processRuns(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// TestServiceAutostart drives `smtpwatch service` as a person would, with
// the real binary, where no service manager runs for the user (as on this
// machine: no systemd): install writes the autostart entry and the config
// from the template; start waits until the daemon answers and names its
// process; start again says it already runs; status says installed and
// running (exit 0), or not (exit 3); stop ends that process and checks it;
// a daemon whose config is gone is reported with its own words and exit
// 3, not "Started."; uninstall stops the daemon it started and says so,
// then says when there is nothing to uninstall, and names a daemon started
// by hand that still runs. What cannot run here: systemd user units,
// launchd, the Windows Task Scheduler (their code is built, not run).
func TestServiceAutostart(t *testing.T) {
	s := newServiceEnv(t)
	expect(t, s.run(t, "service", "status"), 3, `^Not installed\.\nNo daemon runs\.`)
	r := s.run(t, "service", "install")
	expect(t, r, 0, `^Installed: autostart entry `+regexp.QuoteMeta(s.entry)+`, started at login\.\nWrote the commented config file `+regexp.QuoteMeta(s.config))
	if _, err := os.Stat(s.config); err != nil {
		t.Fatalf("no config written: %v", err)
	}
	expect(t, s.run(t, "service", "status"), 3, `Installed: autostart entry .*\nNot running\. Start it with: smtpwatch service start`)

	m := expect(t, s.run(t, "service", "start"), 0, `^Started \(process (\d+)\)\.\n$`)
	pid, _ := strconv.Atoi(m[1])
	killAtEnd(t, pid)
	if !processRuns(pid) {
		t.Fatalf("process %d does not run", pid)
	}
	if st := s.run(t, "status", "--json"); st.Exit == 3 && strings.Contains(st.Stderr, "not running") {
		t.Fatalf("the daemon does not answer smtpwatch status:\n%s", st)
	}
	expect(t, s.run(t, "service", "start"), 0, fmt.Sprintf(`^Already running \(process %d\)\.\n$`, pid))
	expect(t, s.run(t, "service", "status"), 0, fmt.Sprintf(`Running \(process %d\), answering on %s\.`, pid, regexp.QuoteMeta(s.socket)))
	expect(t, s.run(t, "service", "stop"), 0, fmt.Sprintf(`^Stopped \(process %d\)\.\n$`, pid))
	if processRuns(pid) {
		t.Errorf("process %d still runs after stop", pid)
	}
	expect(t, s.run(t, "service", "stop"), 0, `^Not running: nothing to stop\.\n$`)
	expect(t, s.run(t, "service", "status"), 3, `Not running\.`)

	// The config it was installed with is gone: the daemon exits at once,
	// and start says so with the daemon's words.
	if err := os.Rename(s.config, s.config+".away"); err != nil {
		t.Fatal(err)
	}
	r = s.run(t, "service", "start")
	expect(t, r, 3, `the daemon did not start: it exited at once \(exit status 3\)\.\nIts last lines \(`+regexp.QuoteMeta(filepath.Join(s.state, "daemon-output.log"))+`\):\n    .*config\.toml`)
	if strings.Contains(r.Stdout, "Started") {
		t.Errorf("start said Started:\n%s", r)
	}
	if err := os.Rename(s.config+".away", s.config); err != nil {
		t.Fatal(err)
	}

	// Uninstall stops the daemon it started, and says so.
	m = expect(t, s.run(t, "service", "start"), 0, `^Started \(process (\d+)\)\.\n$`)
	pid, _ = strconv.Atoi(m[1])
	killAtEnd(t, pid)
	expect(t, s.run(t, "service", "uninstall"), 0,
		fmt.Sprintf(`^Stopped the daemon \(process %d\)\.\nUninstalled: autostart entry %s\.\n$`, pid, regexp.QuoteMeta(s.entry)))
	if processRuns(pid) {
		t.Errorf("process %d still runs after uninstall", pid)
	}
	if _, err := os.Stat(s.entry); !os.IsNotExist(err) {
		t.Errorf("the entry is still there: %v", err)
	}
	expect(t, s.run(t, "service", "uninstall"), 0, `^Nothing to uninstall: smtpwatch is not installed\.\n$`)

	// A daemon started by hand is named, with how to stop it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	daemon := exec.CommandContext(ctx, smtpwatchBin(t), "run")
	daemon.Env = s.env
	var out syncBuffer
	daemon.Stdout, daemon.Stderr = &out, &out
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	defer daemon.Wait()
	byHand := daemon.Process.Pid
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for s.run(t, "service", "status").Stdout == "Not installed.\nNo daemon runs. Install it with: smtpwatch service install\n" {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon started by hand never answered:\n%s", out.String())
		}
		<-tick.C
	}
	expect(t, s.run(t, "service", "status"), 3, fmt.Sprintf(`^Not installed\.\nA daemon started by hand runs: process %d; stop it with "kill %d"`, byHand, byHand))
	expect(t, s.run(t, "service", "uninstall"), 0,
		fmt.Sprintf(`^Nothing to uninstall: smtpwatch is not installed\.\nA daemon started by hand still runs: process %d; stop it with "kill %d"`, byHand, byHand))
	cancel()
}

// TestServiceSystemSysV installs the system service through the CLI on this
// machine's SysV init (no systemd here), as root: status before says "Not
// installed as a system service." (it said "unknown: exit status 1"), then
// start, status, stop and uninstall of the real headless daemon running as
// the user. It uses the service name "smtpwatch" and skips when one is
// installed already.
func TestServiceSystemSysV(t *testing.T) {
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root")
	}
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs here: this test is for SysV init")
	}
	if _, err := os.Stat("/etc/init.d/smtpwatch"); err == nil {
		t.Skip("/etc/init.d/smtpwatch exists: a real install is here")
	}
	s := newServiceEnv(t)
	dir := t.TempDir()
	cfg, sock := filepath.Join(dir, "config.toml"), filepath.Join(dir, "smtpwatch.sock")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("state_dir = %q\n", filepath.Join(dir, "state"))), 0o600); err != nil {
		t.Fatal(err)
	}
	flags := []string{"--system", "--user", "root", "--config", cfg, "--socket", sock}
	svc := func(verb string) run { return s.run(t, append([]string{"service", verb}, flags...)...) }
	t.Cleanup(func() {
		svc("uninstall")
		os.Remove("/var/log/smtpwatch.log")
	})
	expect(t, svc("status"), 3, `^Not installed as a system service\.\n`)
	expect(t, svc("install"), 0, `^Installed: system service "smtpwatch"`)
	expect(t, svc("status"), 3, `Installed: system service "smtpwatch" \(SysV init script /etc/init\.d/smtpwatch, as root\)\.\nNot running \(the service manager says: stopped\)\.`)
	m := expect(t, svc("start"), 0, `^Started \(process (\d+)\)\.\n$`)
	pid, _ := strconv.Atoi(m[1])
	killAtEnd(t, pid)
	expect(t, svc("start"), 0, fmt.Sprintf(`^Already running \(process %d\)\.\n$`, pid))
	expect(t, svc("status"), 0, fmt.Sprintf(`Running \(process %d\), answering on %s\.`, pid, regexp.QuoteMeta(sock)))
	expect(t, svc("stop"), 0, fmt.Sprintf(`^Stopped \(process %d\)\.\n$`, pid))
	m = expect(t, svc("start"), 0, `^Started \(process (\d+)\)\.\n$`)
	pid, _ = strconv.Atoi(m[1])
	killAtEnd(t, pid)
	expect(t, svc("uninstall"), 0, fmt.Sprintf(`^Stopped the daemon \(process %d\)\.\nUninstalled: system service "smtpwatch"`, pid))
	if processRuns(pid) {
		t.Errorf("process %d still runs after uninstall", pid)
	}
	expect(t, svc("uninstall"), 0, `^Nothing to uninstall: smtpwatch is not installed as a system service\.\n$`)
}
