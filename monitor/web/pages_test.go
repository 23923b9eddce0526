package web

import (
	"bufio"
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/report"
)

// The overview says what `smtpwatch status` and the tray say, in their
// words: the headline, and per account its summary, latency and when it
// was checked, with the tray's icon.
func TestOverviewUsesTheStatusWords(t *testing.T) {
	b := newBed(t)
	b.waitState("alpha", health.OK, 15*time.Second)
	b.waitState("beta", health.Degraded, 15*time.Second) // the server offers AUTH; beta has no password
	c := b.login()
	r := b.get(c, "/")
	if r.code != 200 {
		t.Fatalf("%d\n%s", r.code, r.body)
	}
	st := b.eng.Status()
	body := html.UnescapeString(r.body)
	if want := report.Headline(st, time.Now()); !strings.Contains(body, want) {
		t.Errorf("no headline %q in\n%s", want, body)
	}
	for _, a := range st.Accounts {
		for _, want := range []string{report.Summary(a, time.Now()), `href="/account/` + a.Name + `"`, report.StateSymbol(a.State)} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: %q missing", a.Name, want)
			}
		}
	}
	if !strings.Contains(body, `<img src="/icon/ok.png"`) {
		t.Error("no tray icon")
	}
	icon := b.get(c, "/icon/ok.png")
	if icon.code != 200 || icon.body != "\x89PNG ok" || icon.hdr.Get("Content-Type") != "image/png" {
		t.Errorf("icon: %d %q", icon.code, icon.body)
	}
	if r := b.get(c, "/icon/bogus.png"); r.code != 404 {
		t.Errorf("an unknown icon: %d", r.code)
	}
	frag := b.get(c, "/frag/overview")
	if frag.code != 200 || !strings.HasPrefix(strings.TrimSpace(frag.body), `<div id="live"`) || strings.Contains(frag.body, "<html") {
		t.Errorf("the fragment: %d\n%s", frag.code, frag.body)
	}
}

// A check asked for from the page runs (and logs in, as a person asking
// does); pause and resume act on one account or all.
func TestActions(t *testing.T) {
	b := newBed(t)
	b.waitState("alpha", health.OK, 15*time.Second)
	c := b.login()
	before := b.smtp.AuthAttempts.Load()
	r := b.post(c, "/check", url.Values{"account": {"alpha"}, "back": {"/account/alpha"}})
	if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/account/alpha" {
		t.Fatalf("check: %d %v", r.code, r.hdr)
	}
	if b.smtp.AuthAttempts.Load() <= before {
		t.Error("Check now did not log in")
	}
	page := b.get(c, "/account/alpha")
	if !strings.Contains(page.body, "Checked alpha: sending mail works.") {
		t.Errorf("no word of the check on the next page:\n%s", page.body)
	}
	if r := b.post(c, "/check", url.Values{"account": {"nobody"}}); r.code != http.StatusSeeOther {
		t.Fatalf("check of an unknown account: %d", r.code)
	}
	if !strings.Contains(b.get(c, "/").body, "No account named nobody is watched.") {
		t.Error("an unknown account was not said")
	}
	b.post(c, "/pause", url.Values{"account": {"beta"}, "for": {"tomorrow"}})
	a := b.waitState("beta", health.Paused, 5*time.Second)
	if !a.PausedUntil.Equal(health.NextMorning(time.Now())) {
		t.Errorf("paused until %v", a.PausedUntil)
	}
	if st := b.eng.Status(); st.Accounts[0].State == health.Paused {
		t.Error("pausing beta paused alpha")
	}
	if !strings.Contains(html.UnescapeString(b.get(c, "/").body), "paused until tomorrow 08:00") {
		t.Error("the overview does not say until when")
	}
	if r := b.post(c, "/pause", url.Values{"for": {"5y"}}); r.code != http.StatusBadRequest {
		t.Errorf("pause for 5y: %d", r.code)
	}
	b.post(c, "/resume", url.Values{"account": {"beta"}})
	b.waitState("beta", health.Degraded, 15*time.Second)
}

// The event stream tells an open page that something changed: the
// server stops answering and the account turns failing.
func TestEventsSayWhatChanged(t *testing.T) {
	b := newBed(t)
	b.waitState("alpha", health.OK, 15*time.Second)
	c := b.login()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.base+"/events", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("events: %s %v", resp.Status, resp.Header)
	}
	b.smtp.Close()
	sc := bufio.NewScanner(resp.Body)
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
		if sc.Text() == "data: alpha" {
			break
		}
	}
	if len(got) == 0 || got[len(got)-1] != "data: alpha" || !strings.Contains(strings.Join(got, "\n"), "event: change") {
		t.Fatalf("no change of alpha on the stream: %q (%v)", got, sc.Err())
	}
	a := b.waitState("alpha", health.Failing, 10*time.Second)
	page := html.UnescapeString(b.get(c, "/frag/overview").body)
	if !strings.Contains(page, report.Summary(a, time.Now())) || !strings.Contains(page, a.Last.Message) {
		t.Errorf("the fragment does not say alpha fails (%s):\n%s", report.Summary(a, time.Now()), page)
	}
}

// The account page: the report of `smtpwatch check`, uptime for three
// periods, a chart per phase with its words and numbers, the changes of
// state and the certificate.
func TestAccountPage(t *testing.T) {
	b := newBed(t)
	a := b.waitState("alpha", health.OK, 15*time.Second)
	// Uptime needs time in a state: a second check after the first verdict.
	deadline := time.Now().Add(15 * time.Second)
	for {
		sums, err := b.store.Summaries(context.Background(), "alpha", time.Time{})
		if err == nil && len(sums) == 1 && sums[0].Known() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no uptime within 15 s: %+v, %v", sums, err)
		}
		time.Sleep(50 * time.Millisecond) // bounded: alpha is checked every 2 s
	}
	c := b.login()
	// The page shows the last check: read it when no check ended while
	// the page was made (alpha is checked every 2 s).
	var r response
	for try := 0; ; try++ {
		a, _, _ = findStatus(b.eng.Status(), "alpha")
		r = b.get(c, "/account/alpha?range=7d")
		if again, _, _ := findStatus(b.eng.Status(), "alpha"); again.Last.CheckedAt.Equal(a.Last.CheckedAt) || try == 5 {
			break
		}
	}
	if r.code != 200 {
		t.Fatalf("%d\n%s", r.code, r.body)
	}
	body := html.UnescapeString(r.body)
	var rep strings.Builder
	report.Text(&rep, []probe.Result{*a.Last}, report.TextOptions{Rerun: func(probe.Result) string { return "smtpwatch check --account alpha --json" }})
	if !strings.Contains(body, rep.String()) {
		t.Errorf("the report is not the one of smtpwatch check:\n%s\nwant:\n%s", body, rep.String())
	}
	for _, want := range []string{"24 hours", "7 days", "30 days", "100.0 %", `aria-current="true">7 days`,
		`role="img"`, `<title id="chart-connect-t">Time of the connect phase</title>`, "connect: ", "on average over",
		"starting → ok", "Certificate", "more days", "Verified", "yes: chain, host name and dates"} {
		if !strings.Contains(body, want) {
			t.Errorf("the account page lacks %q", want)
		}
	}
	if r := b.get(c, "/account/nobody"); r.code != 404 || !strings.Contains(r.body, "No account named nobody is watched") {
		t.Errorf("an unknown account: %d", r.code)
	}
	frag := b.get(c, "/frag/account/alpha")
	if frag.code != 200 || !strings.Contains(frag.body, `data-frag="/frag/account/alpha"`) {
		t.Errorf("the account fragment: %d\n%s", frag.code, frag.body)
	}
}

func TestFormatPercent(t *testing.T) {
	for p, want := range map[float64]string{100: "100.0 %", 99.96: "99.9 %", 99.2: "99.2 %", 0: "0.0 %", 50.04: "50.0 %"} {
		if got := formatPercent(p); got != want {
			t.Errorf("%v: %q, want %q", p, got, want)
		}
	}
}

func TestLocalPath(t *testing.T) {
	for p, want := range map[string]string{"/account/a": "/account/a", "": "/", "//evil.example/": "/",
		"https://evil.example/": "/", "/\\evil": "/", "relative": "/", "/x\r\nSet-Cookie: a=b": "/"} {
		if got := localPath(p); got != want {
			t.Errorf("%q: %q, want %q", p, got, want)
		}
	}
}
