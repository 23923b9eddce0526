package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Toxiproxy v2.5.0 (the version go.mod pins) as a separate process on
// loopback, driven over its HTTP API, as scripts/bench-probe runs it. A
// process rather than the library in the test binary: the tests run with
// -race, and the proxy's own goroutines are not ours to vouch for.

// toxiproxyVersion must match go.mod's github.com/Shopify/toxiproxy/v2 (a tool directive keeps it there).
const toxiproxyVersion = "v2.5.0"

// toxiproxyBin returns the Toxiproxy server: the one scripts/bench-probe
// caches under $SMTPWATCH_E2E_DIR/bin, else one built now from the module
// cache at go.mod's version (no network needed once `go mod download` has
// run), into that cache when it is writable, else into a temp dir of t.
func toxiproxyBin(t *testing.T, e *env) string {
	t.Helper()
	dir := filepath.Join(e.vars["SMTPWATCH_E2E_DIR"], "bin", "toxiproxy-"+toxiproxyVersion)
	if e.vars["SMTPWATCH_E2E_DIR"] == "" {
		dir = filepath.Join(filepath.Dir(envPath()), "bin", "toxiproxy-"+toxiproxyVersion)
	}
	cached := filepath.Join(dir, "server")
	if fi, err := os.Stat(cached); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return cached
	}
	out := filepath.Join(t.TempDir(), "toxiproxy-server")
	if err := os.MkdirAll(dir, 0o755); err == nil {
		if f, err := os.CreateTemp(dir, ".server-"); err == nil {
			f.Close()
			out = f.Name()
		}
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-mod=readonly", "-o", out, "github.com/Shopify/toxiproxy/v2/cmd/server")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(out)
		t.Fatalf("build Toxiproxy %s: %v\n%s", toxiproxyVersion, err, b)
	}
	if filepath.Dir(out) == dir {
		if err := os.Rename(out, cached); err != nil {
			t.Fatal(err)
		}
		return cached
	}
	return out
}

// toxiproxy is a running Toxiproxy server.
type toxiproxy struct {
	api string // http://127.0.0.1:PORT
	hc  *http.Client
}

// startToxiproxy runs the server on a free loopback port until the test
// ends.
func startToxiproxy(t *testing.T, e *env) *toxiproxy {
	t.Helper()
	bin := toxiproxyBin(t, e)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	// A free port can be taken between our look and the server's bind:
	// try a few.
	for attempt := range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		ln.Close()
		out := &syncBuffer{}
		cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", port)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start Toxiproxy: %v", err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		stop := func() {
			_ = cmd.Process.Kill()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("Toxiproxy (pid %d) did not die", cmd.Process.Pid)
			}
		}
		tp := &toxiproxy{api: "http://127.0.0.1:" + port, hc: hc}
		if tp.waitUp(done) {
			t.Cleanup(func() {
				stop()
				if t.Failed() {
					t.Logf("Toxiproxy output (last 20 lines):\n%s", tail(out.String(), 20))
				}
			})
			return tp
		}
		stop()
		t.Logf("Toxiproxy attempt %d on port %s failed:\n%s", attempt+1, port, tail(out.String(), 5))
	}
	t.Fatal("Toxiproxy did not start")
	return nil
}

// waitUp waits up to 10 s for the API to answer; false when it does not
// or the process (done) exits first.
func (tp *toxiproxy) waitUp(done <-chan struct{}) bool {
	for range 100 {
		if tp.call("GET", "/version", nil, nil) == nil {
			return true
		}
		select {
		case <-done:
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
	return false
}

// call sends a request to the API and decodes a JSON answer into out.
func (tp *toxiproxy) call(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, tp.api+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := tp.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("toxiproxy %s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// proxy creates a proxy on a free loopback port in front of upstream and
// returns its address.
func (tp *toxiproxy) proxy(t *testing.T, name, upstream string) string {
	t.Helper()
	var p struct {
		Listen string `json:"listen"`
	}
	req := map[string]any{"name": name, "listen": "127.0.0.1:0", "upstream": upstream, "enabled": true}
	if err := tp.call("POST", "/proxies", req, &p); err != nil {
		t.Fatal(err)
	}
	if _, _, err := net.SplitHostPort(p.Listen); err != nil {
		t.Fatalf("toxiproxy proxy %s listens on %q: %v", name, p.Listen, err)
	}
	return p.Listen
}

// toxic is a Toxiproxy toxic on a proxy's downstream (server → client).
type toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float64        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

func (tp *toxiproxy) addToxic(t *testing.T, proxy string, x toxic) {
	t.Helper()
	if x.Stream == "" {
		x.Stream = "downstream"
	}
	if err := tp.call("POST", "/proxies/"+proxy+"/toxics", x, nil); err != nil {
		t.Fatal(err)
	}
}

func (tp *toxiproxy) removeToxic(t *testing.T, proxy, name string) {
	t.Helper()
	if err := tp.call("DELETE", "/proxies/"+proxy+"/toxics/"+name, nil, nil); err != nil {
		t.Fatal(err)
	}
}
