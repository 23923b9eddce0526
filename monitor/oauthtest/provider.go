// Package oauthtest runs a fake OAuth2 identity provider on loopback for
// tests: the authorization code grant with PKCE and a loopback redirect,
// the device authorization grant, and refresh with rotating refresh
// tokens. Access tokens are JWTs signed with HS256, as Dovecot's oauth2
// passdb validates them locally; Validate checks them for test SMTP
// servers (smtptest.Options.Tokens).
//
// The test plays the browser: Consent follows an authorization URL, signs
// in as a user, and lets the redirect reach the loopback listener of the
// code under test; ApproveDevice approves a device code. Faults: a refresh
// token refused with invalid_grant (Revoke, or Fault), a 500, a slow
// answer, a provider that is gone (Close).
//
// Nothing here is for production: it accepts any client id unless told
// otherwise, and keeps everything in memory.
package oauthtest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Fault is how the token endpoint misbehaves.
type Fault int

// The faults.
const (
	FaultNone         Fault = iota
	FaultInvalidGrant       // every refresh: 400 {"error":"invalid_grant"}
	Fault500                // every token request: 500 with an HTML page
	FaultSlow               // every token request waits Options.SlowDelay first
)

// Options configure a Provider; the zero value is a working provider.
type Options struct {
	// Key signs the access tokens (HS256); nil makes a random one.
	Key []byte
	// Issuer is the tokens' "iss"; "" uses the provider's URL.
	Issuer string
	// Lifetime is how long an access token is valid; 0 means an hour.
	Lifetime time.Duration
	// NoRotation keeps a refresh token across refreshes (as Google does);
	// by default every refresh gives a new one and retires the old one.
	NoRotation bool
	// ClientID, when set, is the only client id accepted.
	ClientID string
	// Pad adds this many characters to every access token (a claim of
	// its own), so that tests send tokens as long as real ones (1–2 kB).
	Pad int
	// SlowDelay is FaultSlow's wait; 0 means 30 s. The wait ends early
	// when the request's context ends (the client gave up).
	SlowDelay time.Duration
	// Clock tells the time for tokens' iat and exp; nil means time.Now.
	Clock func() time.Time
	// QuoteTokens makes the token endpoint's errors quote the refresh
	// token or code it was sent, in error_description, as a careless
	// provider might: for tests that no output ever holds it.
	QuoteTokens bool
}

// Provider is a running fake identity provider. Its methods are safe for
// concurrent use.
type Provider struct {
	// URL is the base URL (http://127.0.0.1:PORT).
	URL string
	// AuthURL, TokenURL and DeviceURL are its endpoints.
	AuthURL, TokenURL, DeviceURL string

	// Refreshes counts refresh-token requests (any answer, faults too).
	Refreshes atomic.Int64
	// Issued counts access tokens issued.
	Issued atomic.Int64

	o   Options
	srv *httptest.Server

	mu      sync.Mutex
	fault   Fault
	codes   map[string]codeGrant   // authorization code → grant
	pending map[string]*codeGrant  // state → authorization waiting for consent
	devices map[string]*deviceAuth // device code → authorization
	refresh map[string]string      // live refresh token → user
	tokens  []string               // every access and refresh token issued
	closed  bool
}

type codeGrant struct {
	clientID, redirect, challenge, scope, user string
}

type deviceAuth struct {
	userCode, clientID, scope, user string
	approved                        bool
}

// Start runs a provider on 127.0.0.1 until the test ends.
func Start(t testing.TB, o Options) *Provider {
	t.Helper()
	if o.Key == nil {
		o.Key = make([]byte, 32)
		_, _ = rand.Read(o.Key)
	}
	if o.Lifetime == 0 {
		o.Lifetime = time.Hour
	}
	if o.SlowDelay == 0 {
		o.SlowDelay = 30 * time.Second
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	p := &Provider{o: o, codes: map[string]codeGrant{}, pending: map[string]*codeGrant{},
		devices: map[string]*deviceAuth{}, refresh: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", p.authorize)
	mux.HandleFunc("/token", p.token)
	mux.HandleFunc("/devicecode", p.deviceCode)
	p.srv = httptest.NewServer(mux)
	p.URL = p.srv.URL
	p.AuthURL, p.TokenURL, p.DeviceURL = p.URL+"/authorize", p.URL+"/token", p.URL+"/devicecode"
	if p.o.Issuer == "" {
		p.o.Issuer = p.URL
	}
	t.Cleanup(p.Close)
	return p
}

// Close stops the provider: from then on nothing answers at its address
// (the "unreachable" fault). It is safe to call twice.
func (p *Provider) Close() {
	p.mu.Lock()
	closed := p.closed
	p.closed = true
	p.mu.Unlock()
	if !closed {
		p.srv.CloseClientConnections()
		p.srv.Close()
	}
}

// Key is the HS256 key the access tokens are signed with.
func (p *Provider) Key() []byte { return p.o.Key }

// Issuer is the tokens' "iss".
func (p *Provider) Issuer() string { return p.o.Issuer }

// SetFault makes the token endpoint misbehave from now on.
func (p *Provider) SetFault(f Fault) {
	p.mu.Lock()
	p.fault = f
	p.mu.Unlock()
}

// Revoke retires every refresh token issued so far: refreshing with one
// gets invalid_grant, as after a password change or a revocation.
func (p *Provider) Revoke() {
	p.mu.Lock()
	p.refresh = map[string]string{}
	p.mu.Unlock()
}

// Secrets are every access and refresh token the provider issued, for
// tests that search outputs for them.
func (p *Provider) Secrets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tokens...)
}

// GrantRefresh makes a refresh token for user without a browser, as if
// the user had signed in.
func (p *Provider) GrantRefresh(user string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.newRefreshLocked(user)
}

func (p *Provider) newRefreshLocked(user string) string {
	rt := "rt." + random(96)
	p.refresh[rt] = user
	p.tokens = append(p.tokens, rt)
	return rt
}

// AccessToken mints an access token for user valid for lifetime (negative:
// already expired), signed with the provider's key.
func (p *Provider) AccessToken(user string, lifetime time.Duration) string {
	now := p.o.Clock()
	claims := map[string]any{
		"iss": p.o.Issuer, "sub": user, "email": user, "aud": "https://outlook.office.com",
		"scp": "SMTP.Send", "iat": now.Add(-time.Minute).Unix(), "exp": now.Add(lifetime).Unix(),
		"jti": random(12),
	}
	if p.o.Pad > 0 {
		claims["pad"] = strings.Repeat("x", p.o.Pad)
	}
	tok := Sign(p.o.Key, claims)
	p.Issued.Add(1)
	p.mu.Lock()
	p.tokens = append(p.tokens, tok)
	p.mu.Unlock()
	return tok
}

// Sign makes an HS256 JWT of claims with key.
func Sign(key []byte, claims map[string]any) string {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	body, _ := json.Marshal(claims)
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(body)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(m.Sum(nil))
}

// Validate checks an access token as a mail server that validates JWTs
// locally does: the signature with the provider's key, the issuer, the
// expiry. It returns the token's user (its "email").
func (p *Provider) Validate(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("not a JWT")
	}
	m := hmac.New(sha256.New, p.o.Key)
	m.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
		return "", errors.New("bad signature")
	}
	body, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var c struct {
		Iss   string `json:"iss"`
		Email string `json:"email"`
		Exp   int64  `json:"exp"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return "", err
	}
	switch {
	case c.Iss != p.o.Issuer:
		return "", fmt.Errorf("issuer %q", c.Iss)
	case time.Unix(c.Exp, 0).Before(p.o.Clock()):
		return "", errors.New("expired")
	}
	return c.Email, nil
}

// Check is a smtptest.TokenCheck: the token must be valid and for user.
func (p *Provider) Check(user, token string) error {
	email, err := p.Validate(token)
	if err != nil {
		return err
	}
	if !strings.EqualFold(email, user) {
		return fmt.Errorf("token for %s, not %s", email, user)
	}
	return nil
}

// Consent plays the browser: it follows authURL as the code under test
// built it, signs in as user and consents; the provider redirects to the
// loopback redirect_uri with the code and state, which the browser
// follows too. It returns what the loopback page answered.
func (p *Provider) Consent(ctx context.Context, authURL, user string) (string, error) {
	u, err := url.Parse(authURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("consent_as", user)
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req) // follows the redirect to loopback
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("%s: %s", resp.Status, b)
	}
	return string(b), nil
}

// ApproveDevice approves the device authorization with userCode as user.
func (p *Provider) ApproveDevice(userCode, user string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.devices {
		if d.userCode == userCode {
			d.approved, d.user = true, user
			return nil
		}
	}
	return fmt.Errorf("no device authorization with user code %q", userCode)
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case err != nil || redirect.Scheme != "http" || !isLoopback(redirect.Hostname()):
		http.Error(w, "redirect_uri must be a loopback http URL", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "PKCE with S256 is required", http.StatusBadRequest)
		return
	case q.Get("state") == "":
		http.Error(w, "state is required", http.StatusBadRequest)
		return
	case p.o.ClientID != "" && q.Get("client_id") != p.o.ClientID:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	user := q.Get("consent_as")
	if user == "" {
		user = q.Get("login_hint")
	}
	code := random(32)
	p.mu.Lock()
	p.codes[code] = codeGrant{clientID: q.Get("client_id"), redirect: q.Get("redirect_uri"),
		challenge: q.Get("code_challenge"), scope: q.Get("scope"), user: user}
	p.mu.Unlock()
	back := redirect.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (p *Provider) deviceCode(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if p.o.ClientID != "" && r.PostForm.Get("client_id") != p.o.ClientID {
		oauthError(w, http.StatusBadRequest, "invalid_client")
		return
	}
	dc, uc := random(32), strings.ToUpper(random(8))
	p.mu.Lock()
	p.devices[dc] = &deviceAuth{userCode: uc, clientID: r.PostForm.Get("client_id"), scope: r.PostForm.Get("scope")}
	p.mu.Unlock()
	writeJSON(w, map[string]any{
		"device_code": dc, "user_code": uc, "verification_uri": p.URL + "/device",
		"expires_in": 900, "interval": 1,
		"message": "To sign in, open " + p.URL + "/device and enter the code " + uc + ".",
	})
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	// The body first: once it is read, the server notices a client that
	// hangs up, which ends FaultSlow's wait.
	formErr := r.ParseForm()
	if r.PostForm.Get("grant_type") == "refresh_token" {
		p.Refreshes.Add(1)
	}
	p.mu.Lock()
	fault := p.fault
	p.mu.Unlock()
	switch fault {
	case Fault500:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "<html><body>Internal Server Error</body></html>")
		return
	case FaultSlow:
		select {
		case <-time.After(p.o.SlowDelay):
		case <-r.Context().Done():
			return
		}
	}
	if formErr != nil || r.Method != http.MethodPost {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	f := r.PostForm
	if p.o.ClientID != "" && f.Get("client_id") != p.o.ClientID {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	switch f.Get("grant_type") {
	case "authorization_code":
		p.mu.Lock()
		g, ok := p.codes[f.Get("code")]
		delete(p.codes, f.Get("code"))
		p.mu.Unlock()
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		switch {
		case !ok, g.redirect != f.Get("redirect_uri"), g.clientID != f.Get("client_id"),
			base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		p.issue(w, g.user, "")
	case "refresh_token":
		rt := f.Get("refresh_token")
		p.mu.Lock()
		user, ok := p.refresh[rt]
		if fault == FaultInvalidGrant {
			ok = false
		}
		p.mu.Unlock()
		if !ok {
			desc := "fake provider: invalid_grant"
			if p.o.QuoteTokens {
				desc = "AADSTS70000: the refresh token " + rt + " was revoked"
			}
			writeError(w, http.StatusBadRequest, "invalid_grant", desc)
			return
		}
		p.issue(w, user, rt)
	case "urn:ietf:params:oauth:grant-type:device_code":
		p.mu.Lock()
		d, ok := p.devices[f.Get("device_code")]
		approved := ok && d.approved
		if approved {
			delete(p.devices, f.Get("device_code"))
		}
		p.mu.Unlock()
		switch {
		case !ok:
			oauthError(w, http.StatusBadRequest, "expired_token")
		case !approved:
			oauthError(w, http.StatusBadRequest, "authorization_pending")
		default:
			p.issue(w, d.user, "")
		}
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
	}
}

// issue answers with a new access token and a refresh token: a new one,
// or the old one (old) when refreshing without rotation.
func (p *Provider) issue(w http.ResponseWriter, user, old string) {
	access := p.AccessToken(user, p.o.Lifetime)
	p.mu.Lock()
	rt := old
	if old == "" || !p.o.NoRotation {
		if old != "" {
			delete(p.refresh, old)
		}
		rt = p.newRefreshLocked(user)
	}
	p.mu.Unlock()
	writeJSON(w, map[string]any{
		"token_type": "Bearer", "access_token": access, "refresh_token": rt,
		"expires_in": int(p.o.Lifetime / time.Second), "scope": "https://outlook.office.com/SMTP.Send offline_access",
	})
}

func oauthError(w http.ResponseWriter, status int, code string) {
	writeError(w, status, code, "fake provider: "+code)
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
