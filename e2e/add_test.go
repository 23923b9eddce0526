package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/smtptest"
)

// The internet `smtpwatch add` sees in these tests: a DNS server and an
// HTTPS server on a loopback address of their own (port 53 and 443, as
// root), with the binary run in a private mount namespace (unshare) where
// /etc/resolv.conf names that DNS server and /etc/hosts knows only
// localhost. Nothing leaves the machine; the machine's own files are not
// touched.
const lookupAddr = "127.53.9.1"

// addWorld is that internet, serving example.test's autoconfig (pointing
// at the real Postfix) and srv.test's SRV records.
type addWorld struct {
	zone   *smtptest.Zone
	web    *smtptest.Web
	prefix []string // the command the binary runs under
	env    []string // its environment
}

func newAddWorld(t *testing.T, e *env) *addWorld {
	t.Helper()
	needRoot(t, "unshare", "mount")
	w := &addWorld{}
	w.zone = smtptest.StartZone(t, lookupAddr+":53",
		"autoconfig.example.test. 60 IN A "+lookupAddr,
		"autoconfig.thunderbird.net. 60 IN A "+lookupAddr,
		fmt.Sprintf("_submissions._tcp.srv.test. 60 IN SRV 0 1 %d localhost.", e.Port(t, "TLS")),
		"localhost. 60 IN A 127.0.0.1",
	)
	ca := smtptest.NewCA(t, "add e2e web CA", "smtpwatch tests")
	w.web = smtptest.StartWeb(t, lookupAddr+":443", ca, "autoconfig.example.test", "autoconfig.thunderbird.net")
	doc := fmt.Sprintf(`<?xml version="1.0"?>
<clientConfig version="1.1"><emailProvider id="example.test"><displayName>Example Test Mail</displayName>
<outgoingServer type="smtp"><hostname>localhost</hostname><port>%d</port><socketType>STARTTLS</socketType>
<username>%%EMAILADDRESS%%</username><authentication>password-cleartext</authentication></outgoingServer>
</emailProvider></clientConfig>`, e.Port(t, "STARTTLS"))
	w.web.Handle("autoconfig.example.test", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, doc)
	}))

	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	resolv := filepath.Join(dir, "resolv.conf")
	bundle := filepath.Join(dir, "ca-bundle.pem")
	pgCA, err := os.ReadFile(e.CA)
	if err != nil {
		t.Fatal(err)
	}
	for p, body := range map[string][]byte{
		hosts:  []byte("127.0.0.1 localhost\n"),
		resolv: []byte("nameserver " + lookupAddr + "\noptions timeout:1 attempts:1\n"),
		bundle: append(append(pgCA, '\n'), ca.PEM...),
	} {
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.prefix = []string{"unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --bind "$1" /etc/hosts && mount --bind "$2" /etc/resolv.conf && shift 2 && exec "$@"`, "sh", hosts, resolv}
	for _, kv := range childEnv(t, e, "") {
		if !strings.HasPrefix(kv, "SSL_CERT_FILE=") {
			w.env = append(w.env, kv)
		}
	}
	w.env = append(w.env, "SSL_CERT_FILE="+bundle)
	return w
}

// add runs `smtpwatch add` in the world's namespace.
func (w *addWorld) add(t *testing.T, args ...string) run {
	t.Helper()
	return runIn(t, w.env, w.prefix, append([]string{"add"}, args...)...)
}

// addJSON is what `add --json` prints, as far as these tests look.
type addJSON struct {
	Account   string `json:"account"`
	Written   bool   `json:"written"`
	Daemon    string `json:"daemon"`
	Discovery struct {
		Candidates []struct {
			Server string `json:"server"`
			Port   int    `json:"port"`
			Source string `json:"source"`
		} `json:"candidates"`
		Sources []struct {
			Source     string `json:"source"`
			DurationMS int64  `json:"duration_ms"`
			Warning    string `json:"warning"`
		} `json:"sources"`
	} `json:"discovery"`
	Checks []account `json:"checks"`
}

// TestAddWatchedByRunningDaemon: with only an address and a password,
// `smtpwatch add` finds the real Postfix through the domain's autoconfig
// (and, for another domain, its SRV record), signs in to it, writes an
// account that loads, and the daemon that was already running starts
// watching it without being told.
func TestAddWatchedByRunningDaemon(t *testing.T) {
	e := needEnv(t)
	w := newAddWorld(t, e)
	files := writeDaemonConfig(t, e, onlineTarget(t))
	d := startDaemon(t, e, files)
	pwFile := filepath.Join(filepath.Dir(files.config), "password")
	if err := os.WriteFile(pwFile, []byte(e.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pwCmd := "cat " + pwFile

	for _, tt := range []struct {
		name, address, source string
		port                  int
		extra                 []string
	}{
		{"autoconfig", e.User, "autoconfig", e.Port(t, "STARTTLS"), nil},
		{"srv", "bob@srv.test", "srv", e.Port(t, "TLS"), []string{"--username", e.User}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := w.add(t, append([]string{tt.address, "--config", files.config, "--socket", files.socket,
				"--password-command", pwCmd, "--yes", "--json", "--verbose"}, tt.extra...)...)
			if r.Exit != 0 {
				t.Fatalf("%s", r)
			}
			var doc addJSON
			if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, r)
			}
			if !doc.Written || doc.Daemon != "watching" || len(doc.Discovery.Candidates) == 0 ||
				doc.Discovery.Candidates[0].Source != tt.source || doc.Discovery.Candidates[0].Server != "localhost" ||
				doc.Discovery.Candidates[0].Port != tt.port || len(doc.Checks) != 1 || !doc.Checks[0].AuthVerified {
				t.Fatalf("JSON %+v\n%s", doc, r)
			}
			var slowest time.Duration
			for _, s := range doc.Discovery.Sources {
				slowest = max(slowest, time.Duration(s.DurationMS)*time.Millisecond)
			}
			t.Logf("add took %v; the slowest discovery source %v", r.Elapsed.Round(time.Millisecond), slowest)
			if strings.Contains(r.Stdout+r.Stderr, e.Password) {
				t.Errorf("the password was shown\n%s", r)
			}

			// The file loads, as the daemon reads it.
			cfg, err := config.Load(files.config)
			if err != nil {
				t.Fatal(err)
			}
			acct, ok := cfg.Account(doc.Account)
			if !ok || acct.Server != "localhost" || acct.Port != tt.port || acct.Username != e.User || acct.Credential.Command != pwCmd {
				t.Fatalf("account %q: %+v", doc.Account, acct)
			}
			// The running daemon checks it, and sending works.
			d.waitStatus(t, e, doc.Account+" ok", time.Now(), startBound+5*time.Second, accountIs(doc.Account, "ok", ""))
			// `accounts` shows it with the daemon's word for it.
			r = smtpwatch(t, e, "", nil, "accounts", "--config", files.config, "--socket", files.socket)
			if r.Exit != 0 || !strings.Contains(r.Stdout, "✓ "+doc.Account+" — OK") ||
				!strings.Contains(r.Stdout, fmt.Sprintf("localhost, port %d", tt.port)) {
				t.Errorf("accounts:\n%s", r)
			}
		})
	}
}

// TestAddFailsWritesNothing: a wrong password or a domain that publishes
// nothing leaves the config file as it was, and the daemon with it.
func TestAddFailsWritesNothing(t *testing.T) {
	e := needEnv(t)
	w := newAddWorld(t, e)
	files := writeDaemonConfig(t, e, onlineTarget(t))
	before, err := os.ReadFile(files.config)
	if err != nil {
		t.Fatal(err)
	}
	r := w.add(t, e.User, "--config", files.config, "--socket", files.socket, "--password-command", "echo wrong", "--yes")
	if r.Exit != 2 || !strings.Contains(r.Stderr, "the server refused the password: nothing was written") {
		t.Errorf("%s", r)
	}
	r = w.add(t, "jo@nowhere.test", "--config", files.config, "--socket", files.socket, "--password-command", "echo x", "--yes")
	if r.Exit != 3 || !strings.Contains(r.Stderr, "found no outgoing server for nowhere.test") {
		t.Errorf("%s", r)
	}
	if r.Elapsed > 10*time.Second {
		t.Errorf("finding nothing took %v", r.Elapsed)
	}
	after, _ := os.ReadFile(files.config)
	if !bytes.Equal(before, after) {
		t.Errorf("the config changed:\n%s", after)
	}
}
