package e2e

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/keyringtest"
	"smtpwatch/monitor/oauthtest"
)

// TestDovecotOAuth2Dashboard: an account that waits for its first OAuth2
// sign-in is signed in from the dashboard's settings. The page hands over
// the provider's sign-in page; the person consents there; the sign-in
// lands in the real keyring and the daemon checks the account with it
// against the real Dovecot at once — its checks are an hour apart, so only
// that check can turn it ok — without a restart.
func TestDovecotOAuth2Dashboard(t *testing.T) {
	e := needEnv(t)
	dc := needDovecot(t)
	kr := keyringtest.Start(t)
	idp := dc.provider(t, oauthtest.Options{ClientID: "smtpwatch-test"})
	const account = "dovecot"
	files := writeDaemonConfig(t, e, onlineTarget(t))
	cfg := writeDovecotConfig(t, files, dc, idp, account, "1h") // only the check after the sign-in turns it ok
	env := oauthEnv(t, e, kr)
	d := startDaemonWith(t, files, env)
	d.waitStatus(t, e, "no sign-in yet", time.Now(), 30*time.Second, accountIs(account, "failing", "oauth_sign_in_required"))

	r := runWith(t, env, "open", "--print-url", "--socket", files.socket)
	link := strings.TrimSpace(r.Stdout)
	if r.Exit != exitOK || !strings.HasPrefix(link, "http://127.0.0.1:") {
		t.Fatalf("open --print-url:\n%s", r)
	}
	base := strings.SplitN(link, "/login", 2)[0]
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	get := func(u string) string {
		t.Helper()
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s\n%s", u, resp.Status, b)
		}
		return string(b)
	}
	get(link) // the one-time link becomes the session cookie
	settings := get(base + "/settings")
	action := "/settings/account/" + account + "/oauth"
	if !strings.Contains(settings, `action="`+action+`"`) {
		t.Fatalf("the settings offer no OAuth2 sign-in for %s:\n%s", account, settings)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(settings)
	if m == nil {
		t.Fatalf("no CSRF token in the settings:\n%s", settings)
	}
	resp, err := client.PostForm(base+action, url.Values{"csrf": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	page := string(b)
	sm := regexp.MustCompile(`href="(` + regexp.QuoteMeta(idp.AuthURL) + `[^"]*)"`).FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || sm == nil {
		t.Fatalf("the sign-in page: %s, no link to the provider:\n%s", resp.Status, page)
	}

	// The person signs in at the provider's page.
	if answer, err := idp.Consent(ctx, html.UnescapeString(sm[1]), dc.User); err != nil {
		t.Fatalf("consent: %v\n%s", err, answer)
	}
	d.waitStatus(t, e, "signed in from the dashboard", time.Now(), 30*time.Second, accountIs(account, "ok", "ok"))
	if n := idp.Issued.Load(); n < 1 {
		t.Errorf("%d access tokens issued", n)
	}
	// The sign-in is in the keyring, not in the file.
	if got := secretTool(t, kr, "", "lookup", "username", account, "service", credential.OAuthKeyringService); !strings.Contains(got, "refresh_token") {
		t.Errorf("the keyring holds no sign-in for %s", account)
	}
	if after, _ := os.ReadFile(files.config); string(after) != cfg {
		t.Errorf("the config file changed:\n%s", after)
	}
}
