package oauth_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/oauth"
	"smtpwatch/monitor/oauthtest"
)

const user = "alice@example.test"

func client(idp *oauthtest.Provider, provider string) oauth.Client {
	return oauth.Client{
		Provider:    provider,
		OAuthClient: credential.OAuthClient{TokenURL: idp.TokenURL, ClientID: "smtpwatch-test", Scopes: []string{"SMTP.Send", "offline_access"}},
		AuthURL:     idp.AuthURL, DeviceURL: idp.DeviceURL,
	}
}

// browser plays the person's browser for Login: it gets the URL through
// Open and consents as who.
type browser struct {
	t     *testing.T
	idp   *oauthtest.Provider
	who   string
	shown string
	page  chan string
	// before runs first with the authorization URL (to send stray
	// requests to the loopback listener).
	before func(authURL string)
}

func newBrowser(t *testing.T, idp *oauthtest.Provider) *browser {
	return &browser{t: t, idp: idp, who: user, page: make(chan string, 1)}
}

func (b *browser) options() oauth.LoginOptions {
	return oauth.LoginOptions{
		LoginHint: user,
		Show:      func(u string) { b.shown = u },
		Open: func(u string) error {
			go func() {
				if b.before != nil {
					b.before(u)
				}
				page, err := b.idp.Consent(context.Background(), u, b.who)
				if err != nil {
					page = "error: " + err.Error()
				}
				b.page <- page
			}()
			return nil
		},
	}
}

// The authorization code flow with PKCE: the URL is shown, then opened;
// the browser comes back to the loopback listener with the code; the code
// is exchanged (the provider checks the verifier) for a refresh token and
// an access token for the person who consented.
func TestLogin(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{ClientID: "smtpwatch-test"})
	b := newBrowser(t, idp)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := oauth.Login(ctx, client(idp, oauth.Custom), b.options())
	if err != nil {
		t.Fatal(err)
	}
	if u, err := idp.Validate(tok.AccessToken); err != nil || u != user || tok.RefreshToken == "" {
		t.Fatalf("token for %q (%v), refresh token %v", u, err, tok.RefreshToken != "")
	}
	if page := <-b.page; !strings.Contains(page, "Signed in") {
		t.Errorf("the browser shows %q", page)
	}
	u, _ := url.Parse(b.shown)
	q := u.Query()
	redirect, _ := url.Parse(q.Get("redirect_uri"))
	if q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("login_hint") != user || redirect.Hostname() != "127.0.0.1" {
		t.Errorf("authorization URL %s", b.shown)
	}

	mem := oauthtest.NewGrants()
	if err := oauth.Save(mem, "work", user, client(idp, oauth.Custom), tok, time.Now()); err != nil {
		t.Fatal(err)
	}
	if g := mem.Get("work"); g.RefreshToken.Reveal() != tok.RefreshToken || g.Username != user || g.ClientID != "smtpwatch-test" || g.TokenURL != idp.TokenURL {
		t.Errorf("saved %+v", g)
	}
}

// Microsoft's redirect is http://localhost:PORT, which matches the
// "http://localhost" a person registers; the listener answers on both
// loopback addresses.
func TestLoginMicrosoftRedirect(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{})
	b := newBrowser(t, idp)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := oauth.Login(ctx, client(idp, oauth.Microsoft), b.options()); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(b.shown)
	if r, _ := url.Parse(u.Query().Get("redirect_uri")); r.Hostname() != "localhost" || r.Path != "" {
		t.Errorf("redirect_uri %q", u.Query().Get("redirect_uri"))
	}
}

// A request to the loopback listener without the state smtpwatch sent —
// another page trying to sign smtpwatch in as someone else — gets a 400
// and changes nothing; the real answer still completes the sign-in.
func TestLoginChecksState(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{})
	b := newBrowser(t, idp)
	forged := make(chan int, 1)
	b.before = func(authURL string) {
		u, _ := url.Parse(authURL)
		redirect := u.Query().Get("redirect_uri")
		resp, err := http.Get(redirect + "/?code=" + url.QueryEscape(idp.GrantRefresh("mallory@example.test")) + "&state=forged")
		if err != nil {
			forged <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		forged <- resp.StatusCode
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := oauth.Login(ctx, client(idp, oauth.Custom), b.options())
	if err != nil {
		t.Fatal(err)
	}
	if code := <-forged; code != http.StatusBadRequest {
		t.Errorf("the forged answer got %d, want 400", code)
	}
	if u, _ := idp.Validate(tok.AccessToken); u != user {
		t.Errorf("signed in as %q, want %s", u, user)
	}
}

// The person declines at the provider: the provider sends error=
// access_denied with the state; the sign-in fails, with the code in words.
func TestLoginDeclined(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{})
	opts := oauth.LoginOptions{Open: func(authURL string) error {
		u, _ := url.Parse(authURL)
		q := u.Query()
		go func() {
			resp, err := http.Get(q.Get("redirect_uri") + "/?error=access_denied&state=" + url.QueryEscape(q.Get("state")))
			if err == nil {
				resp.Body.Close()
			}
		}()
		return nil
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := oauth.Login(ctx, client(idp, oauth.Custom), opts)
	if !errors.Is(err, credential.ErrSignInRequired) || !strings.Contains(err.Error(), "access_denied") {
		t.Errorf("declined: %v", err)
	}
}

// Nobody comes back: the sign-in ends with the context, and says so.
func TestLoginTimeout(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := oauth.Login(ctx, client(idp, oauth.Custom), oauth.LoginOptions{})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "nobody came back from the browser") {
		t.Errorf("timeout: %v", err)
	}
}

// Without a client id nothing starts, and the error says where to learn
// to register one.
func TestLoginWithoutClientID(t *testing.T) {
	c := oauth.Client{Provider: oauth.Microsoft}
	c.AuthURL, c.TokenURL, c.DeviceURL = oauth.Endpoints(oauth.Microsoft, "")
	opened := false
	_, err := oauth.Login(context.Background(), c, oauth.LoginOptions{Open: func(string) error { opened = true; return nil }})
	if !errors.Is(err, oauth.ErrNoClientID) || !strings.Contains(err.Error(), `"Sign in with OAuth2"`) || !strings.Contains(err.Error(), "oauth_client_id") || opened {
		t.Errorf("no client id: %v (browser opened: %v)", err, opened)
	}
	if _, err := oauth.DeviceLogin(context.Background(), c, oauth.DeviceOptions{}); !errors.Is(err, oauth.ErrNoClientID) {
		t.Errorf("device, no client id: %v", err)
	}
}

// The device flow: the code is shown, the person approves it elsewhere,
// the poll gets the tokens.
func TestDeviceLogin(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var shownURL string
	tok, err := oauth.DeviceLogin(ctx, client(idp, oauth.Microsoft), oauth.DeviceOptions{Show: func(u, code string) {
		shownURL = u
		go func() {
			if err := idp.ApproveDevice(code, user); err != nil {
				t.Error(err)
			}
		}()
	}})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := idp.Validate(tok.AccessToken); err != nil || u != user || tok.RefreshToken == "" || !strings.HasPrefix(shownURL, idp.URL) {
		t.Errorf("token for %q (%v), refresh %v, shown %q", u, err, tok.RefreshToken != "", shownURL)
	}
}

// Google refuses mail scopes on the device flow: said before anything is
// asked of the provider.
func TestDeviceLoginGoogle(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{})
	_, err := oauth.DeviceLogin(context.Background(), client(idp, oauth.Google), oauth.DeviceOptions{Show: func(string, string) { t.Error("a code was shown") }})
	if !errors.Is(err, oauth.ErrDeviceNotForGoogle) || !strings.Contains(err.Error(), "Google refuses mail access") {
		t.Errorf("Google device: %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://login.example.com/oauth2/token": true,
		"http://127.0.0.1:8080/token":            true,
		"http://[::1]:8080/token":                true,
		"http://localhost/token":                 true,
		"http://login.example.com/token":         false,
		"https://user:pw@login.example.com/":     false,
		"ftp://login.example.com/":               false,
		"login.example.com/token":                false,
	} {
		if err := oauth.CheckURL(raw); (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v", raw, err)
		}
	}
}

func TestEndpoints(t *testing.T) {
	a, tok, d := oauth.Endpoints(oauth.Microsoft, "organizations")
	if a != "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize" || !strings.HasSuffix(tok, "/organizations/oauth2/v2.0/token") || !strings.HasSuffix(d, "/devicecode") {
		t.Errorf("Microsoft endpoints %s %s %s", a, tok, d)
	}
	if a, _, _ := oauth.Endpoints(oauth.Microsoft, ""); !strings.Contains(a, "/common/") {
		t.Errorf("default tenant: %s", a)
	}
	if s := oauth.DefaultScopes(oauth.Microsoft); strings.Join(s, " ") != "https://outlook.office.com/SMTP.Send offline_access" {
		t.Errorf("Microsoft scopes %q", s)
	}
	if s := oauth.DefaultScopes(oauth.Google); strings.Join(s, " ") != "https://mail.google.com/" {
		t.Errorf("Google scopes %q", s)
	}
}
