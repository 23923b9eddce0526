package web

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/discover"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

var versionField = regexp.MustCompile(`name="version" value="([0-9a-f]+)"`)

// editForm opens an account's form and returns its fields as the page
// fills them.
func (b *bed) editForm(c *http.Client, name string) url.Values {
	b.t.Helper()
	r := b.get(c, "/settings/account/"+name)
	if r.code != 200 {
		b.t.Fatalf("the form of %s: %d\n%s", name, r.code, r.body)
	}
	form := url.Values{}
	for _, m := range regexp.MustCompile(`<input id="f-([a-z_]+)" name="[a-z_]+" value="([^"]*)"`).FindAllStringSubmatch(r.body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if m := regexp.MustCompile(`<select id="f-security" name="security">.*?<option value="([a-z]*)" selected`).FindStringSubmatch(r.body); m != nil {
		form.Set("security", m[1])
	}
	if m := regexp.MustCompile(`name="password_source" value="([a-z]+)" checked`).FindStringSubmatch(r.body); m != nil {
		form.Set("password_source", m[1])
	}
	for _, k := range []string{"password_command", "password_env"} {
		if m := regexp.MustCompile(`name="` + k + `" value="([^"]*)"`).FindStringSubmatch(r.body); m != nil {
			form.Set(k, html.UnescapeString(m[1]))
		}
	}
	if strings.Contains(r.body, `name="enabled" value="true" checked`) {
		form.Set("enabled", "true")
	}
	form.Set("version", versionField.FindStringSubmatch(r.body)[1])
	form.Set("csrf", csrfField.FindStringSubmatch(r.body)[1])
	return form
}

// An edit writes only the keys that changed, in place, keeping the
// comments; the engine watches the account with its new settings.
func TestEditKeepsTheFile(t *testing.T) {
	b := newBed(t)
	c := b.login()
	before := b.readConfig()
	form := b.editForm(c, "alpha")
	if form.Get("port") == "" || form.Get("password_source") != "env" || form.Get("password_env") != pwEnv || form.Get("enabled") != "true" {
		t.Fatalf("the form does not show the file: %v", form)
	}
	form.Set("interval", "5s")
	form.Set("timeout", "")             // removes the key
	form.Set("from", "me@example.test") // a new key ...
	form.Set("rcpt", "you@example.test")
	r := b.do(c, "POST", "/settings/account/alpha", form, nil)
	if r.code != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", r.code, r.body)
	}
	after := b.readConfig()
	want := strings.NewReplacer(`interval = "2s"`, `interval = "5s"`, "timeout = \"10s\"\n", "",
		"failure_threshold = 0\n", "failure_threshold = 0\nfrom = \"me@example.test\"\nrcpt = \"you@example.test\"\n").Replace(before)
	if after != want {
		t.Errorf("the file after the edit:\n%s\nwant:\n%s", after, want)
	}
	if bak, _ := os.ReadFile(config.BackupPath(b.cfgPath)); string(bak) != before {
		t.Error("no backup of the file as it was")
	}
	page := html.UnescapeString(b.get(c, "/settings").body)
	if !strings.Contains(page, `Saved the settings of "alpha"`) {
		t.Errorf("no word of the save:\n%s", page)
	}
	// The engine runs the new settings: the envelope check now runs.
	deadline := time.Now().Add(15 * time.Second)
	for {
		if a, _, _ := findStatus(b.eng.Status(), "alpha"); a.Last != nil {
			if _, ok := a.Last.Phase(probe.PhaseEnvelope); ok {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the engine did not take the new settings")
		}
		time.Sleep(50 * time.Millisecond) // bounded polling of the engine
	}
	// Nothing changed: nothing written.
	form = b.editForm(c, "alpha")
	if r := b.do(c, "POST", "/settings/account/alpha", form, nil); r.code != http.StatusSeeOther || b.readConfig() != after {
		t.Errorf("a save without changes: %d, file changed: %v", r.code, b.readConfig() != after)
	}
}

// An invalid value is refused with the file's own message (file, line,
// key), shown beside the form with what was typed; the file stays.
func TestEditRefusesInvalid(t *testing.T) {
	b := newBed(t)
	c := b.login()
	before := b.readConfig()
	for _, tc := range []struct {
		key, value, want string
	}{
		{"port", "99999", `config.toml:11: account "alpha": port: 99999 is out of range: want 1 to 65535`},
		{"port", "abc", `config.toml:11: account "alpha": port: want a whole number, got string "abc"`},
		{"interval", "1s", `account "alpha": interval: 1s is too short: want at least 2s`},
		{"security", "ssl3", `account "alpha": security: unknown security "ssl3"`},
		{"server", "", `account "alpha": server: missing`},
	} {
		form := b.editForm(c, "alpha")
		form.Set(tc.key, tc.value)
		r := b.do(c, "POST", "/settings/account/alpha", form, nil)
		body := html.UnescapeString(r.body)
		if r.code != http.StatusConflict || !strings.Contains(body, "Not saved: "+b.cfgPath) || !strings.Contains(body, tc.want) {
			t.Errorf("%s = %q: %d, want the message %q:\n%s", tc.key, tc.value, r.code, tc.want, body)
		}
		if tc.value != "" && !strings.Contains(body, `value="`+tc.value+`"`) {
			t.Errorf("%s = %q: the form lost what was typed", tc.key, tc.value)
		}
		if !strings.Contains(body, `<div class="field has-error">`+"\n    "+`<label for="f-`+tc.key+`">`) && tc.key != "security" {
			t.Errorf("%s: the field is not marked", tc.key)
		}
	}
	if b.readConfig() != before {
		t.Error("a refused edit wrote the file")
	}
}

// A file saved by hand after the form was opened is never overwritten:
// the page shows what changed and keeps the person's changes in the form,
// and writes them only when asked again, onto the file as it now is.
func TestEditComparesAndAsks(t *testing.T) {
	b := newBed(t)
	c := b.login()
	form := b.editForm(c, "alpha")
	form.Set("interval", "7s")
	byHand := strings.Replace(b.readConfig(), "# the first account\n", "# the first account, edited by hand\n", 1)
	if err := os.WriteFile(b.cfgPath, []byte(byHand), 0o600); err != nil {
		t.Fatal(err)
	}
	r := b.do(c, "POST", "/settings/account/alpha", form, nil)
	body := html.UnescapeString(regexp.MustCompile(`</?span[^>]*>`).ReplaceAllString(r.body, ""))
	if r.code != http.StatusConflict || !strings.Contains(body, "The file changed since this page was opened") ||
		!strings.Contains(body, "-   7 # the first account\n") || !strings.Contains(body, "+   7 # the first account, edited by hand\n") ||
		!strings.Contains(body, `value="7s"`) || !strings.Contains(body, "Save my changes to the file as it is now") {
		t.Fatalf("%d\n%s", r.code, body)
	}
	if b.readConfig() != byHand {
		t.Fatal("the hand-edited file was overwritten")
	}
	// Asked again, from that page: written onto the file as it is now.
	form.Set("version", versionField.FindStringSubmatch(r.body)[1])
	if r := b.do(c, "POST", "/settings/account/alpha", form, nil); r.code != http.StatusSeeOther {
		t.Fatalf("saving after comparing: %d\n%s", r.code, r.body)
	}
	if got := b.readConfig(); got != strings.Replace(byHand, `interval = "2s"`, `interval = "7s"`, 1) {
		t.Errorf("the file:\n%s", got)
	}
}

// Two pages editing the same account at once: one is written, the other
// is told the file changed; neither is lost silently, nothing is mixed.
func TestConcurrentEdits(t *testing.T) {
	b := newBed(t)
	c1, c2 := b.login(), b.login()
	f1, f2 := b.editForm(c1, "alpha"), b.editForm(c2, "alpha")
	f1.Set("interval", "3s")
	f2.Set("interval", "4s")
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, x := range []struct {
		c *http.Client
		f url.Values
	}{{c1, f1}, {c2, f2}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = b.do(x.c, "POST", "/settings/account/alpha", x.f, nil).code
		}()
	}
	wg.Wait()
	ok, conflict := 0, 0
	for _, code := range codes {
		switch code {
		case http.StatusSeeOther:
			ok++
		case http.StatusConflict:
			conflict++
		}
	}
	got := b.readConfig()
	if ok != 1 || conflict != 1 || strings.Count(got, `interval = "3s"`)+strings.Count(got, `interval = "4s"`) != 1 {
		t.Errorf("codes %v; the file:\n%s", codes, got)
	}
}

// Removing asks first, removes only the account's table, and refuses a
// stale page.
func TestRemove(t *testing.T) {
	b := newBed(t)
	c := b.login()
	r := b.get(c, "/settings/account/beta/remove")
	if r.code != 200 || !strings.Contains(r.body, "Remove beta?") {
		t.Fatalf("%d\n%s", r.code, r.body)
	}
	version := versionField.FindStringSubmatch(r.body)[1]
	csrf := csrfField.FindStringSubmatch(r.body)[1]
	touched := "# a note added by hand\n" + b.readConfig()
	os.WriteFile(b.cfgPath, []byte(touched), 0o600)
	r = b.do(c, "POST", "/settings/account/beta/remove", url.Values{"csrf": {csrf}, "version": {version}}, nil)
	if r.code != http.StatusConflict || !strings.Contains(r.body, "The file changed since this page was opened") || b.readConfig() != touched {
		t.Fatalf("a stale removal: %d\n%s", r.code, r.body)
	}
	version = versionField.FindStringSubmatch(r.body)[1]
	r = b.do(c, "POST", "/settings/account/beta/remove", url.Values{"csrf": {csrf}, "version": {version}}, nil)
	if r.code != http.StatusSeeOther {
		t.Fatalf("remove: %d\n%s", r.code, r.body)
	}
	got := b.readConfig()
	if strings.Contains(got, `name = "beta"`) || !strings.Contains(got, `name = "alpha"`) || !strings.Contains(got, "# a note added by hand") {
		t.Errorf("the file:\n%s", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, _, ok := findStatus(b.eng.Status(), "beta"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the engine still watches beta")
		}
		time.Sleep(20 * time.Millisecond) // bounded polling of the engine
	}
}

// Without a session bus there is no keyring: storing a password says so
// and writes nothing; an account that reads its password elsewhere is
// not changed behind the person's back.
func TestStorePasswordWithoutKeyring(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	b := newBed(t)
	c := b.login()
	before := b.readConfig()
	r := b.post(c, "/settings/account/beta/password", url.Values{"password": {"secret"}})
	if r.code != http.StatusSeeOther {
		t.Fatalf("%d", r.code)
	}
	page := html.UnescapeString(b.get(c, "/settings").body)
	if !strings.Contains(page, "The OS keyring is not available here") || strings.Contains(page, "secret") || b.readConfig() != before {
		t.Errorf("without a keyring:\n%s", page)
	}
}

// The OAuth2 seam: without it the page names the command; with it, the
// page sends the browser to the address it gives, and only to https or
// loopback.
func TestOAuth2Seam(t *testing.T) {
	b := newBed(t)
	c := b.login()
	b.post(c, "/settings/account/alpha/oauth", url.Values{})
	if page := b.get(c, "/settings").body; !strings.Contains(page, "Signing in with OAuth2 is not part of this build of smtpwatch: run smtpwatch login alpha in a terminal.") {
		t.Errorf("without the seam:\n%s", page)
	}
	var asked []string
	signIn := func(ctx context.Context, path, account string) (string, error) {
		asked = append(asked, path+" "+account)
		if account == "beta" {
			return "javascript:alert(1)", nil
		}
		return "https://login.example/authorize?client_id=x&state=y", nil
	}
	b2 := newBed(t, bedOptions{mutate: func(o *Options) { o.OAuth2SignIn = signIn }})
	c2 := b2.login()
	r := b2.post(c2, "/settings/account/alpha/oauth", url.Values{})
	if r.code != 200 || !strings.Contains(r.body, `href="https://login.example/authorize?client_id=x&amp;state=y"`) ||
		len(asked) != 1 || asked[0] != b2.cfgPath+" alpha" {
		t.Errorf("with the seam: %d %v\n%s", r.code, asked, r.body)
	}
	r = b2.post(c2, "/settings/account/beta/oauth", url.Values{})
	if r.code != http.StatusSeeOther || !strings.Contains(b2.get(c2, "/settings").body, "The sign-in gave an address the dashboard does not open") {
		t.Errorf("a javascript: address was not refused: %d", r.code)
	}
	// The button is offered to an account that signs in with OAuth2 only.
	if page := b2.get(c2, "/settings").body; strings.Contains(page, `action="/settings/account/alpha/oauth"`) {
		t.Errorf("a password account is offered an OAuth2 sign-in:\n%s", page)
	}
	f, err := os.OpenFile(b2.cfgPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(f, "\n[[account]]\nname = \"work\"\nserver = \"127.0.0.1\"\nusername = \"me@example.test\"\nauth = \"oauth2\"\n"+
		"oauth_provider = \"custom\"\noauth_client_id = \"x\"\noauth_auth_url = \"https://login.example/authorize\"\noauth_token_url = \"https://login.example/token\"\n")
	f.Close()
	page := html.UnescapeString(b2.get(c2, "/settings").body)
	if !strings.Contains(page, `action="/settings/account/work/oauth"`) || !strings.Contains(page, "OAuth2 sign-in (smtpwatch login work)") {
		t.Errorf("an OAuth2 account is not offered its sign-in:\n%s", page)
	}
}

// Adding from an e-mail address runs the onboarding of `smtpwatch add`:
// discovery (here a private DNS zone and autoconfig server), the live
// check with the password, and only then the file; a refused password
// shows the report and writes nothing.
func TestAddFromAddress(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	zone := smtptest.StartZone(t, "127.0.0.1:0",
		"mail.example.test. 60 IN A 127.0.0.1",
		"autoconfig.example.test. 60 IN A 127.0.0.1",
		"autoconfig.thunderbird.net. 60 IN A 127.0.0.1",
	)
	webCA := smtptest.NewCA(t, "web test CA", "tests")
	web := smtptest.StartWeb(t, "127.0.0.1:0", webCA, "autoconfig.example.test", "autoconfig.thunderbird.net")
	var mailPort int
	web.Handle("autoconfig.example.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<clientConfig version="1.1"><emailProvider id="example.test"><displayName>Example</displayName>`+
			`<outgoingServer type="smtp"><hostname>mail.example.test</hostname><port>%d</port><socketType>STARTTLS</socketType>`+
			`<username>%%EMAILADDRESS%%</username><authentication>password-cleartext</authentication></outgoingServer></emailProvider></clientConfig>`, mailPort)
	}))
	res := zone.Resolver()
	b := newBed(t, bedOptions{mutate: func(o *Options) {
		o.Discover = discover.Options{HTTP: web.Client(webCA, res.LookupHost), Resolver: res, Timeout: 5 * time.Second}
		o.Probe = probe.Deps{OnlineTargets: []string{}, Alternatives: []probe.Alternative{},
			Resolve: func(ctx context.Context, host string) ([]net.IPAddr, error) {
				addrs, err := res.LookupHost(ctx, host)
				var out []net.IPAddr
				for _, a := range addrs {
					out = append(out, net.IPAddr{IP: net.ParseIP(a)})
				}
				return out, err
			}}
	}})
	cert := b.ca.Issue(t, smtptest.Leaf{DNSNames: []string{"mail.example.test"}})
	mail := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{"new@example.test": "newpw"}})
	mailPort = mail.Port
	c := b.login()
	before := b.readConfig()

	r := b.post(c, "/settings/add", url.Values{"address": {"new@example.test"}})
	body := html.UnescapeString(r.body)
	if r.code != 200 || !strings.Contains(body, fmt.Sprintf("Example: mail.example.test, port %d (STARTTLS)", mail.Port)) ||
		!strings.Contains(body, "from the provider's autoconfig") || !strings.Contains(body, `name="name" value="example"`) {
		t.Fatalf("discovery: %d\n%s", r.code, body)
	}
	id := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(r.body)[1]
	pwFile := filepath.Join(b.dir, "pw")
	form := func(pw string) url.Values {
		os.WriteFile(pwFile, []byte(pw+"\n"), 0o600)
		return url.Values{"id": {id}, "server": {"0"}, "name": {"example"}, "username": {"new@example.test"},
			"keep": {"command"}, "password_command": {"cat " + pwFile}, "ca_file": {b.caFile}}
	}
	r = b.post(c, "/settings/add/check", form("wrong"))
	body = html.UnescapeString(r.body)
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(body, "The server refused the password: nothing was written.") ||
		!strings.Contains(body, "sending mail will FAIL") || b.readConfig() != before {
		t.Fatalf("a wrong password: %d\n%s", r.code, body)
	}
	if r := b.post(c, "/settings/add/check", url.Values{"id": {id}, "server": {"0"}, "name": {"alpha"}, "keep": {"command"}, "password_command": {"x"}}); r.code != http.StatusUnprocessableEntity ||
		!strings.Contains(html.UnescapeString(r.body), `already has an account named "alpha"`) {
		t.Errorf("a name taken: %d", r.code)
	}
	r = b.post(c, "/settings/add/check", form("newpw"))
	if r.code != http.StatusSeeOther || r.hdr.Get("Location") != "/account/example" {
		t.Fatalf("the right password: %d\n%s", r.code, html.UnescapeString(r.body))
	}
	cfg, err := config.Load(b.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := cfg.Account("example")
	if !ok || a.Server != "mail.example.test" || a.Port != mail.Port || a.Credential.Command != "cat "+pwFile || a.Username != "new@example.test" {
		t.Fatalf("the account written: %+v", a)
	}
	if got := b.readConfig(); !strings.HasPrefix(got, before) || !strings.Contains(got, "# Added by smtpwatch add on") {
		t.Errorf("the file was not appended to:\n%s", got)
	}
	if _, _, ok := findStatus(b.eng.Status(), "example"); !ok {
		t.Error("the engine does not watch the new account")
	}
	page := html.UnescapeString(b.get(c, "/account/example").body)
	if !strings.Contains(page, "✓ Sending works: mail.example.test accepted the password for new@example.test.") {
		t.Errorf("no word of the addition:\n%s", page)
	}
	// The addition is finished: its id is gone.
	if r := b.post(c, "/settings/add/check", form("newpw")); r.code != http.StatusSeeOther || !strings.Contains(b.get(c, "/settings").body, "expired or was finished") {
		t.Errorf("a finished addition used again: %d", r.code)
	}
}

// Adding an address whose provider signs in with OAuth2 (Outlook.com, from
// the provider table): the server is checked without a password, the
// account written as `smtpwatch add` writes it — auth = "oauth2" with the
// Microsoft provider and the address as its user — and its sign-in
// started at once: the page sends the browser to the provider.
func TestAddOAuth2Account(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	zone := smtptest.StartZone(t, "127.0.0.1:0")
	webCA := smtptest.NewCA(t, "web test CA", "tests")
	web := smtptest.StartWeb(t, "127.0.0.1:0", webCA, "autoconfig.outlook.com")
	res := zone.Resolver()
	var mailAddr string
	var asked []string
	b := newBed(t, bedOptions{mutate: func(o *Options) {
		o.Discover = discover.Options{HTTP: web.Client(webCA, res.LookupHost), Resolver: res, Timeout: 3 * time.Second}
		o.Probe = probe.Deps{OnlineTargets: []string{}, Alternatives: []probe.Alternative{},
			Resolve: func(context.Context, string) ([]net.IPAddr, error) {
				return []net.IPAddr{{IP: net.IPv4(127, 0, 0, 1)}}, nil
			},
			// smtp-mail.outlook.com:587 is the test's server.
			Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, mailAddr)
			}}
		o.OAuth2SignIn = func(_ context.Context, path, account string) (string, error) {
			asked = append(asked, path+" "+account)
			return "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=x&state=y", nil
		}
	}})
	cert := b.ca.Issue(t, smtptest.Leaf{DNSNames: []string{"smtp-mail.outlook.com"}})
	mail := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{"jo@outlook.com": "never"}})
	mailAddr = mail.Addr
	c := b.login()

	r := b.post(c, "/settings/add", url.Values{"address": {"jo@outlook.com"}})
	body := html.UnescapeString(r.body)
	if r.code != 200 || !strings.Contains(body, "smtp-mail.outlook.com, port 587 (STARTTLS)") || !strings.Contains(body, "signs in with OAuth2") {
		t.Fatalf("discovery: %d\n%s", r.code, body)
	}
	id := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(r.body)[1]
	r = b.post(c, "/settings/add/check", url.Values{"id": {id}, "server": {"0"}, "name": {"outlook"}, "username": {"jo@outlook.com"}, "ca_file": {b.caFile}})
	if r.code != 200 || !strings.Contains(r.body, `href="https://login.microsoftonline.com/common/oauth2/v2.0/authorize?client_id=x&amp;state=y"`) {
		t.Fatalf("after the check: %d\n%s", r.code, html.UnescapeString(r.body))
	}
	if len(asked) != 1 || asked[0] != b.cfgPath+" outlook" {
		t.Errorf("sign-ins started: %q", asked)
	}
	cfg, err := config.Load(b.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := cfg.Account("outlook")
	if !ok || a.Credential.Source != config.CredentialOAuth || a.Credential.OAuth.Provider != "microsoft" || a.Username != "jo@outlook.com" || a.Port != 587 {
		t.Fatalf("the account written: %+v", a)
	}
	if added := b.readConfig()[strings.Index(b.readConfig(), `name = "outlook"`):]; strings.Contains(added, "password") || !strings.Contains(added, `auth = "oauth2"`) {
		t.Errorf("the account's lines:\n%s", added)
	}
	if _, _, ok := findStatus(b.eng.Status(), "outlook"); !ok {
		t.Error("the engine does not watch the new account")
	}
}
