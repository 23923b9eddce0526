package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/oauth2"

	"smtpwatch/monitor/credential"
)

// LoginOptions are how Login reaches the person.
type LoginOptions struct {
	// LoginHint is the account's user name, filled in at the provider's
	// sign-in page.
	LoginHint string
	// Show tells the person the URL to open (printed in a terminal); it is
	// called before Open, so that the URL is there even when no browser
	// opens. nil shows nothing.
	Show func(authURL string)
	// Open opens the URL in the system browser; nil, or an error, leaves
	// the person with what Show said.
	Open func(authURL string) error
	// HTTP makes the request to the token endpoint; nil is a client with
	// the default transport.
	HTTP *http.Client
}

// DeviceOptions are how DeviceLogin reaches the person.
type DeviceOptions struct {
	// Show tells the person where to go and which code to enter.
	Show func(verificationURL, userCode string)
	HTTP *http.Client
}

// ErrDeviceNotForGoogle is returned by DeviceLogin for Google, whose device
// flow refuses the mail scope.
var ErrDeviceNotForGoogle = errors.New(`Google refuses mail access (https://mail.google.com/) on its device sign-in ("--device"): ` +
	`sign in without --device on a computer with a browser and the same keyring, or use a token helper (oauth_token_command)`)

// pageOK and pageFailed are what the browser shows at the loopback
// redirect.
const (
	pageOK     = `<!doctype html><meta charset="utf-8"><title>smtpwatch</title><p>Signed in. smtpwatch can check sending now; you can close this window.</p>`
	pageFailed = `<!doctype html><meta charset="utf-8"><title>smtpwatch</title><p>The sign-in did not complete: %s</p><p>Go back to smtpwatch and try again.</p>`
)

// Login signs in with the authorization code grant, PKCE (S256) and a
// loopback redirect (RFC 8252): it listens once on 127.0.0.1 (and [::1])
// at a random port, shows and opens the provider's authorization URL, and
// waits for the browser to come back with the code and the state it sent,
// which must match (other requests get a 400 and are ignored). The code is
// exchanged for tokens with the PKCE verifier.
//
// It blocks until the sign-in is done, fails, or ctx ends (give it minutes:
// a person types a password). The token has a refresh token, else it is an
// error. Errors wrap ErrNoClientID before anything starts; the provider's
// refusals (the person declined: access_denied) wrap
// credential.ErrSignInRequired; an unreachable provider
// credential.ErrProviderUnreachable.
func Login(ctx context.Context, c Client, o LoginOptions) (*oauth2.Token, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sign-in: cannot listen on 127.0.0.1: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	listeners := []net.Listener{ln}
	// Browsers may try "localhost" as ::1 first.
	if ln6, err := net.Listen("tcp", net.JoinHostPort("::1", strconv.Itoa(port))); err == nil {
		listeners = append(listeners, ln6)
	}
	// Microsoft matches a registered "http://localhost" with any port;
	// Google and RFC 8252 prefer the loopback address.
	host := "127.0.0.1"
	if c.Provider == Microsoft {
		host = "localhost"
	}
	redirect := "http://" + net.JoinHostPort(host, strconv.Itoa(port))
	conf := c.Config(c.AuthURL, c.DeviceURL, redirect)
	state := randomString(32)
	verifier := oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if o.LoginHint != "" {
		opts = append(opts, oauth2.SetAuthURLParam("login_hint", o.LoginHint))
	}
	if c.Provider == Google {
		// Google gives a refresh token only for offline access, and again
		// only with the consent screen.
		opts = append(opts, oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	authURL := conf.AuthCodeURL(state, opts...)

	type answer struct {
		code string
		err  error
	}
	answers := make(chan answer, 1)
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
				// Not the provider's answer to our request: someone else's
				// (a page trying to log us in as them), or a stray request.
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, pageFailed, "this page was not opened by smtpwatch's sign-in (the state does not match).")
				return
			}
			var a answer
			switch e := q.Get("error"); {
			case e != "":
				a.err = credential.SignInRequired("the sign-in service refused the sign-in (%s)", sanitizeCode(e))
			case q.Get("code") == "":
				a.err = credential.SignInRequired("the sign-in service sent no code")
			default:
				a.code = q.Get("code")
			}
			w.Header().Set("Connection", "close")
			if a.err != nil {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, pageFailed, html.EscapeString(a.err.Error()))
			} else {
				fmt.Fprint(w, pageOK)
			}
			// The page is on its way before the answer is: the sign-in
			// ends with the listener, which must not cut the page off.
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
			select {
			case answers <- a:
			default: // one answer is enough
			}
		}),
	}
	for _, l := range listeners {
		go func() { _ = srv.Serve(l) }()
	}
	defer func() {
		// Let the browser's request finish its page, briefly.
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
	}()

	if o.Show != nil {
		o.Show(authURL)
	}
	if o.Open != nil {
		_ = o.Open(authURL) // the URL was shown: a person can open it by hand
	}
	var a answer
	select {
	case a = <-answers:
	case <-ctx.Done():
		return nil, fmt.Errorf("sign-in: nobody came back from the browser: %w", ctx.Err())
	}
	if a.err != nil {
		return nil, a.err
	}
	hctx := context.WithValue(ctx, oauth2.HTTPClient, httpClient(o.HTTP))
	tok, err := conf.Exchange(hctx, a.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, credential.TokenError(ctx, err, "sign-in")
	}
	return withRefresh(tok)
}

// DeviceLogin signs in with the device authorization grant (RFC 8628), for
// a computer without a browser: the person opens the provider's page on
// another device and enters the code Show gives. It polls the provider
// until the person is done, the code expires, or ctx ends. Google refuses
// the mail scope on this flow: ErrDeviceNotForGoogle, before anything is
// asked.
func DeviceLogin(ctx context.Context, c Client, o DeviceOptions) (*oauth2.Token, error) {
	if c.Provider == Google {
		return nil, ErrDeviceNotForGoogle
	}
	if err := c.Check(); err != nil {
		return nil, err
	}
	if c.DeviceURL == "" {
		return nil, errors.New("this provider has no device sign-in: set oauth_device_url, or sign in without --device")
	}
	conf := c.Config(c.AuthURL, c.DeviceURL, "")
	hctx := context.WithValue(ctx, oauth2.HTTPClient, httpClient(o.HTTP))
	da, err := conf.DeviceAuth(hctx)
	if err != nil {
		return nil, credential.TokenError(ctx, err, "device sign-in")
	}
	if o.Show != nil {
		verify := da.VerificationURIComplete
		if verify == "" {
			verify = da.VerificationURI
		}
		o.Show(verify, da.UserCode)
	}
	tok, err := conf.DeviceAccessToken(hctx, da)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sign-in: not completed in time: %w", ctx.Err())
		}
		return nil, credential.TokenError(ctx, err, "device sign-in")
	}
	return withRefresh(tok)
}

func withRefresh(tok *oauth2.Token) (*oauth2.Token, error) {
	if tok.RefreshToken == "" {
		return nil, credential.SignInRequired("the sign-in service gave no refresh token, so smtpwatch could not keep the sign-in (ask for offline access: Microsoft's scope offline_access)")
	}
	return tok, nil
}

// Save stores the sign-in tok made with c for the account and its user
// name in the store (the OS keyring): the refresh token only.
func Save(store credential.GrantStore, account, username string, c Client, tok *oauth2.Token, now time.Time) error {
	return store.SaveGrant(account, credential.Grant{
		RefreshToken: credential.NewSecret(tok.RefreshToken), ClientID: c.ClientID, TokenURL: c.TokenURL,
		Username: username, Scopes: c.Scopes, SavedAt: now,
	})
}

func httpClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{Transport: http.DefaultTransport}
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sanitizeCode keeps an OAuth error code as it should look.
func sanitizeCode(s string) string {
	out := []rune{}
	for _, r := range s {
		if len(out) == 40 {
			break
		}
		if r >= 'a' && r <= 'z' || r == '_' {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return "an error"
	}
	return string(out)
}
