package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeLoopback is a 127.0.0.1 address nothing listens on yet.
func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// promSample is one sample of a Prometheus instant query.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// promQuery runs an instant query against Prometheus's HTTP API.
func promQuery(t *testing.T, base, query string) ([]promSample, error) {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []promSample `json:"result"`
		} `json:"data"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %s", err, b)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", query, r.Error)
	}
	return r.Data.Result, nil
}

// The real Prometheus (Debian's) scrapes smtpwatch's /probe with the
// shipped scrape config (docs/prometheus/prometheus.yml, its addresses and
// targets replaced by the e2e ones): the account whose login works reads
// smtpwatch_probe_success 1 through Prometheus's HTTP API, the one whose
// password Postfix rejects 0 with the cause auth_rejected, a server
// checked with a [[module]] 1; every query of the shipped Grafana
// dashboard runs.
func TestPrometheusScrapesProbe(t *testing.T) {
	e := needEnv(t)
	prom, err := exec.LookPath("prometheus")
	if err != nil {
		skipOrFail(t, "no prometheus binary (scripts/prometheus-e2e installs Debian's): %v", err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	listen, promAddr := freeLoopback(t), freeLoopback(t)
	var logStart int64
	if fi, err := os.Stat(e.Log); err == nil {
		logStart = fi.Size()
	}

	// smtpwatch: two accounts on the STARTTLS port, one with a wrong
	// password, and a module for any server on 127.0.0.1.
	cfg := filepath.Join(dir, "config.toml")
	text := fmt.Sprintf(`state_dir = %q
metrics_listen = %q

[online]
targets = []

[[account]]
name = "good"
server = %q
port = %d
security = "starttls"
username = %q
password_env = "SMTPWATCH_PASSWORD"
interval = "1h"

[[account]]
name = "rejected"
server = %q
port = %d
security = "starttls"
username = %q
password_command = "printf wrong-password"
interval = "1h"

[[module]]
name = "fleet"
security = "tls"
username = %q
password_env = "SMTPWATCH_PASSWORD"
targets = [%q]
timeout = "10s"
`, filepath.Join(dir, "state"), listen, e.Host, e.Port(t, "STARTTLS"), e.User, e.Host, e.Port(t, "STARTTLS"), e.User, e.User, e.Host)
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	files := daemonFiles{config: cfg, stateDir: filepath.Join(dir, "state")}
	files.runDir, _ = os.MkdirTemp("", "swd-")
	t.Cleanup(func() { os.RemoveAll(files.runDir) })
	files.socket = filepath.Join(files.runDir, "smtpwatch.sock")
	startDaemon(t, e, files)

	// Prometheus, with the shipped config made to point here.
	shipped, err := os.ReadFile(filepath.Join(root, "docs", "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	pc := strings.NewReplacer(
		"smtpwatch.example.org:9925", listen,
		"[charter, work]", "[good, rejected]",
		"[mx1.example.org:587, mx2.example.org:465]", fmt.Sprintf("[%q]", e.Addr(t, "TLS")),
		"scrape_interval: 60s", "scrape_interval: 1s",
		"scrape_timeout: 30s", "scrape_timeout: 1s",
		"evaluation_interval: 60s", "evaluation_interval: 1s",
		"  - rules.yml", "  - "+filepath.Join(root, "docs", "prometheus", "rules.yml"),
	).Replace(string(shipped))
	if !strings.Contains(pc, listen) || !strings.Contains(pc, "[good, rejected]") {
		t.Fatalf("the shipped prometheus.yml changed shape; the test's replacements no longer apply:\n%s", pc)
	}
	promCfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(promCfg, []byte(pc), 0o600); err != nil {
		t.Fatal(err)
	}
	var promOut syncBuffer
	cmd := exec.Command(prom, "--config.file="+promCfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &promOut, &promOut
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", tail(promOut.String(), 40))
		}
	})

	base := "http://" + promAddr
	want := map[string]string{"good": "1", "rejected": "0", e.Addr(t, "TLS"): "1"}
	var got map[string]string
	for deadline := time.Now().Add(60 * time.Second); ; {
		got = map[string]string{}
		if rs, err := promQuery(t, base, "smtpwatch_probe_success"); err == nil {
			for _, s := range rs {
				got[s.Metric["instance"]] = fmt.Sprint(s.Value[1])
			}
		}
		up, _ := promQuery(t, base, `up{job="smtpwatch"}`)
		if len(got) == len(want) && len(up) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus has %v after 60 s, want %v", got, want)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("Prometheus had every /probe series %v after it started", time.Since(start).Round(10*time.Millisecond))
	for inst, v := range want {
		if got[inst] != v {
			t.Errorf("smtpwatch_probe_success{instance=%q} = %s, want %s", inst, got[inst], v)
		}
	}
	rs, err := promQuery(t, base, `smtpwatch_probe_cause{instance="rejected"} == 1`)
	if err != nil || len(rs) != 1 || rs[0].Metric["cause"] != "auth_rejected" || rs[0].Metric["account"] != "rejected" || rs[0].Metric["job"] != "smtpwatch-accounts" {
		t.Errorf("the rejected account's cause: %+v %v", rs, err)
	}
	if rs, err := promQuery(t, base, `up{job="smtpwatch"}`); err != nil || len(rs) != 1 || rs[0].Value[1] != "1" {
		t.Errorf("smtpwatch's own /metrics: %+v %v", rs, err)
	}

	// Every query of the shipped dashboard runs against what Prometheus
	// scraped.
	dash, err := os.ReadFile(filepath.Join(root, "docs", "prometheus", "grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(dash, &d); err != nil {
		t.Fatal(err)
	}
	vars := strings.NewReplacer(`"$instance"`, `".*"`, "$__rate_interval", "1m")
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			n++
			if _, err := promQuery(t, base, vars.Replace(tg.Expr)); err != nil {
				t.Errorf("dashboard panel %q: %v", p.Title, err)
			}
			if !regexp.MustCompile(`smtpwatch_`).MatchString(tg.Expr) {
				t.Errorf("dashboard panel %q queries no smtpwatch metric: %s", p.Title, tg.Expr)
			}
		}
	}
	if n < 5 {
		t.Errorf("the dashboard has %d queries", n)
	}
	// The shipped rules loaded.
	resp, err := http.Get(base + "/api/v1/rules")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, alert := range []string{"MailSubmissionFailing", "MailServerCertificateExpiring", "MailLoginRejected"} {
		if !strings.Contains(string(b), `"name":"`+alert+`"`) {
			t.Errorf("Prometheus did not load the rule %s: %s", alert, b)
		}
	}
	// The login rules hold through /probe: Prometheus scraped the rejected
	// account every second, and Postfix heard its password once.
	logb, err := os.ReadFile(e.Log)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(logb)) < logStart {
		logStart = 0 // rotated
	}
	if n := strings.Count(string(logb[logStart:]), "authentication failed"); n != 1 {
		t.Errorf("Postfix refused %d logins during the test, want 1 (the rejected account's first check)", n)
	}
}
