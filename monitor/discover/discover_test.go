package discover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

// world is the internet as discovery sees it, on loopback: a DNS zone
// (miekg/dns) and one HTTPS server for every web host, with certificates
// from a test CA. Nothing here leaves the machine.
type world struct {
	t    testing.TB
	zone *smtptest.Zone
	web  *smtptest.Web
	ca   *smtptest.CA
}

// webHosts are the names the HTTPS server has certificates for.
var webHosts = []string{
	"autoconfig.example.test", "example.test", "www.example.test", "autoconfig.thunderbird.net",
	"autoconfig.hoster.test", "evil.test", "autoconfig.other.test",
}

func newWorld(t testing.TB, records ...string) *world {
	t.Helper()
	w := &world{t: t, ca: smtptest.NewCA(t, "Discovery Test CA", "smtpwatch tests")}
	w.zone = smtptest.StartZone(t, "127.0.0.1:0", records...)
	for _, h := range webHosts {
		w.zone.Add(t, h+". 60 IN A 127.0.0.1")
	}
	// badcert.test resolves and answers, with a certificate for another name.
	w.zone.Add(t, "autoconfig.badcert.test. 60 IN A 127.0.0.1")
	w.web = smtptest.StartWeb(t, "127.0.0.1:0", w.ca, webHosts...)
	return w
}

// serve makes host answer every path with status and body.
func (w *world) serve(host string, status int, body string) {
	w.web.Handle(host, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "application/xml")
		rw.WriteHeader(status)
		fmt.Fprint(rw, body)
	}))
}

func (w *world) options(timeout time.Duration) Options {
	r := w.zone.Resolver()
	return Options{HTTP: w.web.Client(w.ca, r.LookupHost), Resolver: r, Timeout: timeout}
}

func (w *world) discover(address string, timeout time.Duration) Result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Discover(ctx, address, w.options(timeout))
	if err != nil {
		w.t.Fatalf("Discover(%q): %v", address, err)
	}
	return res
}

func outcome(r Result, s Source) Outcome {
	for _, o := range r.Outcomes {
		if o.Source == s {
			return o
		}
	}
	return Outcome{}
}

func (r Result) String() string {
	var b strings.Builder
	for _, c := range r.Candidates {
		fmt.Fprintf(&b, "  %s %s user=%q auth=%v rank=%d via %s also=%v\n", c.Addr(), c.Security, c.Username, c.Auth, c.Rank, c.Via, c.Also)
	}
	for _, o := range r.Outcomes {
		fmt.Fprintf(&b, "  [%s] %s found=%d note=%q warning=%q skipped=%v %v\n", o.Source, o.Query, o.Found, o.Note, o.Warning, o.Skipped, o.Duration.Round(time.Millisecond))
	}
	return b.String()
}

func addrs(cs []Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Addr()+"/"+string(c.Security)+"/"+string(c.Source))
	}
	return out
}

const exampleDoc = `<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.test">
    <domain>example.test</domain>
    <displayName>Example Mail</displayName>
    <incomingServer type="imap"><hostname>imap.example.test</hostname><port>993</port><socketType>SSL</socketType></incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.%EMAILDOMAIN%</hostname>
      <port>465</port>
      <socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>password-cleartext</authentication>
    </outgoingServer>
    <outgoingServer type="smtp">
      <hostname>submit.example.test</hostname>
      <port>587</port>
      <socketType>STARTTLS</socketType>
      <username>%EMAILADDRESS%</username>
      <authentication>OAuth2</authentication>
    </outgoingServer>
    <outgoingServer type="smtp">
      <hostname>plain.example.test</hostname>
      <port>25</port>
      <socketType>plain</socketType>
    </outgoingServer>
  </emailProvider>
</clientConfig>`

func docFor(host string, port int, socket, auth string) string {
	return fmt.Sprintf(`<clientConfig version="1.1"><emailProvider id="x"><outgoingServer type="smtp">
<hostname>%s</hostname><port>%d</port><socketType>%s</socketType><username>%%EMAILADDRESS%%</username>
<authentication>%s</authentication></outgoingServer></emailProvider></clientConfig>`, host, port, socket, auth)
}

// TestProviderTable: a domain of the provider table is answered from it,
// at once, without waiting for the network.
func TestProviderTable(t *testing.T) {
	w := newWorld(t)
	w.zone.Silence("gmail.com") // anything asked of the network would hang
	w.zone.Silence("_submissions._tcp.gmail.com")
	w.zone.Silence("_submission._tcp.gmail.com")
	w.zone.Silence("smtp.gmail.com")
	w.zone.Silence("mail.gmail.com")
	res := w.discover("Me@GMail.com", 5*time.Second)
	if got := addrs(res.Candidates); !slices.Equal(got, []string{"smtp.gmail.com:587/starttls/providers", "smtp.gmail.com:465/tls/providers"}) {
		t.Fatalf("candidates %v\n%s", got, res)
	}
	c := res.Candidates[0]
	if c.Preset != "gmail" || c.Provider != "Gmail" || c.OAuth2() || c.Username != "" {
		t.Errorf("candidate %+v", c)
	}
	if res.Duration > 2*time.Second {
		t.Errorf("took %v: it waited for slower sources", res.Duration)
	}
	if o := outcome(res, SourceGuess); !o.Skipped || o.Warning != "" {
		t.Errorf("the guess was not skipped: %+v", o)
	}
	if res.Domain != "gmail.com" {
		t.Errorf("domain %q", res.Domain)
	}

	// Microsoft's domains sign in with OAuth2.
	res = w.discover("me@hotmail.com", 5*time.Second)
	if len(res.Candidates) == 0 || !res.Candidates[0].OAuth2() || res.Candidates[0].Preset != "outlook" {
		t.Errorf("hotmail.com:\n%s", res)
	}
}

// TestAutoconfig: the provider's own document, in its order, with the
// placeholders filled in; a server without encryption is left out.
func TestAutoconfig(t *testing.T) {
	w := newWorld(t)
	var gotQuery atomic.Value
	w.web.Handle("autoconfig.example.test", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		gotQuery.Store(r.URL.RequestURI())
		io.WriteString(rw, exampleDoc)
	}))
	res := w.discover("jo@example.test", 5*time.Second)
	if got := addrs(res.Candidates); len(got) < 2 || got[0] != "smtp.example.test:465/tls/autoconfig" || got[1] != "submit.example.test:587/starttls/autoconfig" {
		t.Fatalf("candidates %v\n%s", got, res)
	}
	a, b := res.Candidates[0], res.Candidates[1]
	if a.Username != "jo" || !slices.Equal(a.Auth, []Auth{AuthPassword}) || a.Provider != "Example Mail" || a.OAuth2() {
		t.Errorf("first %+v", a)
	}
	if b.Username != "" || !b.OAuth2() {
		t.Errorf("second %+v", b)
	}
	if q, _ := gotQuery.Load().(string); q != "/mail/config-v1.1.xml?emailaddress=jo%40example.test" {
		t.Errorf("asked %q", q)
	}
	o := outcome(res, SourceAutoconfig)
	if o.Found != 2 || !strings.Contains(o.Note, "left out plain.example.test:25: it has no encryption") || o.Warning != "" {
		t.Errorf("outcome %+v", o)
	}
	for _, c := range res.Candidates {
		if c.Server == "plain.example.test" {
			t.Errorf("a server without encryption was offered: %+v", c)
		}
	}
}

// TestWellKnownAndISPDB: each HTTP source alone finds the server.
func TestWellKnownAndISPDB(t *testing.T) {
	for _, tt := range []struct {
		host, path string
		src        Source
	}{
		{"example.test", "/.well-known/autoconfig/mail/config-v1.1.xml", SourceWellKnown},
		{"autoconfig.thunderbird.net", "/v1.1/example.test", SourceISPDB},
	} {
		t.Run(string(tt.src), func(t *testing.T) {
			w := newWorld(t)
			w.web.Handle(tt.host, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if r.URL.Path != tt.path {
					http.NotFound(rw, r)
					return
				}
				fmt.Fprint(rw, docFor("smtp.example.test", 587, "STARTTLS", "password-cleartext"))
			}))
			res := w.discover("jo@example.test", 5*time.Second)
			if len(res.Candidates) == 0 || res.Candidates[0].Source != tt.src || res.Candidates[0].Addr() != "smtp.example.test:587" {
				t.Fatalf("%s", res)
			}
			if o := outcome(res, SourceAutoconfig); o.Note != "no document (HTTP 404)" {
				t.Errorf("autoconfig outcome %+v", o)
			}
		})
	}
}

// TestMX: a domain hosted by Microsoft 365 or Google Workspace is known
// by its MX; another mail host's base domain is looked up in the ISPDB.
func TestMX(t *testing.T) {
	t.Run("microsoft 365", func(t *testing.T) {
		w := newWorld(t, "corp.test. 60 IN MX 0 corp-test.mail.protection.outlook.com.")
		res := w.discover("jo@corp.test", 5*time.Second)
		if len(res.Candidates) == 0 {
			t.Fatalf("%s", res)
		}
		c := res.Candidates[0]
		if c.Preset != "office365" || c.Server != "smtp.office365.com" || c.Source != SourceMX || !c.OAuth2() ||
			!strings.Contains(c.Via, "corp-test.mail.protection.outlook.com") {
			t.Errorf("%+v\n%s", c, res)
		}
	})
	t.Run("google workspace", func(t *testing.T) {
		w := newWorld(t, "corp.test. 60 IN MX 1 aspmx.l.google.com.", "corp.test. 60 IN MX 5 alt1.aspmx.l.google.com.")
		res := w.discover("jo@corp.test", 5*time.Second)
		if len(res.Candidates) == 0 || res.Candidates[0].Preset != "gmail" || res.Candidates[0].Provider != "Gmail" {
			t.Errorf("%s", res)
		}
	})
	t.Run("hoster in the ISPDB", func(t *testing.T) {
		w := newWorld(t, "shop.test. 60 IN MX 10 mx1.hoster.test.", "shop.test. 60 IN MX 20 mx2.hoster.test.")
		w.web.Handle("autoconfig.thunderbird.net", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1.1/hoster.test" {
				http.NotFound(rw, r)
				return
			}
			fmt.Fprint(rw, docFor("smtp.hoster.test", 465, "SSL", "password-cleartext"))
		}))
		res := w.discover("jo@shop.test", 5*time.Second)
		if len(res.Candidates) == 0 {
			t.Fatalf("%s", res)
		}
		c := res.Candidates[0]
		if c.Addr() != "smtp.hoster.test:465" || c.Source != SourceMX || !strings.Contains(c.Via, "MX mx1.hoster.test") {
			t.Errorf("%+v\n%s", c, res)
		}
	})
	t.Run("null MX", func(t *testing.T) {
		w := newWorld(t, "nomail.test. 60 IN MX 0 .")
		res := w.discover("jo@nomail.test", 5*time.Second)
		if o := outcome(res, SourceMX); !strings.Contains(o.Note, "accepts no mail") {
			t.Errorf("%+v", o)
		}
	})
}

// TestSRV: RFC 6186 / 8314 records, implicit TLS first.
func TestSRV(t *testing.T) {
	w := newWorld(t,
		"_submission._tcp.example.test. 60 IN SRV 0 1 587 mail.example.test.",
		"_submissions._tcp.example.test. 60 IN SRV 0 1 465 mail.example.test.",
		"_submissions._tcp.none.test. 60 IN SRV 0 0 0 .",
	)
	res := w.discover("jo@example.test", 5*time.Second)
	got := addrs(res.Candidates)
	if len(got) < 2 || got[0] != "mail.example.test:465/tls/srv" || got[1] != "mail.example.test:587/starttls/srv" {
		t.Fatalf("candidates %v\n%s", got, res)
	}
	res = w.discover("jo@none.test", 5*time.Second)
	if o := outcome(res, SourceSRV); !strings.Contains(o.Note, "says there is no such service") || o.Found != 0 {
		t.Errorf("%+v", o)
	}
}

// TestGuess: smtp.DOMAIN and mail.DOMAIN are offered only when they
// resolve, and last.
func TestGuess(t *testing.T) {
	w := newWorld(t, "smtp.guess.test. 60 IN A 127.0.0.1")
	res := w.discover("jo@guess.test", 5*time.Second)
	got := addrs(res.Candidates)
	if !slices.Equal(got, []string{"smtp.guess.test:465/tls/guess", "smtp.guess.test:587/starttls/guess"}) {
		t.Fatalf("candidates %v\n%s", got, res)
	}
	if o := outcome(res, SourceGuess); !strings.Contains(o.Note, "mail.guess.test: no such record") {
		t.Errorf("%+v", o)
	}
}

// TestRanking: when several sources answer, the best-ranked wins whatever
// answered first, the same server from two sources is one candidate, and
// Discover waits for a better-ranked source that is still asking.
func TestRanking(t *testing.T) {
	w := newWorld(t,
		"_submissions._tcp.example.test. 60 IN SRV 0 1 465 smtp.example.test.",
		"smtp.example.test. 60 IN A 127.0.0.1",
		"example.test. 60 IN MX 10 mx.example.test.",
	)
	// The autoconfig answers only after the SRV records were asked for and
	// a moment more: the lower-ranked answers are in first.
	w.web.Handle("autoconfig.example.test", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		deadline := time.Now().Add(5 * time.Second)
		for !slices.Contains(w.zone.Asked(), "smtp.example.test A") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond) // bounded wait for the other sources' queries
		}
		time.Sleep(200 * time.Millisecond)
		fmt.Fprint(rw, docFor("submit.example.test", 587, "STARTTLS", "password-cleartext"))
	}))
	w.web.Handle("autoconfig.thunderbird.net", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprint(rw, docFor("smtp.example.test", 465, "SSL", "password-cleartext"))
	}))
	res := w.discover("jo@example.test", 10*time.Second)
	got := addrs(res.Candidates)
	want := []string{"submit.example.test:587/starttls/autoconfig", "smtp.example.test:465/tls/ispdb", "smtp.example.test:587/starttls/guess"}
	if !slices.Equal(got, want) {
		t.Fatalf("candidates\n got %v\nwant %v\n%s", got, want, res)
	}
	if also := res.Candidates[1].Also; !slices.Contains(also, SourceSRV) || !slices.Contains(also, SourceGuess) {
		t.Errorf("the ISPDB's server is also the SRV's and a guess: also = %v", also)
	}
	for _, o := range res.Outcomes {
		if o.Skipped {
			t.Errorf("%s was skipped though every source answered before the best: %+v", o.Source, o)
		}
	}
}

// TestEarlyAnswer: once the best-ranked source still asking could not do
// better, Discover returns without waiting for the slow ones.
func TestEarlyAnswer(t *testing.T) {
	w := newWorld(t)
	w.zone.Silence("example.test")
	w.zone.Silence("_submissions._tcp.example.test")
	w.zone.Silence("_submission._tcp.example.test")
	w.zone.Silence("smtp.example.test")
	w.zone.Silence("mail.example.test")
	w.serve("autoconfig.example.test", 200, docFor("smtp.example.test", 465, "SSL", "password-cleartext"))
	res := w.discover("jo@example.test", 20*time.Second)
	if len(res.Candidates) != 1 || res.Candidates[0].Source != SourceAutoconfig {
		t.Fatalf("%s", res)
	}
	if res.Duration > 10*time.Second {
		t.Errorf("took %v: it waited for the silent DNS", res.Duration)
	}
	for _, s := range []Source{SourceMX, SourceSRV, SourceGuess} {
		if o := outcome(res, s); !o.Skipped || o.Warning != "" {
			t.Errorf("%s: %+v", s, o)
		}
	}
}

// TestBadAddress: an address that cannot be searched for is the one error.
func TestBadAddress(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "no e-mail address given",
		"me":                `"me" has no domain: give the whole address, like me@example.com`,
		"me@":               `"me@" has no domain after the @`,
		"@example.com":      `nothing before the @`,
		"me@example":        `"example" is not a domain name`,
		"me@bad domain.com": "contains a space",
		"me@exa_mple..com":  "is not a domain name",
	} {
		_, err := Discover(context.Background(), in, Options{})
		var ae *AddressError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), want) {
			t.Errorf("Discover(%q) error = %v, want an *AddressError with %q", in, err, want)
		}
	}
	if _, d, err := ParseAddress("Jo <jo@Bücher.Example>"); err != nil || d != "xn--bcher-kva.example" {
		t.Errorf("ParseAddress = %q, %v", d, err)
	}
}

// TestUnknownDomain: a domain that does not exist finds nothing, says so
// per source without warnings, and does not wait for the deadline.
func TestUnknownDomain(t *testing.T) {
	w := newWorld(t)
	res := w.discover("jo@nowhere.test", 20*time.Second)
	if len(res.Candidates) != 0 {
		t.Fatalf("%s", res)
	}
	if ws := res.Warnings(); len(ws) != 0 {
		t.Errorf("warnings for a domain that does not exist: %+v", ws)
	}
	if res.Duration > 10*time.Second {
		t.Errorf("took %v", res.Duration)
	}
	if o := outcome(res, SourceAutoconfig); o.Note != "no such host" {
		t.Errorf("autoconfig: %+v", o)
	}
	if o := outcome(res, SourceMX); o.Note != "MX of nowhere.test: no such record" {
		t.Errorf("mx: %+v", o)
	}
}

// TestFaults: each fault is a warning that names its source, the other
// sources still answer, and nothing waits past the deadline.
func TestFaults(t *testing.T) {
	good := docFor("smtp.example.test", 587, "STARTTLS", "password-cleartext")
	huge := "<clientConfig>" + strings.Repeat("<!-- padding -->", DefaultMaxDocument/16+1) + "</clientConfig>"
	for _, tt := range []struct {
		name    string
		setup   func(w *world)
		address string
		src     Source
		warning string
	}{
		{"malformed XML", func(w *world) { w.serve("autoconfig.example.test", 200, "<clientConfig><emailProvider>") },
			"jo@example.test", SourceAutoconfig, "not a valid XML document"},
		{"not autoconfig", func(w *world) { w.serve("autoconfig.example.test", 200, "<html><body>Welcome</body></html>") },
			"jo@example.test", SourceAutoconfig, "not an autoconfig document (the root element is <html>)"},
		{"huge with length", func(w *world) {
			w.web.Handle("autoconfig.example.test", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				rw.Header().Set("Content-Length", fmt.Sprint(len(huge)))
				io.WriteString(rw, huge)
			}))
		}, "jo@example.test", SourceAutoconfig, fmt.Sprintf("the document is %d bytes, more than the 131072 accepted: ignored", len(huge))},
		{"huge chunked", func(w *world) {
			w.web.Handle("autoconfig.example.test", http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				for range 20 {
					fmt.Fprint(rw, huge[:len(huge)/10])
					rw.(http.Flusher).Flush()
				}
			}))
		}, "jo@example.test", SourceAutoconfig, "larger than the 131072 bytes accepted"},
		{"invalid host name", func(w *world) { w.serve("autoconfig.example.test", 200, docFor("smtp example", 587, "STARTTLS", "x")) },
			"jo@example.test", SourceAutoconfig, `an invalid host name "smtp example"`},
		{"server error", func(w *world) { w.serve("autoconfig.thunderbird.net", 500, "oops") },
			"jo@example.test", SourceISPDB, "HTTP 500 Internal Server Error"},
		{"redirect to another site", func(w *world) {
			w.web.Handle("autoconfig.example.test", http.RedirectHandler("https://evil.test/config.xml", http.StatusFound))
			w.serve("evil.test", 200, docFor("smtp.evil.test", 465, "SSL", "password-cleartext"))
		}, "jo@example.test", SourceAutoconfig, "redirected to https://evil.test/config.xml: not followed (another site than autoconfig.example.test)"},
		{"redirect to http", func(w *world) {
			w.web.Handle("autoconfig.example.test", http.RedirectHandler("http://autoconfig.example.test/x.xml", http.StatusMovedPermanently))
		}, "jo@example.test", SourceAutoconfig, "not followed (only https is followed)"},
		{"redirect loop", func(w *world) {
			w.web.Handle("autoconfig.example.test", http.RedirectHandler("https://autoconfig.example.test/again", http.StatusFound))
		}, "jo@example.test", SourceAutoconfig, "more than 5 redirects"},
		{"certificate for another name", func(w *world) {}, "jo@badcert.test", SourceAutoconfig, "the certificate is not valid for this name"},
		{"DNS error", func(w *world) { w.zone.ServFail("example.test") }, "jo@example.test", SourceMX, "MX of example.test: DNS error"},
		{"DNS error in SRV", func(w *world) { w.zone.ServFail("_submission._tcp.example.test") }, "jo@example.test", SourceSRV, "_submission._tcp.example.test: DNS error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, "smtp.example.test. 60 IN A 127.0.0.1")
			tt.setup(w)
			if tt.src != SourceISPDB {
				w.serve("autoconfig.thunderbird.net", 200, good)
			}
			res := w.discover(tt.address, 5*time.Second)
			o := outcome(res, tt.src)
			if !strings.Contains(o.Warning, tt.warning) {
				t.Errorf("%s warning = %q, want %q\n%s", tt.src, o.Warning, tt.warning, res)
			}
			if o.Found != 0 {
				t.Errorf("%s found %d candidates despite the fault", tt.src, o.Found)
			}
			for _, c := range res.Candidates {
				if strings.Contains(c.Server, "evil") {
					t.Errorf("a candidate from the other site: %+v", c)
				}
			}
			if tt.address == "jo@example.test" && (len(res.Candidates) == 0 || res.Candidates[0].Server != "smtp.example.test") {
				t.Errorf("the other sources did not answer:\n%s", res)
			}
		})
	}
}

// TestSlowSources: HTTP servers that never answer or trickle, and DNS
// that never answers, cost the deadline and no more; each slow source
// says it gave up.
func TestSlowSources(t *testing.T) {
	w := newWorld(t)
	hang := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	trickle := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Length", "100000")
		rw.WriteHeader(200)
		for {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
				fmt.Fprint(rw, "<")
				rw.(http.Flusher).Flush()
			}
		}
	})
	w.web.Handle("autoconfig.example.test", hang)
	w.web.Handle("example.test", trickle)
	w.web.Handle("autoconfig.thunderbird.net", hang)
	for _, n := range []string{"example.test", "_submissions._tcp.example.test", "_submission._tcp.example.test", "smtp.example.test", "mail.example.test"} {
		w.zone.Silence(n)
	}
	const deadline = 700 * time.Millisecond
	start := time.Now()
	res := w.discover("jo@example.test", deadline)
	took := time.Since(start)
	if took > deadline+1500*time.Millisecond {
		t.Errorf("took %v with a deadline of %v", took, deadline)
	}
	if len(res.Candidates) != 0 {
		t.Errorf("%s", res)
	}
	for _, s := range []Source{SourceAutoconfig, SourceWellKnown, SourceISPDB, SourceMX, SourceSRV, SourceGuess} {
		o := outcome(res, s)
		if !strings.Contains(o.Warning, "no answer") && !strings.Contains(o.Warning, "in time") {
			t.Errorf("%s: %+v", s, o)
		}
	}
}

// TestCallerRedirectRuleKept: Discover's rule applies to the client it is
// given, without changing that client.
func TestCallerRedirectRuleKept(t *testing.T) {
	w := newWorld(t)
	o := w.options(time.Second)
	if o.HTTP.CheckRedirect != nil {
		t.Fatal("test client has a redirect rule")
	}
	w.web.Handle("autoconfig.example.test", http.RedirectHandler("https://evil.test/x", http.StatusFound))
	if _, err := Discover(context.Background(), "jo@example.test", o); err != nil {
		t.Fatal(err)
	}
	if o.HTTP.CheckRedirect != nil {
		t.Error("Discover changed the caller's client")
	}
}

// TestSameSite pins the redirect rule.
func TestSameSite(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"autoconfig.example.com", "example.com", true},
		{"autoconfig.example.com", "www.example.com", true},
		{"autoconfig.example.co.uk", "mail.example.co.uk", true},
		{"autoconfig.example.co.uk", "other.co.uk", false},
		{"autoconfig.example.com", "example.com.evil.net", false},
		{"a.github.io", "b.github.io", false}, // a public suffix: different owners
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", "localhost", false},
	} {
		if got := sameSite(tt.a, tt.b); got != tt.want {
			t.Errorf("sameSite(%q, %q) = %v", tt.a, tt.b, got)
		}
	}
}

// TestSecurityNeverNone: no source offers a server without encryption.
func TestSecurityNeverNone(t *testing.T) {
	w := newWorld(t)
	w.serve("autoconfig.example.test", 200, docFor("smtp.example.test", 25, "plain", "password-cleartext"))
	res := w.discover("jo@example.test", 3*time.Second)
	for _, c := range res.Candidates {
		if c.Security != probe.SecurityTLS && c.Security != probe.SecurityStartTLS {
			t.Errorf("%+v", c)
		}
	}
}
