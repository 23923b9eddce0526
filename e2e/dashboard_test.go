package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/config"
	"smtpwatch/monitor/smtptest"
)

// The dashboard in a real browser: Debian's Chromium, headless, driven
// over the DevTools protocol (chromedp), against the real binary and the
// real Postfix. The browser gets nothing from outside: every background
// connection of its own is switched off, and the machine has no route
// out anyway.
//
// SMTPWATCH_SCREENSHOTS=DIR keeps the pictures the README shows there
// (scripts/dashboard-screenshots); otherwise they go to a temporary
// directory and are only checked to be pictures.

// chromium finds the browser, or skips (fails under CI=true).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skipOrFail(t, "needs chromium (apt-get install chromium; scripts/test installs it)")
	return ""
}

// browser starts a fresh headless Chromium for the test; extra flags go on
// its command line.
func browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.WindowSize(1100, 900),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), append(opts, extra...)...)
	bctx, cancel := chromedp.NewContext(actx)
	// The first action starts the browser, which lives as long as the
	// context of that action: no timeout on it; the test's actions get
	// one from the context returned.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		acancel()
		t.Fatalf("start chromium: %v", err)
	}
	ctx, tcancel := context.WithTimeout(bctx, 4*time.Minute)
	t.Cleanup(func() { tcancel(); cancel(); acancel() })
	return ctx
}

// text is the text of the first element sel (CSS) matches.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// do runs browser steps and fails the test on an error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// dashboardDaemon starts the real daemon in the add world's namespace
// (its DNS and autoconfig server), watching alpha — an in-process SMTP
// server the test can stop — and the real Postfix on its SSL/TLS port.
func dashboardDaemon(t *testing.T, e *env, w *addWorld, alpha *smtptest.Server, caFile string) (daemonFiles, *exec.Cmd) {
	t.Helper()
	files := writeDaemonConfig(t, e, onlineTarget(t))
	text := fmt.Sprintf(`state_dir = %q

[online]
targets = [%q]

# An SMTP server of the test's own.
[[account]]
name = "alpha"
server = "127.0.0.1"
port = %d
security = "starttls"
username = %q
password_env = "SMTPWATCH_PASSWORD"
ca_file = %q
interval = "2s"
timeout = "5s"
failure_threshold = 0

# The real Postfix, on its SSL/TLS port.
[[account]]
name = "postfix"
server = "localhost"
port = %d
security = "tls"
username = %q
password_env = "SMTPWATCH_PASSWORD"
interval = "1m"
`, files.stateDir, onlineTarget(t), alpha.Port, e.User, caFile, e.Port(t, "TLS"), e.User)
	if err := os.WriteFile(files.config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	argv := append(append([]string(nil), w.prefix...), smtpwatchBin(t), "run", "--headless", "--config", files.config, "--socket", files.socket)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(append([]string(nil), w.env...), "SMTPWATCH_PASSWORD="+e.Password, "XDG_RUNTIME_DIR="+files.runDir)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("smtpwatch run:\n%s", tail(out.String(), 60))
		}
	})
	d := &daemon{files: files, cmd: cmd, out: out, done: done}
	d.waitReady(t)
	return files, cmd
}

func TestDashboardInBrowser(t *testing.T) {
	e := needEnv(t)
	w := newAddWorld(t, e)
	ca := smtptest.NewCA(t, "dashboard e2e CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	alpha := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{e.User: e.Password}})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	files, _ := dashboardDaemon(t, e, w, alpha, caFile)

	// The link, as `smtpwatch open --print-url` gives it.
	r := smtpwatch(t, e, "", nil, "open", "--print-url", "--socket", files.socket)
	link := strings.TrimSpace(r.Stdout)
	if r.Exit != 0 || !strings.HasPrefix(link, "http://127.0.0.1:") {
		t.Fatalf("open --print-url:\n%s", r)
	}
	base := strings.SplitN(link, "/login", 2)[0]
	port := strings.TrimPrefix(base, "http://127.0.0.1:")

	shots := os.Getenv("SMTPWATCH_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	ctx := browser(t, chromedp.Flag("host-resolver-rules", "MAP rebind.test 127.0.0.1"))
	// wait polls js until it is true, across navigations (a poll does not
	// survive one: it is started again), within the bound.
	wait := func(what, js string, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			left := time.Until(deadline)
			err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(min(max(left, 100*time.Millisecond), 5*time.Second)),
				chromedp.WithPollingInterval(100*time.Millisecond)))
			if err == nil {
				return
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
				t.Fatalf("%s: %v\n%s", what, err, html)
			}
		}
	}

	// The overview, with both accounts, both working.
	do(t, ctx, chromedp.Navigate(link))
	wait("the overview with two accounts", `document.querySelectorAll('li.account').length === 2 && location.pathname === '/'`, 20*time.Second)
	wait("both accounts working", `!!document.querySelector('#account-alpha.state-ok') && !!document.querySelector('#account-postfix.state-ok')`, 30*time.Second)

	// The same link again opens nothing: it was used up.
	do(t, ctx, chromedp.Navigate(link))
	body := text(t, ctx, "body")
	if !strings.Contains(body, "used already") {
		t.Errorf("the link worked twice: %s", body)
	}

	// A page of another origin on this computer (another port: same-site
	// for cookies) can neither read the dashboard nor change anything;
	// nor can a page whose name was rebound to 127.0.0.1.
	evil := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(rw, `<!doctype html><title>evil</title><body>
<script>
fetch(%[1]q + "/frag/overview", {credentials: "include"}).then(r => r.text()).then(t => { document.title = "read " + t.length })
  .catch(() => { document.title = "blocked"; });
</script>
<form id="f" method="post" action="%[1]s/pause"><input name="for" value="1h"><input name="csrf" value="guessed"></form>
</body>`, base)
	})}
	eln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go evil.Serve(eln)
	defer evil.Close()
	do(t, ctx, chromedp.Navigate("http://"+eln.Addr().String()+"/"),
		chromedp.Poll[chromedp.Void](`document.title !== "evil"`, chromedp.WithPollingTimeout(10*time.Second)))
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if title != "blocked" {
		t.Errorf("another origin's page read the dashboard: %q", title)
	}
	do(t, ctx, chromedp.Submit(chromedp.CSS("#f")))
	wait("the forged form sent", `location.port === `+fmt.Sprintf("%q", port)+` && document.readyState === "complete"`, 10*time.Second)
	body = text(t, ctx, "body")
	if !strings.Contains(body, "Not allowed") {
		t.Errorf("the forged form was not refused: %s", body)
	}
	do(t, ctx, chromedp.Navigate("http://rebind.test:"+port+"/"))
	body = text(t, ctx, "body")
	if !strings.Contains(body, "Not allowed") || strings.Contains(body, "alpha") {
		t.Errorf("a rebound name got the dashboard: %s", body)
	}
	c := api.NewClient(files.socket)
	defer c.Close()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	st, err := c.Status(sctx)
	scancel()
	if err != nil || st.State == "paused" || st.Accounts[0].State == "paused" {
		t.Fatalf("the daemon after the attacks: %+v, %v", st, err)
	}

	// The keyboard alone: Tab reaches "Pause checks for 1 hour" with a
	// visible focus ring, and Enter pauses the daemon.
	do(t, ctx, chromedp.Navigate(base+"/"))
	wait("the overview", `document.querySelectorAll('li.account').length === 2`, 10*time.Second)
	const pauseFocused = `(() => { const f = document.activeElement && document.activeElement.closest('form');
		return !!f && f.getAttribute('action') === '/pause' && !f.querySelector('input[name=account]') &&
			f.querySelector('input[name=for]').value === '1h'; })()`
	focused := false
	for range 30 {
		do(t, ctx, chromedp.KeyEvent("\t"))
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](pauseFocused)); err == nil && ok {
			focused = true
			break
		}
	}
	if !focused {
		t.Fatal("Tab never reached the pause button")
	}
	if ring, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.activeElement).outlineStyle`)); err != nil || ring == "none" {
		t.Errorf("no visible focus on the focused button: %q, %v", ring, err)
	}
	do(t, ctx, chromedp.KeyEvent("\r"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := c.Status(sctx)
		scancel()
		if err == nil && st.State == "paused" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Enter on the focused pause button did not pause: %+v, %v", st, err)
		}
		time.Sleep(100 * time.Millisecond) // bounded polling of the daemon
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := c.Resume(rctx, ""); err != nil {
		t.Fatal(err)
	}
	rcancel()

	// Without scripts: the page is all there, and its forms work.
	do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}), chromedp.Navigate(base+"/"))
	wait("the overview without scripts", `document.querySelectorAll('li.account').length === 2`, 10*time.Second)
	checks := func() int {
		m, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('form[action="/check"] button').length`))
		return m
	}
	if checks() != 1 {
		t.Errorf("the overview without scripts lacks Check now")
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`form[action="/check"] button`)))
	wait("the overview after Check now, without scripts", `!!document.querySelector('.flash') && document.querySelector('.flash').textContent.includes('Checked every account')`, 30*time.Second)
	do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
		return err
	}))

	// The server stops: the open page says so without a reload.
	do(t, ctx, chromedp.Navigate(base+"/"), chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	wait("the overview again", `document.querySelectorAll('li.account').length === 2`, 10*time.Second)
	alpha.Close()
	wait("alpha failing, live", `!!document.querySelector('#account-alpha.state-failing')`, 60*time.Second)
	wait("no reload", `window.notReloaded === true`, time.Second)
	t.Logf("alpha says: %s", text(t, ctx, "#account-alpha"))

	// Pictures: light, dark, narrow.
	shot := func(name string, width, height int64, dark bool, path string) {
		t.Helper()
		scheme := "light"
		if dark {
			scheme = "dark"
		}
		do(t, ctx,
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				if _, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: width, Height: height, DeviceScaleFactor: 1}); err != nil {
					return err
				}
				_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
				return err
			}),
			chromedp.Navigate(base+path),
			chromedp.Poll[chromedp.Void](`document.readyState === "complete"`, chromedp.WithPollingTimeout(10*time.Second)))
		if wide, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`)); err != nil || wide > width {
			t.Errorf("%s: the page is %d px wide in a %d px window (%v)", name, wide, width, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if len(png) < 1000 || string(png[1:4]) != "PNG" {
			t.Fatalf("%s: not a picture (%d bytes)", name, len(png))
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shot("overview-light.png", 1000, 700, false, "/")
	shot("overview-dark.png", 1000, 700, true, "/")
	shot("narrow.png", 360, 740, false, "/")
	shot("account-light.png", 1000, 900, false, "/account/alpha")
	do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.ClearDeviceMetricsOverride, cdp.Empty{})
		return err
	}))

	// Add an account through the form: discovery finds the real Postfix
	// through example.test's autoconfig, the check signs in with the
	// password a command prints, and the account lands in the file.
	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(e.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Navigate(base+"/settings"),
		chromedp.SendKeys(chromedp.CSS("#address"), e.User),
		chromedp.Submit(chromedp.CSS("#address")))
	wait("the servers found", `!!document.querySelector('input[name=id]')`, 30*time.Second)
	body = text(t, ctx, "main")
	if !strings.Contains(body, fmt.Sprintf("localhost, port %d (STARTTLS)", e.Port(t, "STARTTLS"))) || !strings.Contains(body, "autoconfig") {
		t.Fatalf("discovery did not find Postfix:\n%s", body)
	}
	do(t, ctx,
		chromedp.SetValue(chromedp.CSS("#name"), "viaform"),
		chromedp.Click(chromedp.CSS(`input[name=keep][value=command]`)),
		chromedp.SendKeys(chromedp.CSS("#password_command"), "cat "+pwFile),
		chromedp.Click(chromedp.CSS(`button.primary`)))
	wait("the new account's page", `location.pathname === "/account/viaform"`, 60*time.Second)
	body = text(t, ctx, "main")
	if !strings.Contains(body, "Sending works: localhost accepted the password for "+e.User) {
		t.Errorf("the page after adding:\n%s", body)
	}
	cfg, err := config.Load(files.config)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := cfg.Account("viaform")
	if !ok || a.Server != "localhost" || a.Port != e.Port(t, "STARTTLS") || a.Credential.Command != "cat "+pwFile {
		t.Fatalf("the account in the file: %+v", a)
	}
	text, _ := os.ReadFile(files.config)
	if !strings.Contains(string(text), "# The real Postfix, on its SSL/TLS port.") {
		t.Error("the file lost its comments")
	}
	if strings.Contains(string(text), e.Password) {
		t.Error("the password was written into the file")
	}
	do(t, ctx, chromedp.Navigate(base+"/"))
	wait("three accounts on the overview", `document.querySelectorAll('li.account').length === 3`, 10*time.Second)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("the browser session ran out of time")
	}
}
