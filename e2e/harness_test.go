package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// env is the contents of $SMTPWATCH_E2E_DIR/env, written by scripts/postfix-e2e.
type env struct {
	vars     map[string]string
	Host     string
	User     string
	Password string
	CA       string // bundle.pem: the test CA and the ESET-named CA
	Log      string // Postfix's maillog_file
}

// Port returns SMTPWATCH_E2E_PORT_<name>.
func (e *env) Port(t testing.TB, name string) int {
	t.Helper()
	v, ok := e.vars["SMTPWATCH_E2E_PORT_"+name]
	if !ok {
		t.Fatalf("env file has no SMTPWATCH_E2E_PORT_%s; rerun scripts/postfix-e2e", name)
	}
	p, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("SMTPWATCH_E2E_PORT_%s=%q: %v", name, v, err)
	}
	return p
}

// Addr is host:port of the named port.
func (e *env) Addr(t testing.TB, name string) string {
	return fmt.Sprintf("%s:%d", e.Host, e.Port(t, name))
}

func envPath() string {
	dir := os.Getenv("SMTPWATCH_E2E_DIR")
	if dir == "" {
		dir = "/tmp/smtpwatch-e2e"
	}
	return filepath.Join(dir, "env")
}

func inCI() bool { return os.Getenv("CI") == "true" }

// skipOrFail skips the test, or fails it under CI=true, where every e2e
// test must run.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf("CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}

var (
	loadEnvOnce sync.Once
	loadedEnv   *env
	loadEnvErr  error
)

// needEnv returns the Postfix environment, or skips (fails under CI) when
// scripts/postfix-e2e has not run.
func needEnv(t testing.TB) *env {
	t.Helper()
	loadEnvOnce.Do(func() { loadedEnv, loadEnvErr = readEnv(envPath()) })
	if loadEnvErr != nil {
		skipOrFail(t, "no e2e Postfix (%v); run scripts/postfix-e2e as root", loadEnvErr)
	}
	return loadedEnv
}

func readEnv(path string) (*env, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	e := &env{vars: map[string]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s: bad line %q", path, line)
		}
		e.vars[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	e.Host, e.User, e.Password = e.vars["SMTPWATCH_E2E_HOST"], e.vars["SMTPWATCH_E2E_USER"], e.vars["SMTPWATCH_E2E_PASSWORD"]
	e.CA, e.Log = e.vars["SMTPWATCH_E2E_CA"], e.vars["SMTPWATCH_E2E_LOG"]
	if e.Host == "" || e.User == "" || e.Password == "" || e.CA == "" {
		return nil, fmt.Errorf("%s: missing HOST, USER, PASSWORD or CA; rerun scripts/postfix-e2e", path)
	}
	return e, nil
}

// --- the binary ---------------------------------------------------------------

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// moduleRoot is the directory holding go.mod, above the test's directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 10 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("go.mod not found above the test directory")
}

// smtpwatchBin builds ./cmd/smtpwatch once per test run and returns its path.
// SMTPWATCH_E2E_BIN names a prebuilt binary to test instead.
func smtpwatchBin(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("SMTPWATCH_E2E_BIN"); p != "" {
			binPath, buildErr = filepath.Abs(p)
			return
		}
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		buildDir, err = os.MkdirTemp("", "smtpwatch-e2e-bin-")
		if err != nil {
			buildErr = err
			return
		}
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = "/usr/local/go/bin/go"
		}
		binPath = filepath.Join(buildDir, "smtpwatch")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", binPath, "./cmd/smtpwatch")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/smtpwatch: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// --- running it ------------------------------------------------------------------

// run is one finished smtpwatch process.
type run struct {
	Args    []string
	Stdout  string
	Stderr  string
	Exit    int
	Elapsed time.Duration
}

func (r run) String() string {
	return fmt.Sprintf("smtpwatch %s\nexit %d after %v\n--- stdout\n%s\n--- stderr\n%s",
		strings.Join(r.Args, " "), r.Exit, r.Elapsed.Round(time.Millisecond), r.Stdout, r.Stderr)
}

// runLimit bounds every smtpwatch process; the tests pass --timeout well below it.
const runLimit = 90 * time.Second

// smtpwatch runs the binary with args, trusting the test CAs, with password
// in SMTPWATCH_PASSWORD ("" leaves it unset). prefix, when given, is a
// command the binary runs under (ip netns exec NAME).
func smtpwatch(t testing.TB, e *env, password string, prefix []string, args ...string) run {
	t.Helper()
	return runIn(t, childEnv(t, e, password), prefix, args...)
}

// runIn runs prefix (a wrapper such as setpriv, or nothing), the binary and
// args with env, bounded by runLimit, and says how it ended.
func runIn(t testing.TB, env, prefix []string, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	argv := append(append(append([]string(nil), prefix...), smtpwatchBin(t)), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := run{Args: args, Stdout: stdout.String(), Stderr: stderr.String(), Elapsed: time.Since(start)}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("smtpwatch did not finish within %v:\n%s", runLimit, r)
	case errors.As(err, &exitErr):
		r.Exit = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run smtpwatch: %v", err)
	}
	return r
}

// childEnv is the test's environment without anything that could change the
// check (a user's config, proxies, another password), plus the test CAs.
func childEnv(t testing.TB, e *env, password string) []string {
	t.Helper()
	home := t.TempDir()
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "SMTPWATCH_"), k == "SSL_CERT_FILE", k == "SSL_CERT_DIR",
			k == "HOME", strings.HasPrefix(k, "XDG_"), strings.HasSuffix(strings.ToLower(k), "_proxy"),
			k == "DBUS_SESSION_BUS_ADDRESS":
			continue
		}
		out = append(out, kv)
	}
	out = append(out,
		"SSL_CERT_FILE="+e.CA,
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_STATE_HOME="+filepath.Join(home, ".local", "state"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"DBUS_SESSION_BUS_ADDRESS=disabled:",
	)
	if password != "" {
		out = append(out, "SMTPWATCH_PASSWORD="+password)
	}
	return out
}

// --- the JSON report ---------------------------------------------------------------

type report struct {
	Status   string    `json:"status"`
	Accounts []account `json:"accounts"`
}

type account struct {
	Name             string      `json:"name"`
	Server           string      `json:"server"`
	Port             int         `json:"port"`
	Security         string      `json:"security"`
	DetectedSecurity string      `json:"detected_security"`
	Status           string      `json:"status"`
	Cause            string      `json:"cause"`
	Message          string      `json:"message"`
	Advice           []string    `json:"advice"`
	SMTP             *smtpReply  `json:"smtp"`
	Phases           []phase     `json:"phases"`
	TLS              *tlsInfo    `json:"tls"`
	Suggestion       *suggestion `json:"suggestion"`
	AuthVerified     bool        `json:"auth_verified"`
	CheckedAt        time.Time   `json:"checked_at"`
	DurationMS       int64       `json:"duration_ms"`
}

type smtpReply struct {
	Code         int    `json:"code"`
	EnhancedCode string `json:"enhanced_code"`
	Message      string `json:"message"`
}

type phase struct {
	Name       string `json:"name"`
	OK         bool   `json:"ok"`
	DurationMS int64  `json:"duration_ms"`
	Detail     string `json:"detail"`
}

type tlsInfo struct {
	Version     string    `json:"version"`
	Cipher      string    `json:"cipher"`
	Verified    bool      `json:"verified"`
	Subject     string    `json:"subject"`
	Issuer      string    `json:"issuer"`
	NotAfter    time.Time `json:"not_after"`
	DaysLeft    int       `json:"days_left"`
	Interceptor string    `json:"interceptor"`
}

type suggestion struct {
	Port     int    `json:"port"`
	Security string `json:"security"`
}

// phase returns the named phase and whether it ran.
func (a account) phase(name string) (phase, bool) {
	for _, p := range a.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return phase{}, false
}

func (a account) phaseNames() []string {
	var names []string
	for _, p := range a.Phases {
		names = append(names, p.Name)
	}
	return names
}

// parseReport decodes a --json report holding exactly one account.
func parseReport(t testing.TB, r run) (report, account) {
	t.Helper()
	var rep report
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, r)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("stdout has more than one JSON document\n%s", r)
	}
	if len(rep.Accounts) != 1 {
		t.Fatalf("report has %d accounts, want 1\n%s", len(rep.Accounts), r)
	}
	return rep, rep.Accounts[0]
}

// --- Postfix's log -------------------------------------------------------------------

// logMark is a position in Postfix's log.
type logMark struct {
	path   string
	offset int64
}

// markLog remembers the end of Postfix's log; ok is false when it cannot be
// read (not root), and log checks are then skipped.
func markLog(e *env) (logMark, bool) {
	if e.Log == "" {
		return logMark{}, false
	}
	f, err := os.Open(e.Log)
	if err != nil {
		return logMark{}, false
	}
	defer f.Close()
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return logMark{}, false
	}
	return logMark{e.Log, off}, true
}

// since returns the log lines written after the mark.
func (m logMark) since() ([]string, error) {
	f, err := os.Open(m.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(m.offset, io.SeekStart); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n"), nil
}

// disconnects waits (bounded) for Postfix service svc (its syslog_name
// suffix, as in postfix/SVC/smtpd) to log at least one "disconnect from" line
// after the mark, and returns those lines. Postfix writes them once the
// session is over, with per-command counts such as "auth=0/1".
func (m logMark) disconnects(t testing.TB, svc string) []string {
	t.Helper()
	tag := "postfix/" + svc + "/smtpd["
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines, err := m.since()
		if err != nil {
			t.Fatalf("read Postfix log: %v", err)
		}
		var found []string
		for _, l := range lines {
			if strings.Contains(l, tag) && strings.Contains(l, " disconnect from ") {
				found = append(found, l)
			}
		}
		if len(found) > 0 {
			return found
		}
		if time.Now().After(deadline) {
			t.Fatalf("Postfix logged no disconnect for %s within 10s; new log lines:\n%s",
				svc, strings.Join(lines, "\n"))
		}
		time.Sleep(50 * time.Millisecond) // bounded polling of a file another process writes
	}
}

// assertNoAuthCommand checks that no session of service svc since the mark
// sent AUTH: Postfix's disconnect line counts it as "auth=N" or "auth=N/M".
func assertNoAuthCommand(t testing.TB, m logMark, svc string) {
	t.Helper()
	for _, l := range m.disconnects(t, svc) {
		if strings.Contains(l, " auth=") {
			t.Errorf("smtpwatch sent AUTH to the %s service, Postfix logged:\n%s", svc, l)
		}
	}
}

// assertCleanSessions checks that every session of service svc since the
// mark ended with QUIT and sent no command Postfix did not know (such as a
// stray SASL abort "*" after a rejected password).
func assertCleanSessions(t testing.TB, m logMark, svc string) {
	t.Helper()
	for _, l := range m.disconnects(t, svc) {
		if strings.Contains(l, " unknown=") || !strings.Contains(l, " quit=1") {
			t.Errorf("a session to the %s service did not end cleanly, Postfix logged:\n%s", svc, l)
		}
	}
}
