package credential_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/oauthtest"
)

const user = "alice@example.test"

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type rig struct {
	idp   *oauthtest.Provider
	store *oauthtest.Grants
	clk   *clock
	ts    *credential.TokenSource
	logs  *bytes.Buffer
}

func newRig(t *testing.T, o oauthtest.Options) *rig {
	t.Helper()
	clk := &clock{now: time.Now()}
	o.Clock = clk.Now
	idp := oauthtest.Start(t, o)
	store := oauthtest.NewGrants()
	client := credential.OAuthClient{TokenURL: idp.TokenURL, ClientID: "smtpwatch-test", Scopes: []string{"SMTP.Send", "offline_access"}}
	store.Put("work", credential.Grant{RefreshToken: credential.NewSecret(idp.GrantRefresh(user)), ClientID: client.ClientID,
		TokenURL: client.TokenURL, Username: user, Scopes: client.Scopes})
	var logs bytes.Buffer
	ts := credential.NewTokenSource(credential.TokenSourceOptions{
		Account: "work", Username: user, Client: client, Store: store, Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	return &rig{idp: idp, store: store, clk: clk, ts: ts, logs: &logs}
}

// token reads the stored grant and asks for a token, as the engine does.
func (r *rig) token(t *testing.T, ctx context.Context) (credential.Secret, error) {
	t.Helper()
	g, err := r.ts.Stored(ctx)
	if err != nil {
		t.Fatalf("Stored: %v", err)
	}
	return r.ts.Token(ctx, g)
}

// noSecrets fails when any token the provider issued shows in texts.
func (r *rig) noSecrets(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range r.idp.Secrets() {
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				t.Errorf("a token shows in %q", txt)
			}
		}
	}
}

// The access token comes from a refresh, is valid at the provider, is
// kept in memory and used again while it has more than RefreshBefore to
// live; a refresh rotates the refresh token, which is saved at once.
func TestTokenRefreshAndRotation(t *testing.T) {
	r := newRig(t, oauthtest.Options{Lifetime: time.Hour})
	first := r.store.Get("work").RefreshToken
	tok, err := r.token(t, t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if u, err := r.idp.Validate(tok.Reveal()); err != nil || u != user {
		t.Fatalf("the token is not valid for %s: %q %v", user, u, err)
	}
	saved := r.store.Get("work")
	if r.store.Saves() != 1 || saved.RefreshToken.Equal(first) || saved.Username != user || saved.ClientID != "smtpwatch-test" {
		t.Fatalf("after a rotation: %d saves, grant %+v", r.store.Saves(), saved)
	}

	// Used again, no request, while it lives long enough.
	r.clk.add(50 * time.Minute)
	again, err := r.token(t, t.Context())
	if err != nil || !again.Equal(tok) || r.idp.Refreshes.Load() != 1 {
		t.Fatalf("50 min on: same token %v, %d refreshes, %v", again.Equal(tok), r.idp.Refreshes.Load(), err)
	}
	// Refreshed before it expires: 4 minutes left is less than 5.
	r.clk.add(6 * time.Minute)
	fresh, err := r.token(t, t.Context())
	if err != nil || fresh.Equal(tok) || r.idp.Refreshes.Load() != 2 {
		t.Fatalf("4 min before expiry: new token %v, %d refreshes, %v", !fresh.Equal(tok), r.idp.Refreshes.Load(), err)
	}
	if r.store.Saves() != 2 {
		t.Errorf("%d saves after two rotations", r.store.Saves())
	}
	r.noSecrets(t, r.logs.String())
}

// A provider that keeps the refresh token (Google) costs no save.
func TestTokenWithoutRotation(t *testing.T) {
	r := newRig(t, oauthtest.Options{NoRotation: true})
	if _, err := r.token(t, t.Context()); err != nil {
		t.Fatal(err)
	}
	if r.store.Saves() != 0 {
		t.Errorf("%d saves without a rotation", r.store.Saves())
	}
}

// A new sign-in in the store (smtpwatch login ran) replaces what the
// source held, cached access token included.
func TestTokenTakesUpANewSignIn(t *testing.T) {
	r := newRig(t, oauthtest.Options{})
	old, err := r.token(t, t.Context())
	if err != nil {
		t.Fatal(err)
	}
	g := r.store.Get("work")
	g.RefreshToken = credential.NewSecret(r.idp.GrantRefresh(user))
	r.store.Put("work", g)
	tok, err := r.token(t, t.Context())
	if err != nil || tok.Equal(old) || r.idp.Refreshes.Load() != 2 {
		t.Errorf("after a new sign-in: new token %v, %d refreshes, %v", !tok.Equal(old), r.idp.Refreshes.Load(), err)
	}
}

// A rotated refresh token that cannot be saved is used from memory: the
// old one in the store is not taken for a new sign-in.
func TestTokenRotationNotSaved(t *testing.T) {
	r := newRig(t, oauthtest.Options{Lifetime: time.Hour})
	r.store.FailSaves(true)
	if _, err := r.token(t, t.Context()); err != nil {
		t.Fatal(err)
	}
	r.clk.add(58 * time.Minute)
	if _, err := r.token(t, t.Context()); err != nil {
		t.Fatalf("second refresh with the rotated token kept in memory: %v", err)
	}
	if !strings.Contains(r.logs.String(), "could not be saved") {
		t.Errorf("the failed save is not logged:\n%s", r.logs.String())
	}
}

// Each way of having no token, and its sentinel. Bounded in time: a slow
// provider ends with the context.
func TestTokenFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(*rig)
		ctx    time.Duration
		want   error
		inText string
	}{
		{"never signed in", func(r *rig) { r.store.DeleteGrant("work") }, 0, credential.ErrSignInRequired, "not signed in yet"},
		{"a sign-in for another user", func(r *rig) {
			g := r.store.Get("work")
			g.Username = "bob@example.test"
			r.store.Put("work", g)
		}, 0, credential.ErrSignInRequired, "is for bob@example.test"},
		{"another client id", func(r *rig) {
			g := r.store.Get("work")
			g.ClientID = "other"
			r.store.Put("work", g)
		}, 0, credential.ErrSignInRequired, "another client id"},
		{"invalid_grant (revoked)", func(r *rig) { r.idp.Revoke() }, 0, credential.ErrSignInRequired, "refused the stored sign-in (invalid_grant)"},
		{"500", func(r *rig) { r.idp.SetFault(oauthtest.Fault500) }, 0, credential.ErrProviderUnreachable, "500 Internal Server Error"},
		{"slow", func(r *rig) { r.idp.SetFault(oauthtest.FaultSlow) }, 300 * time.Millisecond, credential.ErrProviderUnreachable, "did not answer the refresh in time"},
		{"unreachable", func(r *rig) { r.idp.Close() }, 0, credential.ErrProviderUnreachable, "could not be reached (connection refused)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, oauthtest.Options{})
			tc.setup(r)
			ctx := t.Context()
			if tc.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctx)
				defer cancel()
			}
			start := time.Now()
			_, err := r.token(t, ctx)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.inText) {
				t.Fatalf("err %v, want %v with %q", err, tc.want, tc.inText)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v", el)
			}
			r.noSecrets(t, err.Error(), fmt.Sprintf("%+v", err), r.logs.String())
		})
	}
}

// While the provider cannot be reached, the access token still valid is
// used; once it has expired, the provider's absence is the answer.
func TestTokenStillValidWhileUnreachable(t *testing.T) {
	r := newRig(t, oauthtest.Options{Lifetime: time.Hour})
	tok, err := r.token(t, t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r.idp.SetFault(oauthtest.Fault500)
	r.clk.add(57 * time.Minute) // due for a refresh, still valid
	got, err := r.token(t, t.Context())
	if err != nil || !got.Equal(tok) {
		t.Fatalf("3 min before expiry, provider down: %v, same token %v", err, got.Equal(tok))
	}
	r.clk.add(3 * time.Minute)
	if _, err := r.token(t, t.Context()); !errors.Is(err, credential.ErrProviderUnreachable) {
		t.Fatalf("expired, provider down: %v", err)
	}
}

// The provider's error description is free text: only Microsoft's AADSTS
// number is kept from it.
func TestTokenErrorWords(t *testing.T) {
	resp := &http.Response{StatusCode: 400}
	err := credential.TokenError(context.Background(), &oauth2.RetrieveError{Response: resp, ErrorCode: "invalid_grant",
		ErrorDescription: "AADSTS70008: The refresh token has expired. rt=SECRET-REFRESH-TOKEN", Body: []byte("SECRET-REFRESH-TOKEN")}, "refresh")
	want := "the sign-in service refused the stored sign-in (invalid_grant: AADSTS70008): it was revoked or expired, or the password changed"
	if !errors.Is(err, credential.ErrSignInRequired) || !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error %q", err)
	}
	err = credential.TokenError(context.Background(), &oauth2.RetrieveError{Response: &http.Response{StatusCode: 429}, ErrorCode: "slow_down"}, "refresh")
	if !errors.Is(err, credential.ErrProviderUnreachable) {
		t.Errorf("429: %v", err)
	}
}
