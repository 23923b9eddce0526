package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// needRoot skips (fails under CI=true) unless the test runs as root with the
// named tools on PATH.
func needRoot(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "needs root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			skipOrFail(t, "needs %s (run scripts/postfix-e2e)", tool)
		}
	}
}

// sh runs a short system command (ip, iptables) and fails the test on error.
func sh(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := shOut(name, args...); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func shOut(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return string(out), err
}

// TestOffline runs the check in a fresh network namespace whose loopback is
// left down: no address at all is reachable, so the verdict is "this
// computer is offline", not a server problem.
func TestOffline(t *testing.T) {
	e := needEnv(t)
	needRoot(t, "ip")
	smtpwatchBin(t) // build before touching the network
	ns := fmt.Sprintf("smtpwatch-e2e-%d", os.Getpid())
	_, _ = shOut("ip", "netns", "del", ns) // a leftover of a killed run
	sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() {
		if out, err := shOut("ip", "netns", "del", ns); err != nil {
			t.Errorf("ip netns del %s: %v\n%s", ns, err, out)
		}
	})

	r := smtpwatch(t, e, e.Password, []string{"ip", "netns", "exec", ns},
		checkArgs(t, e, e.Port(t, "STARTTLS"), "starttls")...)
	a := assertVerdict(t, r, "offline", exitOffline)
	assertNoAuth(t, a)
	if r.Elapsed > 15*time.Second {
		t.Errorf("an offline verdict took %v; nothing is reachable, it should come at once", r.Elapsed)
	}
	if t.Failed() {
		t.Logf("%s", r)
	}
}

// TestBlockedPort drops every packet to the STARTTLS port, as a firewall or
// an ISP blocking 587 would: the connect times out within --timeout and the
// check points at the implicit TLS port, which still works.
//
// It changes the host's firewall for the STARTTLS port, so it must not run
// beside other tests that use it: it is not parallel, and Go runs the
// parallel subtests of TestCheck only while TestCheck itself runs.
func TestBlockedPort(t *testing.T) {
	e := needEnv(t)
	needRoot(t, "iptables")
	smtpwatchBin(t) // build before touching the firewall
	rule := []string{"INPUT", "-i", "lo", "-p", "tcp", "--dport", fmt.Sprint(e.Port(t, "STARTTLS")), "-j", "DROP"}
	sh(t, "iptables", append([]string{"-w", "5", "-I"}, rule...)...)
	t.Cleanup(func() {
		if out, err := shOut("iptables", append([]string{"-w", "5", "-D"}, rule...)...); err != nil {
			t.Errorf("remove the iptables rule: %v\n%s", err, out)
		}
	})

	const timeout = 10 * time.Second
	args := checkArgs(t, e, e.Port(t, "STARTTLS"), "starttls")
	// Reach the online reference through the implicit TLS port: the STARTTLS
	// port is the one that is blocked.
	for i := range args {
		if args[i] == "--online-targets" {
			args[i+1] = e.Addr(t, "TLS")
		}
	}
	r := smtpwatch(t, e, e.Password, nil, args...)
	a := assertVerdict(t, r, "connection_timeout", exitFailing)
	assertNoAuth(t, a)
	want := suggestion{Port: e.Port(t, "TLS"), Security: "tls"}
	if a.Suggestion == nil || *a.Suggestion != want {
		t.Errorf("suggestion = %+v, want %+v", a.Suggestion, want)
	}
	// The whole check, follow-ups included, stays within --timeout; allow
	// for process start and output.
	if r.Elapsed > timeout+3*time.Second {
		t.Errorf("check took %v with --timeout %v", r.Elapsed, timeout)
	}
	if t.Failed() {
		t.Logf("%s", r)
	}
}
