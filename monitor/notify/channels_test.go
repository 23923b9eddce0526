package notify

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/smtptest"
)

const rejectedText = "Your password was rejected by the server (535 5.7.8 Authentication credentials invalid). " +
	"Re-enter the password for me@charter.net (smtpwatch password set charter).\n\n— smtpwatch on mailmon"

// Each shoutrrr service that can run on loopback gets exactly the request
// its server expects, with the decided words: ntfy, Gotify and the generic
// webhook (Debian has no ntfy or Gotify server package: the receiver here
// is a real HTTP server asserting the request).
func TestShoutrrrRequests(t *testing.T) {
	r := newReceiver(t)
	_, chs := channels(t, fmt.Sprintf(`[[notify]]
name = "ntfy"
url = "ntfy://%[1]s/smtpwatch-alerts?disabletls=yes"
[[notify]]
name = "gotify"
url = "gotify://%[1]s/AbCdEfGhIjKlMnO?disabletls=yes"
[[notify]]
name = "generic"
url = "generic://%[1]s/hook?disabletls=yes&template=json"
`, r.hostPort()), SenderOptions{Origin: "mailmon"})
	ev := decided(t, All, failing("charter", "Charter"))
	const title = "Mail from Charter can't be sent"

	if err := send(t, chs[0], ev); err != nil {
		t.Fatal(err)
	}
	got := r.next()
	if got.Method != "POST" || got.Path != "/smtpwatch-alerts" || got.Query != "" || got.Header.Get("Title") != title ||
		got.Header.Get("Content-Type") != "text/plain; charset=utf-8" || got.Body != rejectedText {
		t.Errorf("ntfy request: %+v", got)
	}

	if err := send(t, chs[1], ev); err != nil {
		t.Fatal(err)
	}
	got = r.next()
	var gotify struct {
		Message  string          `json:"message"`
		Title    string          `json:"title"`
		Priority int             `json:"priority"`
		Extras   json.RawMessage `json:"extras"`
	}
	if err := json.Unmarshal([]byte(got.Body), &gotify); err != nil {
		t.Fatalf("gotify body %q: %v", got.Body, err)
	}
	if got.Method != "POST" || got.Path != "/message" || got.Query != "token=AbCdEfGhIjKlMnO" || got.Header.Get("Content-Type") != "application/json" ||
		gotify.Message != rejectedText || gotify.Title != title || gotify.Priority != 0 {
		t.Errorf("gotify request: %+v %+v", got, gotify)
	}

	if err := send(t, chs[2], ev); err != nil {
		t.Fatal(err)
	}
	got = r.next()
	var generic map[string]string
	if err := json.Unmarshal([]byte(got.Body), &generic); err != nil {
		t.Fatalf("generic body %q: %v", got.Body, err)
	}
	if got.Method != "POST" || got.Path != "/hook" || len(generic) != 2 || generic["title"] != title || generic["message"] != rejectedText {
		t.Errorf("generic request: %+v %v", got, generic)
	}
}

// The JSON webhook gets the event stream's object, signed: the receiver
// checks the signature as the docs tell (HMAC-SHA256 of timestamp "."
// body), and a tampered body or a wrong key does not verify.
func TestWebhookSigned(t *testing.T) {
	r := newReceiver(t)
	t.Setenv("SMTPWATCH_TEST_HOOK_KEY", "hook-s3cret-key")
	_, chs := channels(t, fmt.Sprintf(`[[notify]]
name = "hook"
webhook = "http://%s/smtpwatch"
webhook_secret_env = "SMTPWATCH_TEST_HOOK_KEY"
`, r.hostPort()), SenderOptions{Origin: "mailmon", Version: "1.2.3"})
	ev := decided(t, All, failing("charter", "Charter"))
	start := time.Now().Unix()
	if err := send(t, chs[0], ev); err != nil {
		t.Fatal(err)
	}
	got := r.next()
	if got.Method != "POST" || got.Path != "/smtpwatch" || got.Header.Get("Content-Type") != "application/json" ||
		got.Header.Get("User-Agent") != "smtpwatch/1.2.3" || got.Header.Get(HeaderDelivery) != "4242" {
		t.Errorf("webhook request: %+v", got)
	}
	ts := got.Header.Get(HeaderTimestamp)
	if n, err := strconv.ParseInt(ts, 10, 64); err != nil || n < start || n > time.Now().Unix() {
		t.Errorf("timestamp %q", ts)
	}
	sig := got.Header.Get(HeaderSignature)
	if !Verify([]byte("hook-s3cret-key"), ts, []byte(got.Body), sig) {
		t.Errorf("signature %q does not verify", sig)
	}
	if Verify([]byte("another-key"), ts, []byte(got.Body), sig) || Verify([]byte("hook-s3cret-key"), ts, []byte(got.Body+" "), sig) ||
		Verify([]byte("hook-s3cret-key"), ts+"1", []byte(got.Body), sig) {
		t.Error("a wrong key, a changed body or a changed timestamp verifies")
	}
	var body health.Event
	if err := json.Unmarshal([]byte(got.Body), &body); err != nil {
		t.Fatal(err)
	}
	n := body.Notification
	if body.Kind != health.EventNotification || body.Account != "charter" || body.To != health.Failing || n == nil ||
		n.ID != 4242 || n.Topic != health.TopicFailing || n.Title != "Mail from Charter can't be sent" || len(n.Events) != 1 || n.Events[0].Cause != "auth_rejected" {
		t.Errorf("webhook body: %s", got.Body)
	}
	if strings.Contains(got.Body, "hook-s3cret-key") {
		t.Error("the body holds the key")
	}

	// Unsigned without a secret.
	_, chs = channels(t, fmt.Sprintf(`[[notify]]
name = "hook"
webhook = "http://%s/smtpwatch"
`, r.hostPort()), SenderOptions{})
	if err := send(t, chs[0], ev); err != nil {
		t.Fatal(err)
	}
	if got := r.next(); got.Header.Get(HeaderSignature) != "" {
		t.Errorf("unsigned webhook has a signature: %v", got.Header)
	}
}

// HTTPS webhooks verify the receiver's certificate: one nothing trusts
// fails (and says why), the same one trusted works.
func TestWebhookTLS(t *testing.T) {
	r := newTLSReceiver(t)
	file := fmt.Sprintf(`[[notify]]
name = "hook"
webhook = "%s/smtpwatch"
`, r.srv.URL)
	_, chs := channels(t, file, SenderOptions{})
	err := send(t, chs[0], decided(t, All, failing("charter", "Charter")))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("an untrusted certificate: %v", err)
	}
	if r.count() != 0 {
		t.Error("the request reached a server whose certificate is not trusted")
	}
	pool := x509.NewCertPool()
	pool.AddCert(r.srv.Certificate())
	_, chs = channels(t, file, SenderOptions{RootCAs: pool})
	if err := send(t, chs[0], decided(t, All, failing("charter", "Charter"))); err != nil {
		t.Fatalf("a trusted certificate: %v", err)
	}
	if got := r.next(); got.Path != "/smtpwatch" {
		t.Errorf("request %+v", got)
	}
}

// A channel's URL never shows in what it says: not the token in a path,
// a query or a user name, whether the receiver is down or answers 500.
// (Every URL points at loopback: no test reaches a real service.)
func TestChannelErrorsHideTheURL(t *testing.T) {
	down := smtptest.ClosedPort(t)
	r := newReceiver(t)
	r.set(http.StatusInternalServerError, 0)
	t.Setenv("SMTPWATCH_TEST_URL1", "gotify://"+down+"/AsEcReTtOkEn123?disabletls=yes")
	t.Setenv("SMTPWATCH_TEST_URL2", "ntfy://tokenuser:tokenpass@"+r.hostPort()+"/secret-topic-name?disabletls=yes")
	t.Setenv("SMTPWATCH_TEST_URL3", "ntfy://"+r.hostPort()+"/secret-topic-name?disabletls=yes&tags=AAsecretbottoken,secretchat")
	t.Setenv("SMTPWATCH_TEST_URL4", "generic://"+down+"/hooks/secret-hook-path?disabletls=yes&token=secretquerytoken")
	_, chs := channels(t, `[[notify]]
name = "a"
url_env = "SMTPWATCH_TEST_URL1"
[[notify]]
name = "b"
url_env = "SMTPWATCH_TEST_URL2"
[[notify]]
name = "c"
url_env = "SMTPWATCH_TEST_URL3"
[[notify]]
name = "d"
url_env = "SMTPWATCH_TEST_URL4"
`, SenderOptions{})
	ev := decided(t, All, failing("charter", "Charter"))
	secrets := []string{"AsEcReTtOkEn123", "tokenuser", "tokenpass", "secret-topic-name", "AAsecretbottoken", "secretchat", "secret-hook-path", "secretquerytoken"}
	for _, c := range chs {
		err := send(t, c, ev)
		if err == nil {
			t.Errorf("%s: no error", c.Name)
			continue
		}
		for _, s := range secrets {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: the error shows %q: %v", c.Name, s, err)
			}
		}
		t.Logf("%s: %v", c.Name, err)
	}
}

// Retries of one delivery carry the same X-Smtpwatch-Delivery and body,
// so that a receiver can tell a retry from a new notification; a redirect
// is an error, not followed (it would turn the POST into a GET).
func TestWebhookRetriesAndRedirects(t *testing.T) {
	r := newReceiver(t)
	r.set(http.StatusBadGateway, 0)
	_, chs := channels(t, fmt.Sprintf(`[[notify]]
name = "hook"
webhook = "http://%s/hook"
`, r.hostPort()), SenderOptions{})
	status := health.Status{Accounts: []health.AccountStatus{{Name: "charter", State: health.Failing}}}
	d := New(Options{Status: func() health.Status { return status }, Coalesce: 10 * time.Millisecond,
		Retry: Retry{Attempts: 5, First: 10 * time.Millisecond, Max: 20 * time.Millisecond}}, chs)
	events := make(chan health.Event, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go d.Run(ctx, events)
	events <- failing("charter", "Charter")
	first := r.next()
	second := r.next()
	r.set(0, 0)
	eventually(t, 2*time.Second, "delivered", func() bool { return channelStatus(d, "hook").Sent == 1 })
	retries := []request{second}
	for len(r.got) > 0 {
		retries = append(retries, <-r.got)
	}
	if len(retries) < 2 {
		t.Fatalf("%d retries", len(retries))
	}
	for _, q := range retries {
		if q.Header.Get(HeaderDelivery) != first.Header.Get(HeaderDelivery) || q.Body != first.Body {
			t.Errorf("a retry differs: %v %q vs %v %q", q.Header.Get(HeaderDelivery), q.Body, first.Header.Get(HeaderDelivery), first.Body)
		}
	}

	redirect := httptest.NewServer(http.RedirectHandler(r.srv.URL+"/elsewhere", http.StatusFound))
	defer redirect.Close()
	_, chs = channels(t, fmt.Sprintf(`[[notify]]
name = "hook"
webhook = "%s/hook"
`, redirect.URL), SenderOptions{})
	if err := send(t, chs[0], decided(t, All, failing("charter", "Charter"))); err == nil || err.Error() != "the webhook answered 302 Found" {
		t.Errorf("a redirect: %v", err)
	}
	r.none(100 * time.Millisecond)
}

// The defaults the README states: 8 tries, waits doubling from 2 s to at
// most 5 min — about 4 minutes of waiting in all.
func TestRetryDefaults(t *testing.T) {
	r := Retry{}.withDefaults()
	var total time.Duration
	for i, w := 1, r.First; i < r.Attempts; i, w = i+1, min(w*2, r.Max) {
		total += w
	}
	if r.Attempts != 8 || total != 254*time.Second || r.Queue != 32 || r.Timeout != 20*time.Second {
		t.Errorf("defaults %+v wait %v in all", r, total)
	}
}
