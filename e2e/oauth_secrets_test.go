package e2e

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/keyringtest"
	"smtpwatch/monitor/oauthtest"
	"smtpwatch/monitor/smtptest"
)

// tokenForms are the forms of every token the provider issued that must
// never show: each whole, an access token's signature and a piece of its
// claims, a refresh token's body, and a piece of the XOAUTH2 and
// OAUTHBEARER lines that carry an access token.
func tokenForms(idp *oauthtest.Provider, user string) map[string]string {
	forms := map[string]string{}
	for i, s := range idp.Secrets() {
		forms[fmt.Sprintf("token %d", i)] = s
		if strings.HasPrefix(s, "rt.") {
			forms[fmt.Sprintf("refresh token %d, its body", i)] = s[3:23]
			continue
		}
		parts := strings.Split(s, ".")
		forms[fmt.Sprintf("access token %d, its signature", i)] = parts[2][:20]
		forms[fmt.Sprintf("access token %d, a piece of its claims", i)] = parts[1][40:60]
		xo := base64.StdEncoding.EncodeToString([]byte("user=" + user + "\x01auth=Bearer " + s + "\x01\x01"))
		forms[fmt.Sprintf("access token %d, its XOAUTH2 line", i)] = xo[80:110]
	}
	return forms
}

// oauthEnv is childEnv with the test's keyring bus instead of none.
func oauthEnv(t *testing.T, e *env, kr *keyringtest.Keyring) []string {
	var out []string
	for _, kv := range childEnv(t, e, "") {
		if !strings.HasPrefix(kv, "DBUS_SESSION_BUS_ADDRESS=") {
			out = append(out, kv)
		}
	}
	return append(out, "DBUS_SESSION_BUS_ADDRESS="+kr.Addr)
}

// runWith runs the binary with env and args, bounded by runLimit.
func runWith(t *testing.T, env []string, args ...string) run {
	t.Helper()
	return runIn(t, env, nil, args...)
}

// startDaemonWith starts `smtpwatch run --headless` on files with env
// (and XDG_RUNTIME_DIR) and waits until its API answers; the test's
// cleanup kills it if it still runs.
func startDaemonWith(t *testing.T, files daemonFiles, env []string) *daemon {
	t.Helper()
	d := &daemon{files: files, out: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(smtpwatchBin(t), "run", "--headless", "--config", files.config, "--socket", files.socket)
	d.cmd.Env = append(append([]string(nil), env...), "XDG_RUNTIME_DIR="+files.runDir)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.done) }()
	t.Cleanup(func() {
		if !d.exited() {
			d.cmd.Process.Kill()
			<-d.done
		}
		if t.Failed() {
			t.Logf("smtpwatch run output (last 40 lines):\n%s", tail(d.out.String(), 40))
		}
	})
	d.waitReady(t)
	return d
}

// secretTool runs secret-tool in the keyring's environment.
func secretTool(t *testing.T, kr *keyringtest.Keyring, stdin string, args ...string) string {
	t.Helper()
	tool, err := exec.LookPath("secret-tool")
	if err != nil {
		skipOrFail(t, "secret-tool not found (scripts/test installs libsecret-tools)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Env = kr.Env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("secret-tool %v: %v: %s", args, err, out)
	}
	return string(out)
}

// TestQuotedTokenNeverShown: OAuth2's secrets — the refresh token kept in
// the keyring and every access token sent — get into no output and no
// file, not even when the mail server quotes the token back in its
// refusal and the provider quotes the refresh token in its error: check
// (text, JSON, Nagios), the daemon's /v1/status, /v1/events, /metrics,
// status, history, its output and every file of its state directory, and
// the config. The keyring holds the refresh token; nothing else does.
func TestQuotedTokenNeverShown(t *testing.T) {
	e := needEnv(t)
	kr := keyringtest.Start(t)
	const account = "quoted"
	idp := oauthtest.Start(t, oauthtest.Options{Pad: 1200, Lifetime: time.Minute, QuoteTokens: true})
	dir := filepath.Dir(e.CA)
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "good.pem"), filepath.Join(dir, "good-key.pem"))
	if err != nil {
		t.Fatalf("the e2e certificates: %v (rerun scripts/postfix-e2e)", err)
	}
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, MaxLineLength: 12288,
		Tokens: func(user, tok string) error {
			parts := strings.Split(tok, ".")
			line := base64.StdEncoding.EncodeToString([]byte("user=" + user + "\x01auth=Bearer " + tok + "\x01\x01"))
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
				Message: fmt.Sprintf("token refused: %s... sig=%s claims=%s line=%s", tok[:60], parts[2], parts[1][30:90], line[60:140])}
		}})
	secretTool(t, kr, fmt.Sprintf(`{"v":1,"refresh_token":%q,"client_id":"smtpwatch-test","token_url":%q,"username":%q}`,
		idp.GrantRefresh(e.User), idp.TokenURL, e.User),
		"store", "--label=smtpwatch test sign-in", "username", account, "service", credential.OAuthKeyringService)

	files := writeDaemonConfig(t, e, onlineTarget(t))
	cfg := fmt.Sprintf(`state_dir = %q

[online]
targets = [%q]

[[account]]
name = %q
server = %q
port = %s
security = "starttls"
username = %q
oauth_provider = "custom"
oauth_client_id = "smtpwatch-test"
oauth_auth_url = %q
oauth_token_url = %q
interval = "2s"
timeout = "10s"
`, files.stateDir, onlineTarget(t), account, hostOf(t, srv.Addr), portOf(t, srv.Addr), e.User, idp.AuthURL, idp.TokenURL)
	if err := os.WriteFile(files.config, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env := oauthEnv(t, e, kr)
	outputs := map[string]string{}

	// One-shot checks: the server quotes the token.
	for _, format := range [][]string{{}, {"--json"}, {"--format", "nagios"}} {
		args := append([]string{"check", "--config", files.config, "--alternatives", "none"}, format...)
		r := runWith(t, env, args...)
		if r.Exit != exitFailing || !strings.Contains(r.Stdout, "token refused") {
			t.Errorf("%v: exit %d, want the refused token reported\n%s", format, r.Exit, r)
		}
		outputs[fmt.Sprintf("check %v", format)] = r.Stdout + r.Stderr
	}

	// The daemon, held at the refusal.
	d := startDaemonWith(t, files, env)
	events := followEvents(t, files.socket)
	d.waitStatus(t, e, "the refused token", time.Now(), 30*time.Second, accountIs(account, "failing", "oauth_token_rejected"))
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(events.String(), "oauth_token_rejected") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // bounded polling of another process
	}
	outputs["/v1/events"] = events.String()
	outputs["/v1/status"] = rawGet(t, files.socket, "/v1/status")
	outputs["/metrics"] = rawGet(t, files.socket, "/metrics")
	for name, args := range map[string][]string{
		"status":         {"status", "--socket", files.socket},
		"status --json":  {"status", "--json", "--socket", files.socket},
		"history":        {"history", "--state-dir", files.stateDir, "--since", "1h"},
		"history --json": {"history", "--json", "--state-dir", files.stateDir, "--since", "1h"},
	} {
		r := runWith(t, env, args...)
		outputs[name] = r.Stdout + r.Stderr
	}
	d.signal(t, 15, 10*time.Second)
	outputs["the daemon output"] = d.out.String()

	// The provider revokes the sign-in and quotes the refresh token in its
	// refusal.
	idp.Revoke()
	r := runWith(t, env, "check", "--config", files.config, "--alternatives", "none", "--json")
	if r.Exit != exitFailing || !strings.Contains(r.Stdout, "oauth_sign_in_required") || !strings.Contains(r.Stdout, "AADSTS70000") {
		t.Errorf("after the revocation: %s", r)
	}
	outputs["check after the revocation"] = r.Stdout + r.Stderr

	stateFiles, _ := filepath.Glob(filepath.Join(files.stateDir, "*"))
	for _, f := range append(stateFiles, files.config) {
		if b, err := os.ReadFile(f); err == nil {
			outputs["the file "+filepath.Base(f)] = string(b)
		}
	}
	if _, ok := outputs["the file history.db"]; !ok {
		t.Errorf("no history.db in %s", files.stateDir)
	}
	forms := tokenForms(idp, e.User)
	if len(forms) < 8 {
		t.Fatalf("only %d forms: the provider issued too few tokens for the test to mean anything", len(forms))
	}
	for name, out := range outputs {
		if found := leaks(forms, out); len(found) > 0 {
			t.Errorf("%s holds %v", name, found)
		}
	}

	// The keyring holds the current refresh token (a rotated one: the
	// provider rotates at every refresh), and only refresh tokens.
	stored := secretTool(t, kr, "", "lookup", "service", credential.OAuthKeyringService, "username", account)
	holds := false
	for _, s := range idp.Secrets() {
		if strings.Contains(stored, s) {
			if !strings.HasPrefix(s, "rt.") {
				t.Error("the keyring holds an access token")
			}
			holds = true
		}
	}
	if !holds {
		t.Errorf("the keyring holds no refresh token: %q", stored)
	}
}
