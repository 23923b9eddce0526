package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/smtptest"
)

// Nothing is served without a session: every page, fragment, event
// stream, asset and action answers 403 with the way in, and an action
// refused does nothing.
func TestNoSessionNoAccess(t *testing.T) {
	b := newBed(t)
	c := b.client()
	for _, p := range []string{"/", "/frag/overview", "/account/alpha", "/frag/account/alpha", "/events",
		"/static/app.js", "/static/style.css", "/icon/ok.png", "/settings", "/settings/account/alpha", "/nothing"} {
		r := b.get(c, p)
		if r.code != http.StatusForbidden || !strings.Contains(r.body, "smtpwatch open") || strings.Contains(r.body, "alpha") {
			t.Errorf("GET %s without a session: %d\n%s", p, r.code, r.body)
		}
	}
	checks := b.eng.checks.Load()
	for _, p := range []string{"/check", "/pause", "/resume", "/settings/account/alpha", "/settings/add", "/settings/account/alpha/remove"} {
		if r := b.do(c, "POST", p, url.Values{"account": {"alpha"}, "csrf": {"x"}}, nil); r.code != http.StatusForbidden {
			t.Errorf("POST %s without a session: %d", p, r.code)
		}
	}
	// A made-up session cookie is no session either.
	u, _ := url.Parse(b.base)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: b.srv.cookieName(), Value: newSecret()}})
	if r := b.get(c, "/"); r.code != http.StatusForbidden {
		t.Errorf("a made-up session: %d", r.code)
	}
	if b.eng.checks.Load() != checks || b.eng.pauses.Load() != 0 {
		t.Error("a refused request reached the engine")
	}
	if st := b.eng.Status(); st.State == health.Paused {
		t.Error("paused by a refused request")
	}
}

// A login link works once: it sets an HttpOnly, SameSite=Strict session
// cookie and moves the browser to the overview; the same link again, an
// expired one, or a link of another dashboard gets 403 and no cookie.
func TestLoginTokenIsSingleUse(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	var clock time.Time = now
	b := newBed(t, bedOptions{mutate: func(o *Options) { o.Now = func() time.Time { return clock } }})
	link, err := b.srv.LoginURL()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, b.base+"/login?token=") || len(strings.TrimPrefix(link, b.base+"/login?token=")) < 40 {
		t.Fatalf("login URL %q", link)
	}
	c := b.client()
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != 200 || len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode ||
		cookies[0].Name != "smtpwatch_session_"+strconv.Itoa(int(b.srv.Addr().Port())) || cookies[0].Path != "/" {
		t.Fatalf("login: %s, cookies %+v", resp.Status, cookies)
	}
	if !strings.HasPrefix(resp.Header.Get("Refresh"), "0; url=/") {
		t.Errorf("the login page does not move on to the overview: %q", resp.Header.Get("Refresh"))
	}
	if r := b.get(c, "/"); r.code != 200 || !strings.Contains(r.body, "alpha") {
		t.Fatalf("the overview with the session: %d", r.code)
	}

	// The same link again, in another browser: refused, no session.
	other := b.client()
	resp, err = other.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("the link used twice: %s, cookies %v", resp.Status, resp.Cookies())
	}
	if r := b.get(other, "/"); r.code != http.StatusForbidden {
		t.Errorf("the second browser got in: %d", r.code)
	}

	// A link not used within TokenLifetime expires.
	late, _ := b.srv.LoginURL()
	clock = now.Add(TokenLifetime + time.Second)
	if r := b.get(b.client(), strings.TrimPrefix(late, b.base)); r.code != http.StatusForbidden {
		t.Errorf("an expired link: %d", r.code)
	}
	if r := b.get(c, "/"); r.code != 200 {
		t.Fatalf("the session after %v: %d", TokenLifetime, r.code)
	}
	// A link from another dashboard (another daemon) is unknown here.
	b2 := newBed(t)
	foreign, _ := b2.srv.LoginURL()
	if r := b.get(b.client(), "/login?"+strings.SplitN(foreign, "?", 2)[1]); r.code != http.StatusForbidden {
		t.Errorf("another dashboard's link: %d", r.code)
	}
	if r := b.get(b.client(), "/login"); r.code != http.StatusForbidden {
		t.Errorf("no token: %d", r.code)
	}

	// A session ends after SessionIdle without a request, and is kept
	// alive by requests.
	clock = clock.Add(SessionIdle - time.Minute)
	if r := b.get(c, "/"); r.code != 200 {
		t.Errorf("a session used within SessionIdle: %d", r.code)
	}
	clock = clock.Add(SessionIdle + time.Minute)
	if r := b.get(c, "/"); r.code != http.StatusForbidden {
		t.Errorf("a session idle for longer than SessionIdle: %d", r.code)
	}
}

// Tokens and sessions are bounded: a flood of login links keeps only the
// newest, and the oldest session goes when too many are open.
func TestTokensAndSessionsBounded(t *testing.T) {
	clock := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	a := newAuthority(func() time.Time { clock = clock.Add(time.Millisecond); return clock })
	first := a.newToken()
	for range maxTokens {
		a.newToken()
	}
	if len(a.tokens) != maxTokens {
		t.Errorf("%d tokens kept", len(a.tokens))
	}
	if _, _, ok := a.exchange(first); ok {
		t.Error("the oldest token outlived the bound")
	}
	var ids []string
	for range maxSessions + 1 {
		id, _, ok := a.exchange(a.newToken())
		if !ok {
			t.Fatal("exchange")
		}
		ids = append(ids, id)
	}
	if len(a.sessions) != maxSessions {
		t.Errorf("%d sessions kept", len(a.sessions))
	}
	if _, ok := a.session(ids[0]); ok {
		t.Error("the oldest session outlived the bound")
	}
	if _, ok := a.session(ids[len(ids)-1]); !ok {
		t.Error("the newest session is gone")
	}
}

// The Host header must name the listener: a page whose own name a DNS
// rebinding pointed at 127.0.0.1 gets nothing, even with a valid cookie
// (as it would send it: the cookie jar is keyed by 127.0.0.1).
func TestHostHeaderChecked(t *testing.T) {
	b := newBed(t)
	c := b.login()
	port := strconv.Itoa(int(b.srv.Addr().Port()))
	for _, host := range []string{"evil.example:" + port, "evil.example", smtptest.ClosedPort(t),
		"127.0.0.2:" + port, "[::1]:" + port, "localhost.evil.example:" + port, "127.0.0.1:" + port + ".evil"} {
		for _, p := range []string{"/", "/events", "/settings", "/static/app.js"} {
			if r := b.do(c, "GET", p, nil, map[string]string{"Host": host}); r.code != http.StatusForbidden || strings.Contains(r.body, "alpha") {
				t.Errorf("GET %s with Host %q: %d", p, host, r.code)
			}
		}
		csrf := b.csrf(c)
		if r := b.do(c, "POST", "/pause", url.Values{"csrf": {csrf}}, map[string]string{"Host": host}); r.code != http.StatusForbidden {
			t.Errorf("POST with Host %q: %d", host, r.code)
		}
	}
	if b.eng.pauses.Load() != 0 {
		t.Error("a request with a foreign Host paused checks")
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST:" + port} {
		if r := b.do(c, "GET", "/", nil, map[string]string{"Host": host}); r.code != 200 {
			t.Errorf("Host %q: %d\n%s", host, r.code, r.body)
		}
	}
	if r := b.get(c, "/"); r.hdr.Get("X-Frame-Options") != "DENY" || !strings.Contains(r.hdr.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
		r.hdr.Get("Referrer-Policy") != "same-origin" || !strings.Contains(r.hdr.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("security headers: %v", r.hdr)
	}
}

// A change needs the session's CSRF token, an Origin of the site itself
// when there is one, and no fetch metadata saying another site made the
// request; reads of data are refused to other sites' pages too.
func TestChangesNeedCSRFAndSameOrigin(t *testing.T) {
	b := newBed(t)
	c := b.login()
	other := b.login()
	csrf, otherCSRF := b.csrf(c), b.csrf(other)
	if csrf == otherCSRF {
		t.Fatal("two sessions share a CSRF token")
	}
	pause := func(form url.Values, hdr map[string]string) int {
		return b.do(c, "POST", "/pause", form, hdr).code
	}
	for name, tc := range map[string]struct {
		form url.Values
		hdr  map[string]string
	}{
		"no token":                             {url.Values{"for": {"1h"}}, nil},
		"empty token":                          {url.Values{"for": {"1h"}, "csrf": {""}}, nil},
		"another session's":                    {url.Values{"for": {"1h"}, "csrf": {otherCSRF}}, nil},
		"token in a header of another session": {url.Values{"for": {"1h"}}, map[string]string{"X-CSRF-Token": otherCSRF}},
		"another origin":                       {url.Values{"for": {"1h"}, "csrf": {csrf}}, map[string]string{"Origin": "http://" + smtptest.ClosedPort(t)}},
		"another site's page":                  {url.Values{"for": {"1h"}, "csrf": {csrf}}, map[string]string{"Origin": "http://evil.example"}},
		"null origin":                          {url.Values{"for": {"1h"}, "csrf": {csrf}}, map[string]string{"Origin": "null"}},
		"same-site fetch":                      {url.Values{"for": {"1h"}, "csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}},
		"cross-site form":                      {url.Values{"for": {"1h"}, "csrf": {csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}},
	} {
		if code := pause(tc.form, tc.hdr); code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, code)
		}
	}
	if b.eng.pauses.Load() != 0 {
		t.Fatalf("a refused POST paused checks %d times", b.eng.pauses.Load())
	}
	// Reads another site's script could make: refused; a link followed
	// from another site opens the page.
	for _, p := range []string{"/frag/overview", "/events", "/static/app.js", "/icon/ok.png"} {
		if r := b.do(c, "GET", p, nil, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}); r.code != http.StatusForbidden {
			t.Errorf("GET %s from another site's script: %d", p, r.code)
		}
		if r := b.do(c, "GET", p, nil, map[string]string{"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "script"}); r.code != http.StatusForbidden {
			t.Errorf("GET %s embedded by another port's page: %d", p, r.code)
		}
	}
	if r := b.do(c, "GET", "/", nil, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}); r.code != 200 {
		t.Errorf("a link from another site to the overview: %d", r.code)
	}

	// The page's own forms work: with the token, from the site, as a
	// browser sends them.
	r := b.do(c, "POST", "/pause", url.Values{"for": {"1h"}, "csrf": {csrf}, "back": {"/account/alpha"}},
		map[string]string{"Origin": b.base, "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"})
	if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/account/alpha" {
		t.Fatalf("the page's own form: %d %v", r.code, r.hdr)
	}
	b.waitState("alpha", health.Paused, 5*time.Second)
	// The token in a header, as a script of the page sends it.
	r = b.do(c, "POST", "/resume", url.Values{"back": {"https://evil.example/"}}, map[string]string{"X-CSRF-Token": csrf})
	if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/" {
		t.Fatalf("resume with the header token: %d %v (a back= to another site must go to /)", r.code, r.hdr)
	}
}

// A request body is bounded.
func TestFormBounded(t *testing.T) {
	b := newBed(t)
	c := b.login()
	big := url.Values{"csrf": {b.csrf(c)}, "x": {strings.Repeat("a", maxFormBytes)}}
	if r := b.do(c, "POST", "/check", big, nil); r.code != http.StatusForbidden {
		t.Errorf("a body over %d bytes: %d", maxFormBytes, r.code)
	}
}

func TestListenLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", ":0", "192.0.2.1:0", "example.com:0"} {
		if ln, err := Listen(addr); err == nil {
			ln.Close()
			t.Errorf("Listen(%q) bound %s", addr, ln.Addr())
		}
	}
	ln, err := Listen("localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if !strings.HasPrefix(ln.Addr().String(), "127.0.0.1:") {
		t.Errorf("localhost bound %s", ln.Addr())
	}
}
