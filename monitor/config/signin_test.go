package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/oauth"
	"smtpwatch/monitor/oauthtest"
	"smtpwatch/monitor/probe"
)

func parseOne(t *testing.T, body string) Account {
	t.Helper()
	c, err := Parse("c.toml", []byte(body))
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, body)
	}
	if len(c.Accounts) != 1 {
		t.Fatalf("%d accounts", len(c.Accounts))
	}
	return c.Accounts[0]
}

// How an account signs in, as written: the preset's way, a password
// source, OAuth2 keys, or auth = "...".
func TestSignInResolves(t *testing.T) {
	msAuth, msToken, msDevice := oauth.Endpoints(oauth.Microsoft, "common")
	for _, tc := range []struct {
		name  string
		body  string
		auth  AuthMethod
		src   CredentialSource
		check func(t *testing.T, a Account)
	}{
		{name: "office365 signs in with OAuth2 with Microsoft", auth: AuthOAuth2, src: CredentialOAuth,
			body: "[[account]]\nname = \"work\"\npreset = \"office365\"\nusername = \"me@example.com\"\n",
			check: func(t *testing.T, a Account) {
				o := a.Credential.OAuth
				if o.Provider != oauth.Microsoft || o.Tenant != "common" || o.AuthURL != msAuth || o.TokenURL != msToken || o.DeviceURL != msDevice ||
					o.Scopes != "https://outlook.office.com/SMTP.Send offline_access" || o.ClientID != "" {
					t.Errorf("oauth %+v", o)
				}
				if a.Hint() != "smtpwatch login work" || a.Target().OAuthProvider != probe.ProviderMicrosoft {
					t.Errorf("hint %q, target provider %q", a.Hint(), a.Target().OAuthProvider)
				}
				if a.Credential.Line != 1 {
					t.Errorf("the source is located at line %d", a.Credential.Line)
				}
			}},
		{name: "outlook with a tenant", auth: AuthOAuth2, src: CredentialOAuth,
			body: "[[account]]\nname = \"home\"\npreset = \"outlook\"\nusername = \"me@outlook.com\"\noauth_tenant = \"consumers\"\n",
			check: func(t *testing.T, a Account) {
				if o := a.Credential.OAuth; o.Tenant != "consumers" || !strings.Contains(o.TokenURL, "/consumers/oauth2/v2.0/token") {
					t.Errorf("oauth %+v", o)
				}
			}},
		{name: "office365 with a password source keeps the password", auth: AuthPassword, src: CredentialKeyring,
			body: "[[account]]\nname = \"work\"\npreset = \"office365\"\nusername = \"me@example.com\"\npassword_keyring = true\n"},
		{name: "gmail keeps app passwords", auth: AuthPassword, src: CredentialNone,
			body: "[[account]]\nname = \"gmail\"\npreset = \"gmail\"\nusername = \"me@gmail.com\"\n"},
		{name: "gmail with auth = oauth2 takes Google", auth: AuthOAuth2, src: CredentialOAuth,
			body: "[[account]]\nname = \"gmail\"\npreset = \"gmail\"\nusername = \"me@gmail.com\"\nauth = \"oauth2\"\n",
			check: func(t *testing.T, a Account) {
				if o := a.Credential.OAuth; o.Provider != oauth.Google || o.Scopes != "https://mail.google.com/" || o.TokenURL != "https://oauth2.googleapis.com/token" {
					t.Errorf("oauth %+v", o)
				}
			}},
		{name: "a custom provider", auth: AuthOAuth2, src: CredentialOAuth,
			body: "[[account]]\nname = \"lab\"\nserver = \"mail.example.org\"\nusername = \"me\"\noauth_provider = \"custom\"\n" +
				"oauth_auth_url = \"https://id.example.org/auth\"\noauth_token_url = \"https://id.example.org/token\"\n" +
				"oauth_client_id = \"abc\"\noauth_scopes = [\"mail\", \"offline\"]\n",
			check: func(t *testing.T, a Account) {
				c := a.OAuthClient()
				if c.Provider != oauth.Custom || c.ClientID != "abc" || c.AuthURL != "https://id.example.org/auth" || c.TokenURL != "https://id.example.org/token" ||
					strings.Join(c.Scopes, ",") != "mail,offline" || c.DeviceURL != "" {
					t.Errorf("client %+v", c)
				}
				if a.Credential.Line != 5 {
					t.Errorf("the source is located at line %d, want oauth_provider's", a.Credential.Line)
				}
			}},
		{name: "Microsoft's endpoints overridden (a national cloud)", auth: AuthOAuth2, src: CredentialOAuth,
			body: "[[account]]\nname = \"gov\"\nserver = \"smtp.office365.us\"\nusername = \"me\"\noauth_provider = \"microsoft\"\n" +
				"oauth_token_url = \"https://login.microsoftonline.us/common/oauth2/v2.0/token\"\n",
			check: func(t *testing.T, a Account) {
				if o := a.Credential.OAuth; o.TokenURL != "https://login.microsoftonline.us/common/oauth2/v2.0/token" || o.AuthURL != msAuth {
					t.Errorf("oauth %+v", o)
				}
			}},
		{name: "a token helper", auth: AuthOAuth2, src: CredentialTokenCommand,
			body: "[[account]]\nname = \"work\"\npreset = \"office365\"\nusername = \"me@example.com\"\noauth_token_command = \"oama access me@example.com\"\n",
			check: func(t *testing.T, a Account) {
				if a.Credential.Command != "oama access me@example.com" || a.Credential.Line != 5 || a.Credential.OAuth.Provider != oauth.Microsoft {
					t.Errorf("credential %+v", a.Credential)
				}
				if a.Hint() != "what oauth_token_command prints" {
					t.Errorf("hint %q", a.Hint())
				}
			}},
		{name: "auth = none", auth: AuthNone, src: CredentialNone,
			body: "[[account]]\nname = \"relay\"\nserver = \"mail.example.org\"\nusername = \"me\"\nauth = \"none\"\n"},
		{name: "no user name, no sign-in", auth: AuthNone, src: CredentialNone,
			body: "[[account]]\nname = \"work\"\npreset = \"office365\"\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := parseOne(t, tc.body)
			if a.Auth != tc.auth || a.Credential.Source != tc.src {
				t.Fatalf("auth %q source %q, want %q %q", a.Auth, a.Credential.Source, tc.auth, tc.src)
			}
			if tc.check != nil {
				tc.check(t, a)
			}
		})
	}
}

// The build's default client id is used unless the account names its own.
func TestSignInDefaultClientID(t *testing.T) {
	old, oldG, oldS := oauth.MicrosoftClientID, oauth.GoogleClientID, oauth.GoogleClientSecret
	t.Cleanup(func() { oauth.MicrosoftClientID, oauth.GoogleClientID, oauth.GoogleClientSecret = old, oldG, oldS })
	oauth.MicrosoftClientID, oauth.GoogleClientID, oauth.GoogleClientSecret = "built-in-ms", "built-in-g", "g-secret"
	a := parseOne(t, "[[account]]\nname = \"work\"\npreset = \"office365\"\nusername = \"me@example.com\"\n")
	if a.Credential.OAuth.ClientID != "built-in-ms" {
		t.Errorf("client id %q", a.Credential.OAuth.ClientID)
	}
	a = parseOne(t, "[[account]]\nname = \"work\"\npreset = \"office365\"\nusername = \"me@example.com\"\noauth_client_id = \"mine\"\n")
	if a.Credential.OAuth.ClientID != "mine" {
		t.Errorf("own client id %q", a.Credential.OAuth.ClientID)
	}
	g := parseOne(t, "[[account]]\nname = \"g\"\npreset = \"gmail\"\nusername = \"me@gmail.com\"\nauth = \"oauth2\"\n")
	if o := g.Credential.OAuth; o.ClientID != "built-in-g" || o.ClientSecret != "g-secret" {
		t.Errorf("google %+v", o)
	}
	g = parseOne(t, "[[account]]\nname = \"g\"\npreset = \"gmail\"\nusername = \"me@gmail.com\"\nauth = \"oauth2\"\noauth_client_id = \"mine\"\n")
	if o := g.Credential.OAuth; o.ClientID != "mine" || o.ClientSecret != "" {
		t.Errorf("google with its own client id keeps the build's secret: %+v", o)
	}
}

// Each mistake names its file, line and key.
func TestSignInErrors(t *testing.T) {
	const head = "[[account]]\nname = \"work\"\nserver = \"mail.example.org\"\nusername = \"me\"\n"
	for _, tc := range []struct{ body, want string }{
		{head + "auth = \"oauth\"\n", `c.toml:5: account "work": auth: unknown sign-in "oauth"; did you mean "oauth2"?`},
		{head + "auth = \"kerberos\"\n", `c.toml:5: account "work": auth: unknown sign-in "kerberos": want "password", "oauth2" or "none"`},
		{head + "oauth_provider = \"yahoo\"\n", `c.toml:5: account "work": oauth_provider: unknown provider "yahoo": want "microsoft", "google" or "custom"`},
		{head + "auth = \"oauth2\"\n", `c.toml:1: account "work": oauth_provider: missing: set oauth_provider = "microsoft", oauth_provider = "google" or oauth_provider = "custom" — or oauth_token_command to use a token helper`},
		{head + "oauth_provider = \"custom\"\noauth_token_url = \"https://id.example.org/token\"\n", `c.toml:1: account "work": oauth_auth_url: missing: oauth_provider = "custom" needs oauth_auth_url and oauth_token_url`},
		{head + "oauth_provider = \"custom\"\noauth_auth_url = \"http://id.example.org/a\"\noauth_token_url = \"https://id.example.org/t\"\n",
			`c.toml:6: account "work": oauth_auth_url: "http://id.example.org/a": want an https:// URL (http:// only on this computer: 127.0.0.1, [::1], localhost)`},
		{head + "oauth_provider = \"google\"\noauth_tenant = \"organizations\"\n", `c.toml:6: account "work": oauth_tenant: oauth_tenant is for oauth_provider = "microsoft" only`},
		{head + "oauth_provider = \"microsoft\"\noauth_tenant = \"my tenant\"\n", `c.toml:6: account "work": oauth_tenant: invalid tenant "my tenant": want "common", "organizations", "consumers", a tenant id or a domain`},
		{head + "oauth_provider = \"microsoft\"\noauth_scopes = \"SMTP.Send\"\n", `c.toml:6: account "work": oauth_scopes: want a list of strings in quotes, like ["https://mail.google.com/"], got string "SMTP.Send"`},
		{head + "oauth_provider = \"microsoft\"\noauth_client_id = \"a b\"\n", `c.toml:6: account "work": oauth_client_id: want the application (client) id the provider gave without spaces`},
		{head + "auth = \"oauth2\"\noauth_provider = \"microsoft\"\npassword_env = \"PW\"\n", `c.toml:7: account "work": password_env: password_env is a password source, but this account signs in with OAuth2 (auth = "oauth2"); leave it out`},
		{head + "auth = \"password\"\noauth_provider = \"microsoft\"\n", `c.toml:6: account "work": oauth_provider: oauth_provider is for auth = "oauth2", but this account signs in with a password; set auth = "oauth2", or leave oauth_provider out`},
		{head + "auth = \"none\"\npassword_keyring = true\n", `c.toml:6: account "work": password_keyring: password_keyring does not fit auth = "none": the account does not sign in`},
		{"[[account]]\nname = \"work\"\npreset = \"office365\"\nauth = \"oauth2\"\n", `c.toml:4: account "work": auth: set username too: OAuth2 signs in as a user, usually your email address`},
		{head + "oauth_token_command = \"oama access me\"\noauth_client_id = \"x\"\n", `c.toml:6: account "work": oauth_client_id: oauth_client_id is not used with oauth_token_command: the token helper signs in by itself`},
		{head + "oauth_token_command = \" \"\n", `c.toml:5: account "work": oauth_token_command: empty command`},
		{head + "oath_provider = \"microsoft\"\n", `c.toml:5: account "work": oath_provider: unknown key; did you mean "oauth_provider"?`},
	} {
		_, err := Parse("c.toml", []byte(tc.body))
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s\n got: %v\nwant: %s", tc.body, err, tc.want)
		}
	}
}

// The same settings as flags resolve to the same account, and messages
// name the flags.
func TestSignInFromFlags(t *testing.T) {
	str := func(s string) *string { return &s }
	a, probs := Resolve("office365", Settings{Preset: str("office365"), Username: str("me@example.com")}, Schedule{}, Origin{Flags: true})
	if len(probs) > 0 || a.Auth != AuthOAuth2 || a.Credential.Source != CredentialOAuth {
		t.Fatalf("flags: %+v %v", a.Credential, probs)
	}
	_, probs = Resolve("x", Settings{Server: str("mail.example.org"), Username: str("me"),
		OAuthSettings: OAuthSettings{Auth: str("oauth2"), Provider: str("custom"), AuthURL: str("https://a/x")}}, Schedule{}, Origin{Flags: true})
	if len(probs) != 1 || probs[0].Msg != "missing: --oauth-provider custom needs --oauth-auth-url and --oauth-token-url" {
		t.Errorf("flag problems %+v", probs)
	}
	a, _ = Resolve("x", Settings{Server: str("mail.example.org"), Username: str("me"),
		OAuthSettings: OAuthSettings{TokenCommand: str("oama access me")}}, Schedule{}, Origin{Flags: true})
	if a.Hint() != "the output of --oauth-token-command" {
		t.Errorf("hint %q", a.Hint())
	}
}

// A changed OAuth2 setting is a changed account (a reload restarts its
// checks and lifts a lockout); the same file read twice is not.
func TestSignInKey(t *testing.T) {
	base := "[[account]]\nname = \"work\"\npreset = \"office365\"\nusername = \"me@example.com\"\n"
	a, b := parseOne(t, base), parseOne(t, base)
	if a.Key() != b.Key() {
		t.Error("the same file gives two keys")
	}
	for _, extra := range []string{"oauth_tenant = \"organizations\"\n", "oauth_client_id = \"x\"\n", "oauth_scopes = [\"a\"]\n",
		"oauth_token_url = \"https://login.example/token\"\n", "oauth_token_command = \"helper\"\n"} {
		if c := parseOne(t, base+extra); c.Key() == a.Key() || c.Credential.Key() == a.Credential.Key() {
			t.Errorf("%q changes nothing", extra)
		}
	}
}

// oauth_token_command is a command: refused in a file others can write,
// as password_command is.
func TestTokenCommandPermissions(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix permissions")
	}
	p := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(p, []byte("[[account]]\nname = \"w\"\nserver = \"m.example.org\"\nusername = \"me\"\noauth_token_command = \"helper\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o664); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), ":5: account \"w\": oauth_token_command: "+p+" is writable by group or others") {
		t.Errorf("Load: %v", err)
	}
}

// ReadSignIn: the token helper's output becomes the access token the
// probe sends; an untrusted file's helper is not run; a stored sign-in is
// read through the token source.
func TestReadSignIn(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	a := parseOne(t, "[[account]]\nname = \"w\"\nserver = \"m.example.org\"\nusername = \"me\"\noauth_token_command = \"printf 'eyJ.tok.sig\\\\n'\"\n")
	si, err := a.ReadSignIn(context.Background(), nil)
	if err != nil || si.ID.Reveal() != "eyJ.tok.sig" {
		t.Fatalf("ReadSignIn = %v", err)
	}
	tg := a.Target()
	si.Apply(&tg)
	tok, err := tg.Token(context.Background())
	if err != nil || tok.Reveal() != "eyJ.tok.sig" || !tg.Password.IsZero() {
		t.Errorf("the target's token %v", err)
	}
	a.Credential.Command = "exit 3"
	if _, err := a.ReadSignIn(context.Background(), nil); err == nil || err.Error() != `c.toml:5: account "w": oauth_token_command: the command failed: exit status 3` {
		t.Errorf("failing helper: %v", err)
	}
	a.Credential.Untrusted = "c.toml is owned by another user"
	a.Credential.Command = "touch " + filepath.Join(t.TempDir(), "ran")
	if _, err := a.ReadSignIn(context.Background(), nil); !errors.Is(err, ErrUntrusted) {
		t.Errorf("untrusted: %v", err)
	}

	// A stored sign-in: its refresh token is the ID; the token comes from
	// the token source.
	o := parseOne(t, "[[account]]\nname = \"work\"\npreset = \"office365\"\nusername = \"me@example.com\"\n")
	store := oauthtest.NewGrants()
	store.Put("work", credential.Grant{RefreshToken: credential.NewSecret("rt-1"), Username: "me@example.com",
		ClientID: o.Credential.OAuth.ClientID, TokenURL: o.Credential.OAuth.TokenURL})
	si, err = o.ReadSignIn(context.Background(), o.NewTokenSource(store, nil, nil))
	if err != nil || si.ID.Reveal() != "rt-1" {
		t.Fatalf("stored sign-in: %v", err)
	}
	store.DeleteGrant("work")
	if si, err = o.ReadSignIn(context.Background(), o.NewTokenSource(store, nil, nil)); err != nil || !si.ID.IsZero() {
		t.Errorf("no sign-in: %v, ID zero %v", err, si.ID.IsZero())
	}
	tg = o.Target()
	si.Apply(&tg)
	if _, err := tg.Token(context.Background()); !errors.Is(err, credential.ErrSignInRequired) {
		t.Errorf("no sign-in, token: %v", err)
	}
}

// The presets: Microsoft's two sign in with OAuth2 by default; Gmail keeps
// app passwords and says OAuth2 is there.
func TestPresetsSignIn(t *testing.T) {
	for _, key := range []string{"office365", "outlook"} {
		p, _ := LookupPreset(key)
		if p.DefaultAuth != AuthOAuth2 || p.OAuthProvider != oauth.Microsoft || !strings.Contains(p.Notes, "smtpwatch login") {
			t.Errorf("%s: %+v", key, p)
		}
	}
	g, _ := LookupPreset("gmail")
	if g.DefaultAuth != "" || g.OAuthProvider != oauth.Google || !strings.Contains(g.Notes, "OAuth2") {
		t.Errorf("gmail: %+v", g)
	}
}
