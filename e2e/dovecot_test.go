package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/keyringtest"
	"smtpwatch/monitor/oauthtest"
)

// dovecotEnv is $SMTPWATCH_DOVECOT_DIR/env, written by scripts/dovecot-e2e:
// a real Dovecot submission service that validates OAuth2 JWTs locally.
type dovecotEnv struct {
	Host, User, Issuer, CA, Log string
	Port                        int
	Key                         []byte // the HS256 key Dovecot checks signatures with
}

func (d *dovecotEnv) Addr() string { return d.Host + ":" + strconv.Itoa(d.Port) }

var (
	dovecotOnce sync.Once
	dovecot     *dovecotEnv
	dovecotErr  error
)

// needDovecot returns the Dovecot environment, or skips (fails under
// CI=true) when scripts/dovecot-e2e has not run.
func needDovecot(t *testing.T) *dovecotEnv {
	t.Helper()
	dovecotOnce.Do(func() {
		dir := os.Getenv("SMTPWATCH_DOVECOT_DIR")
		if dir == "" {
			dir = "/tmp/smtpwatch-dovecot"
		}
		b, err := os.ReadFile(filepath.Join(dir, "env"))
		if err != nil {
			dovecotErr = err
			return
		}
		vars := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
				vars[k] = v
			}
		}
		v := func(k string) string { return vars["SMTPWATCH_DOVECOT_"+k] }
		d := &dovecotEnv{Host: v("HOST"), User: v("USER"), Issuer: v("ISSUER"), CA: v("CA"), Log: v("LOG")}
		d.Port, _ = strconv.Atoi(v("PORT"))
		d.Key, dovecotErr = base64.StdEncoding.DecodeString(v("JWT_KEY"))
		if dovecotErr == nil && (d.Host == "" || d.Port == 0 || len(d.Key) == 0 || d.Issuer == "") {
			dovecotErr = fmt.Errorf("%s/env lacks HOST, PORT, JWT_KEY or ISSUER", dir)
		}
		dovecot = d
	})
	if dovecotErr != nil {
		skipOrFail(t, "no e2e Dovecot (%v); run scripts/dovecot-e2e as root", dovecotErr)
	}
	return dovecot
}

// provider is a fake identity provider whose tokens the Dovecot instance
// trusts: its key and issuer.
func (d *dovecotEnv) provider(t *testing.T, o oauthtest.Options) *oauthtest.Provider {
	o.Key, o.Issuer = d.Key, d.Issuer
	return oauthtest.Start(t, o)
}

// tokenFile writes tok to a file only the test reads, for a token helper
// that prints it: oauth_token_command = "cat FILE".
func tokenFile(t *testing.T, tok string) string {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Dovecot makes an address that failed to sign in wait before its next
// sign-ins (up to 15 s, its "auth penalty"): the tests that sign in with
// good tokens come first, the refusals last.

// TestDovecotOAuth2Daemon: the daemon with a sign-in in a real keyring,
// against Dovecot. Its access token expires; the next check that signs in
// refreshes it and Dovecot accepts the new one. The provider revokes the
// sign-in: the next sign-in finds it — oauth_sign_in_required, exactly
// one event to failing — and nothing is sent again while it waits.
func TestDovecotOAuth2Daemon(t *testing.T) {
	e := needEnv(t)
	dc := needDovecot(t)
	kr := keyringtest.Start(t)
	idp := dc.provider(t, oauthtest.Options{Lifetime: 2 * time.Second, Pad: 1200})
	const account = "dovecot"
	secretTool(t, kr, fmt.Sprintf(`{"v":1,"refresh_token":%q,"client_id":"smtpwatch-test","token_url":%q,"username":%q}`,
		idp.GrantRefresh(dc.User), idp.TokenURL, dc.User),
		"store", "--label=smtpwatch test sign-in", "username", account, "service", credential.OAuthKeyringService)
	files := writeDaemonConfig(t, e, onlineTarget(t))
	writeDovecotConfig(t, files, dc, idp, account, "2s")
	env := oauthEnv(t, e, kr)
	d := startDaemonWith(t, files, env)
	events := followEvents(t, files.socket)
	d.waitStatus(t, e, "signed in", time.Now(), 30*time.Second, accountIs(account, "ok", "ok"))
	if n := idp.Issued.Load(); n != 1 {
		t.Fatalf("%d access tokens issued, want 1", n)
	}

	// The access token expires; "status --refresh" signs in again.
	time.Sleep(3 * time.Second) // past the 2 s the token lives: the point of the test
	r := runWith(t, env, "status", "--refresh", "--json", "--socket", files.socket)
	if r.Exit != exitOK || idp.Issued.Load() != 2 || countEvents(events.String(), "transition", `"to":"failing"`) != 0 {
		t.Fatalf("after the token expired: %d tokens issued, events:\n%s\n%s", idp.Issued.Load(), events.String(), r)
	}

	// Revoked: the next sign-in finds it.
	idp.Revoke()
	runWith(t, env, "status", "--refresh", "--socket", files.socket)
	d.waitStatus(t, e, "the revoked sign-in", time.Now(), 30*time.Second, accountIs(account, "failing", "oauth_sign_in_required"))
	refreshes := idp.Refreshes.Load()
	time.Sleep(6 * time.Second) // three check intervals: the property is that nothing happens in them
	if n := countEvents(events.String(), "transition", `"to":"failing"`); n != 1 {
		t.Errorf("%d transitions to failing, want exactly one:\n%s", n, events.String())
	}
	if n := countEvents(events.String(), "notification", `"topic":"sign_in_required"`); n != 1 {
		t.Errorf("%d notifications to sign in, want exactly one:\n%s", n, events.String())
	}
	if !strings.Contains(events.String(), `"cause":"oauth_sign_in_required"`) || !strings.Contains(events.String(), "smtpwatch login "+account) {
		t.Errorf("the event does not say to sign in:\n%s", events.String())
	}
	if idp.Refreshes.Load() != refreshes {
		t.Errorf("%d refreshes while it waits for a sign-in", idp.Refreshes.Load()-refreshes)
	}
}

// TestDovecotOAuth2: smtpwatch check against Dovecot's submission service
// over STARTTLS, with access tokens from a token helper: a valid token
// signs in through OAUTHBEARER (the default) and XOAUTH2 (Microsoft's
// mechanism), a 2 kB one too (two steps, RFC 4954); an expired token and a
// token for another user are oauth_token_rejected.
func TestDovecotOAuth2(t *testing.T) {
	e := needEnv(t)
	dc := needDovecot(t)
	idp := dc.provider(t, oauthtest.Options{})
	long := dc.provider(t, oauthtest.Options{Pad: 1500})
	for _, tc := range []struct {
		name  string
		token string
		extra []string
		cause string
		mech  string
	}{
		{"valid token, OAUTHBEARER", idp.AccessToken(dc.User, time.Hour), nil, "ok", "OAUTHBEARER"},
		{"valid token, XOAUTH2", idp.AccessToken(dc.User, time.Hour), []string{"--oauth-provider", "microsoft"}, "ok", "XOAUTH2"},
		{"a 2 kB token, XOAUTH2", long.AccessToken(dc.User, time.Hour), []string{"--oauth-provider", "microsoft"}, "ok", "XOAUTH2"},
		{"a 2 kB token, OAUTHBEARER", long.AccessToken(dc.User, time.Hour), nil, "ok", "OAUTHBEARER"},
		{"expired token", idp.AccessToken(dc.User, -time.Minute), nil, "oauth_token_rejected", ""},
		{"expired token, XOAUTH2", idp.AccessToken(dc.User, -time.Minute), []string{"--oauth-provider", "microsoft"}, "oauth_token_rejected", ""},
		{"a token for another user", idp.AccessToken("mallory@example.test", time.Hour), nil, "oauth_token_rejected", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"check", "--server", dc.Addr(), "--security", "starttls", "--ca-file", dc.CA,
				"--username", dc.User, "--oauth-token-command", "cat " + tokenFile(t, tc.token),
				"--online-targets", "none", "--alternatives", "none", "--timeout", "30s", "--json"}, tc.extra...)
			r := smtpwatch(t, e, "", nil, args...)
			_, a := parseReport(t, r)
			if a.Cause != tc.cause {
				t.Fatalf("cause %s, want %s\n%s", a.Cause, tc.cause, r)
			}
			auth, _ := a.phase("auth")
			if tc.mech != "" && !strings.Contains(auth.Detail, "AUTH "+tc.mech+" accepted") {
				t.Errorf("auth phase %q, want %s accepted", auth.Detail, tc.mech)
			}
			if tc.cause == "oauth_token_rejected" && (a.SMTP == nil || a.SMTP.Code != 535) {
				t.Errorf("reply %+v, want Dovecot's 535", a.SMTP)
			}
			if strings.Contains(r.Stdout+r.Stderr, tc.token) {
				t.Error("the token is printed")
			}
		})
	}
}

// countEvents counts the events of the given kind in a Server-Sent Events
// stream whose data holds want.
func countEvents(stream, kind, want string) int {
	n := 0
	for _, block := range strings.Split(stream, "\n\n") {
		if strings.Contains(block, "event: "+kind+"\n") && strings.Contains(block, want) {
			n++
		}
	}
	return n
}

// writeDovecotConfig writes the daemon's config file: one account, named
// account, that signs in to the e2e Dovecot with an OAuth2 sign-in from
// idp, checked every interval and signing in at most hourly on its own.
// It returns the file's text.
func writeDovecotConfig(t *testing.T, files daemonFiles, dc *dovecotEnv, idp *oauthtest.Provider, account, interval string) string {
	t.Helper()
	cfg := fmt.Sprintf(`state_dir = %q

[online]
targets = [%q]

[[account]]
name = %q
server = %q
port = %d
security = "starttls"
ca_file = %q
username = %q
oauth_provider = "custom"
oauth_client_id = "smtpwatch-test"
oauth_auth_url = %q
oauth_token_url = %q
interval = %q
auth_interval = "1h"
timeout = "15s"
`, files.stateDir, onlineTarget(t), account, dc.Host, dc.Port, dc.CA, dc.User, idp.AuthURL, idp.TokenURL, interval)
	if err := os.WriteFile(files.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}
