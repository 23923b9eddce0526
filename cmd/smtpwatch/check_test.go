package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"smtpwatch/monitor/smtptest"
)

const (
	testUser = "alice@example.test"
	testPass = "Secr3t-pw!x"
)

// cli runs the command in-process with captured streams and a fixed
// environment.
type cli struct {
	env            map[string]string
	stdout, stderr bytes.Buffer
	ctx            context.Context // nil: context.Background()
	stdinText      string          // what the command reads on its standard input
}

func (c *cli) run(t *testing.T, args ...string) int {
	t.Helper()
	c.stdout.Reset()
	c.stderr.Reset()
	a := &app{
		stdin: strings.NewReader(c.stdinText), stdout: &c.stdout, stderr: &c.stderr,
		getenv: func(k string) string { return c.env[k] },
		logger: slog.New(slog.NewTextHandler(&c.stderr, nil)),
	}
	ctx := c.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	return a.main(ctx, args)
}

// testbed is a STARTTLS server, its CA on disk and a loopback "online"
// reference target.
type testbed struct {
	srv    *smtptest.Server
	caFile string
	online string
	dir    string
}

func newTestbed(t *testing.T) *testbed {
	t.Helper()
	ca := smtptest.NewCA(t, "smtpwatch test CA", "tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &testbed{
		srv:    smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{testUser: testPass}}),
		caFile: caFile, online: ln.Addr().String(), dir: dir,
	}
}

func (tb *testbed) adHoc(extra ...string) []string {
	return append([]string{"check", "--server", tb.srv.Addr, "--security", "starttls", "--ca-file", tb.caFile,
		"--online-targets", tb.online, "--alternatives", "none", "--timeout", "5s"}, extra...)
}

type doc struct {
	Status   string `json:"status"`
	Accounts []struct {
		Name, Status, Cause, Message string
		Advice                       []string
		SMTP                         *struct{ Code int } `json:"smtp"`
		Phases                       []struct {
			Name       string
			OK         bool
			DurationMS *int64 `json:"duration_ms"`
		}
		TLS *struct {
			Version  string
			Verified bool
			DaysLeft *int `json:"days_left"`
		}
	}
}

func TestCheckAdHoc(t *testing.T) {
	tb := newTestbed(t)
	t.Setenv("SMTPWATCH_PASSWORD", testPass)
	c := &cli{}

	if code := c.run(t, tb.adHoc("--username", testUser)...); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, c.stdout.String(), c.stderr.String())
	}
	out := c.stdout.String()
	for _, want := range []string{"sending mail works", "tls ", "auth ", "AUTH PLAIN accepted", "Report for support: smtpwatch check --server"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}

	if code := c.run(t, tb.adHoc("--username", testUser, "--json")...); code != 0 {
		t.Fatalf("json exit %d: %s", code, c.stderr.String())
	}
	var d doc
	if err := json.Unmarshal(c.stdout.Bytes(), &d); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, c.stdout.String())
	}
	if d.Status != "ok" || len(d.Accounts) != 1 || d.Accounts[0].Cause != "ok" || d.Accounts[0].TLS == nil || !d.Accounts[0].TLS.Verified {
		t.Errorf("json %+v", d)
	}
	for _, p := range d.Accounts[0].Phases {
		if p.DurationMS == nil {
			t.Errorf("phase %s without duration_ms", p.Name)
		}
	}

	t.Setenv("SMTPWATCH_PASSWORD", "wrong")
	if code := c.run(t, tb.adHoc("--username", testUser, "--format", "nagios")...); code != 2 {
		t.Fatalf("nagios exit %d, want 2: %s", code, c.stdout.String())
	}
	line := c.stdout.String()
	if !strings.HasPrefix(line, "SMTP CRITICAL - ") || !strings.Contains(line, "password rejected (535 5.7.8") ||
		!strings.Contains(line, "_time'=") || strings.Count(line, "\n") != 1 {
		t.Errorf("nagios line %q", line)
	}
}

// Passwords appear in no output format, with a right or a wrong password,
// from the environment or a command.
func TestCheckNeverPrintsThePassword(t *testing.T) {
	tb := newTestbed(t)
	for _, pw := range []string{testPass, "Wr0ng-" + testPass} {
		t.Setenv("SMTPWATCH_PASSWORD", pw)
		c := &cli{}
		for _, format := range []string{"text", "json", "nagios"} {
			for _, src := range [][]string{nil, {"--password-command", "printf '%s' '" + pw + "'"}} {
				c.run(t, tb.adHoc(append([]string{"--username", testUser, "--format", format}, src...)...)...)
				if all := c.stdout.String() + c.stderr.String(); strings.Contains(all, pw) {
					t.Errorf("%s output shows the password:\n%s", format, all)
				}
			}
		}
	}
}

func TestCheckRefusesBadInvocations(t *testing.T) {
	tb := newTestbed(t)
	t.Setenv("SMTPWATCH_PASSWORD", "")
	c := &cli{}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"password on the command line", tb.adHoc("--username", testUser, "--password", "x"), "--password is not accepted"},
		{"username without a password", tb.adHoc("--username", testUser), "set the environment variable SMTPWATCH_PASSWORD"},
		{"unknown format", tb.adHoc("--format", "xml"), `--format "xml"`},
		{"unknown security", []string{"check", "--server", "x", "--security", "ssl3"}, `unknown security "ssl3"`},
		{"bad alternatives", []string{"check", "--server", "x", "--alternatives", "465"}, "want PORT/MODE"},
		{"unknown preset", []string{"check", "--preset", "nosuch"}, `unknown preset`},
		{"half an envelope", tb.adHoc("--from", "a@b"), "--from: set --rcpt too: the envelope check needs both --from and --rcpt"},
		{"bad flag", []string{"check", "--bogus"}, "flag provided but not defined"},
		{"missing config", []string{"check", "--config", filepath.Join(tb.dir, "none.toml")}, "none.toml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := c.run(t, tc.args...); code != 3 {
				t.Errorf("exit %d, want 3", code)
			}
			if !strings.Contains(c.stderr.String(), tc.want) {
				t.Errorf("stderr %q lacks %q", c.stderr.String(), tc.want)
			}
		})
	}
}

func TestCheckConfigAccounts(t *testing.T) {
	tb := newTestbed(t)
	t.Setenv("SMTPWATCH_TEST_PW", testPass)
	cfg := filepath.Join(tb.dir, "config.toml")
	host, port, _ := net.SplitHostPort(tb.srv.Addr)
	write := func(body string) {
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf(`[online]
targets = [%q]

[[account]]
name = "good"
server = %q
port = %s
security = "starttls"
username = %q
password_env = "SMTPWATCH_TEST_PW"
ca_file = %q

[[account]]
name = "closed"
server = "127.0.0.1"
port = %d
security = "tls"
`, tb.online, host, port, testUser, tb.caFile, smtptest.Port(t, smtptest.ClosedPort(t))))
	c := &cli{}
	code := c.run(t, "check", "--config", cfg, "--json", "--alternatives", "none")
	var d doc
	if err := json.Unmarshal(c.stdout.Bytes(), &d); err != nil {
		t.Fatalf("exit %d, not JSON: %v\n%s%s", code, err, c.stdout.String(), c.stderr.String())
	}
	if code != 2 || d.Status != "failing" || len(d.Accounts) != 2 || d.Accounts[0].Status != "ok" || d.Accounts[1].Cause != "connection_refused" {
		t.Fatalf("exit %d doc %+v", code, d)
	}

	if code := c.run(t, "check", "--config", cfg, "--account", "GOOD"); code != 0 || !strings.Contains(c.stdout.String(), "--account good --json") {
		t.Errorf("--account GOOD: exit %d\n%s%s", code, c.stdout.String(), c.stderr.String())
	}
	if code := c.run(t, "check", "--config", cfg, "--account", "nosuch"); code != 3 || !strings.Contains(c.stderr.String(), `no account named "nosuch" (accounts: good, closed)`) {
		t.Errorf("--account nosuch: exit %d, %s", code, c.stderr.String())
	}

	// A wrong config names the file, the line and the key.
	write("[[account]]\nname = \"x\"\nserver = \"mail.example.test\"\nsecurity = \"ssl3\"\n")
	if code := c.run(t, "check", "--config", cfg); code != 3 || !strings.Contains(c.stderr.String(), cfg+":4: account \"x\": security:") {
		t.Errorf("bad config: exit %d, stderr %q", code, c.stderr.String())
	}
}

func TestPresetsAndInit(t *testing.T) {
	c := &cli{}
	if code := c.run(t, "presets"); code != 0 || !strings.Contains(c.stdout.String(), "smtp.charter.net") {
		t.Errorf("presets: %d %s", code, c.stdout.String())
	}
	p := filepath.Join(t.TempDir(), "smtpwatch", "config.toml")
	if code := c.run(t, "init", "--config", p); code != 0 || !strings.Contains(c.stdout.String(), "Wrote "+p) {
		t.Fatalf("init: %d %s %s", code, c.stdout.String(), c.stderr.String())
	}
	if code := c.run(t, "check", "--config", p); code != 3 || !strings.Contains(c.stderr.String(), "no enabled accounts") {
		t.Errorf("check on the empty template: %d %s", code, c.stderr.String())
	}
	if code := c.run(t, "init", "--config", p); code != 0 || !strings.Contains(c.stdout.String(), "already exists") {
		t.Errorf("second init: %d %s", code, c.stdout.String())
	}
}
