package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/discover"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

const (
	addUser = "jo@example.test"
	addPass = "s3cret-Add-Pass-9"
)

// addBed is the world `smtpwatch add` meets in these tests, all on
// loopback: a DNS zone, the autoconfig and ISPDB web servers, and a real
// SMTP server (smtptest) for mail.example.test with a certificate from the
// test CA.
type addBed struct {
	t      *testing.T
	zone   *smtptest.Zone
	web    *smtptest.Web
	webCA  *smtptest.CA
	srv    *smtptest.Server
	caFile string
	dir    string
	cfg    string
	online string
	socket string
}

func newAddBed(t *testing.T) *addBed {
	t.Helper()
	b := &addBed{t: t, dir: t.TempDir()}
	b.cfg = filepath.Join(b.dir, "smtpwatch", "config.toml")
	b.socket = filepath.Join(b.dir, "no-daemon.sock")
	ca := smtptest.NewCA(t, "add test CA", "tests")
	cert := ca.Issue(t, smtptest.Leaf{DNSNames: []string{"mail.example.test", "closed.example.test"}})
	b.caFile = filepath.Join(b.dir, "ca.pem")
	if err := os.WriteFile(b.caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	b.srv = smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{addUser: addPass}})
	b.zone = smtptest.StartZone(t, "127.0.0.1:0",
		"mail.example.test. 60 IN A 127.0.0.1",
		"closed.example.test. 60 IN A 127.0.0.1",
		"autoconfig.example.test. 60 IN A 127.0.0.1",
		"autoconfig.thunderbird.net. 60 IN A 127.0.0.1",
	)
	b.webCA = smtptest.NewCA(t, "web test CA", "tests")
	b.web = smtptest.StartWeb(t, "127.0.0.1:0", b.webCA, "autoconfig.example.test", "autoconfig.thunderbird.net")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	b.online = ln.Addr().String()
	return b
}

// autoconfig makes example.test publish these outgoing servers.
func (b *addBed) autoconfig(servers ...string) {
	var xml strings.Builder
	xml.WriteString(`<clientConfig version="1.1"><emailProvider id="example.test"><displayName>Example</displayName>`)
	for _, s := range servers {
		xml.WriteString(s)
	}
	xml.WriteString(`</emailProvider></clientConfig>`)
	b.web.Handle("autoconfig.example.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, xml.String())
	}))
}

func server(host string, port int, socket, auth string) string {
	return fmt.Sprintf(`<outgoingServer type="smtp"><hostname>%s</hostname><port>%d</port><socketType>%s</socketType>`+
		`<username>%%EMAILADDRESS%%</username><authentication>%s</authentication></outgoingServer>`, host, port, socket, auth)
}

func (b *addBed) env() addEnv {
	r := b.zone.Resolver()
	return addEnv{
		discover: discover.Options{HTTP: b.web.Client(b.webCA, r.LookupHost), Resolver: r},
		probe: probe.Deps{
			Resolve: func(ctx context.Context, host string) ([]net.IPAddr, error) {
				addrs, err := r.LookupHost(ctx, host)
				var out []net.IPAddr
				for _, a := range addrs {
					out = append(out, net.IPAddr{IP: net.ParseIP(a)})
				}
				return out, err
			},
			OnlineTargets: []string{b.online},
			Alternatives:  []probe.Alternative{},
		},
		service: func(context.Context, *app, string) int {
			b.t.Error("add tried to install the service")
			return exitUnknown
		},
		daemonWait: time.Second,
	}
}

type addRun struct {
	code           int
	stdout, stderr string
}

func (r addRun) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s\n--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// add runs `smtpwatch add` in process with stdin.
func (b *addBed) add(stdin string, args ...string) addRun {
	b.t.Helper()
	return b.addEnv(b.env(), stdin, args...)
}

func (b *addBed) addEnv(env addEnv, stdin string, args ...string) addRun {
	b.t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" },
		logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--config", b.cfg, "--ca-file", b.caFile, "--socket", b.socket, "--timeout", "10s"}, args...)
	code := a.addWith(ctx, full, env)
	return addRun{code, stdout.String(), stderr.String()}
}

func (b *addBed) load() *config.Config {
	b.t.Helper()
	cfg, err := config.Load(b.cfg)
	if err != nil {
		b.t.Fatalf("the config does not load: %v", err)
	}
	return cfg
}

func (b *addBed) noConfig() {
	b.t.Helper()
	if _, err := os.Stat(b.cfg); !errors.Is(err, fs.ErrNotExist) {
		data, _ := os.ReadFile(b.cfg)
		b.t.Errorf("a config was written:\n%s", data)
	}
}

func passwordCommand() string { return "printf '%s\\n' '" + addPass + "'" }

// TestAddDiscoversChecksAndWrites: from the address alone, add finds the
// server in the provider's autoconfig, signs in to it, and writes an
// account that loads, with a comment; the password stays a command.
func TestAddDiscoversChecksAndWrites(t *testing.T) {
	b := newAddBed(t)
	b.autoconfig(server("mail.example.test", b.srv.Port, "STARTTLS", "password-cleartext"))
	r := b.add("", addUser, "--yes", "--password-command", passwordCommand())
	if r.code != exitOK {
		t.Fatalf("%s", r)
	}
	cfg := b.load()
	a, ok := cfg.Account("example")
	if !ok {
		t.Fatalf("no account %q in the config:\n%s", "example", r)
	}
	if a.Server != "mail.example.test" || a.Port != b.srv.Port || a.Security != probe.SecurityStartTLS || a.Username != addUser ||
		a.Credential.Source != config.CredentialCommand || a.Credential.Command != passwordCommand() || a.CAFile != b.caFile {
		t.Errorf("account %+v", a)
	}
	data, _ := os.ReadFile(b.cfg)
	if !strings.HasPrefix(string(data), config.Template) || !strings.Contains(string(data), "# Added by smtpwatch add on ") ||
		!strings.Contains(string(data), "server from the provider's autoconfig (https://autoconfig.example.test/mail/config-v1.1.xml?emailaddress=jo%40example.test)") {
		t.Errorf("file:\n%s", data)
	}
	if fi, _ := os.Stat(b.cfg); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o", fi.Mode().Perm())
	}
	if n := b.srv.AuthAttempts.Load(); n != 1 {
		t.Errorf("%d sign-ins, want 1", n)
	}
	for _, want := range []string{"✓ Sending works", `Added "example" to ` + b.cfg, "To watch it in the background: smtpwatch service install --config"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q\n%s", want, r)
		}
	}
	if strings.Contains(r.stdout+r.stderr, addPass) {
		t.Errorf("the password was shown\n%s", r)
	}

	// The same address again: nothing to add.
	r = b.add("", addUser, "--yes", "--password-command", passwordCommand())
	if r.code != exitUnknown || !strings.Contains(r.stderr, `already watches jo@example.test at mail.example.test as "example": nothing to add`) {
		t.Errorf("second add:\n%s", r)
	}
}

// TestAddJSON: --json prints what was found, checked and written, and no
// secret.
func TestAddJSON(t *testing.T) {
	b := newAddBed(t)
	b.autoconfig(server("mail.example.test", b.srv.Port, "STARTTLS", "password-cleartext"))
	r := b.add(addPass+"\n", addUser, "--yes", "--json", "--password-command", passwordCommand(), "--name", "jo")
	if r.code != exitOK {
		t.Fatalf("%s", r)
	}
	var doc struct {
		Address   string `json:"address"`
		Account   string `json:"account"`
		Written   bool   `json:"written"`
		Password  string `json:"password"`
		Discovery struct {
			Candidates []struct {
				Server string `json:"server"`
				Source string `json:"source"`
			} `json:"candidates"`
			Sources []struct {
				Source     string `json:"source"`
				DurationMS *int64 `json:"duration_ms"`
			} `json:"sources"`
		} `json:"discovery"`
		Checks []struct {
			Status       string `json:"status"`
			AuthVerified bool   `json:"auth_verified"`
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r)
	}
	if doc.Address != addUser || doc.Account != "jo" || !doc.Written || doc.Password != "password_command" ||
		len(doc.Discovery.Candidates) == 0 || doc.Discovery.Candidates[0].Source != "autoconfig" ||
		len(doc.Discovery.Sources) != len(discover.Sources) || doc.Discovery.Sources[0].DurationMS == nil ||
		len(doc.Checks) != 1 || doc.Checks[0].Status != "ok" || !doc.Checks[0].AuthVerified {
		t.Errorf("JSON %+v\n%s", doc, r)
	}
	if strings.Contains(r.stdout+r.stderr, addPass) {
		t.Errorf("the password was shown\n%s", r)
	}
}

// TestAddNextCandidate: when the best server does not answer, add tries
// the next one and writes the one that works.
func TestAddNextCandidate(t *testing.T) {
	b := newAddBed(t)
	b.autoconfig(
		server("closed.example.test", smtptest.Port(t, smtptest.ClosedPort(t)), "SSL", "password-cleartext"),
		server("mail.example.test", b.srv.Port, "STARTTLS", "password-cleartext"),
	)
	r := b.add("", addUser, "--yes", "--password-command", passwordCommand())
	if r.code != exitOK {
		t.Fatalf("%s", r)
	}
	if a, _ := b.load().Account("example"); a.Server != "mail.example.test" {
		t.Errorf("wrote %+v", a)
	}
	if !strings.Contains(r.stderr, "Trying the next server: Example: mail.example.test, port") || !strings.Contains(r.stdout, "sending mail will FAIL") {
		t.Errorf("the failure and the next try are not shown\n%s", r)
	}
}

// TestAddWrongPassword: a refused password writes nothing, and no other
// server gets the password.
func TestAddWrongPassword(t *testing.T) {
	b := newAddBed(t)
	b.autoconfig(
		server("mail.example.test", b.srv.Port, "STARTTLS", "password-cleartext"),
		server("mail.example.test", b.srv.Port+0, "SSL", "password-cleartext"),
	)
	r := b.add("", addUser, "--yes", "--password-command", "echo wrong-password")
	if r.code != addFailed || !strings.Contains(r.stderr, "the server refused the password: nothing was written") {
		t.Errorf("%s", r)
	}
	if n := b.srv.AuthAttempts.Load(); n != 1 {
		t.Errorf("%d sign-ins, want 1", n)
	}
	b.noConfig()
	if !strings.Contains(r.stdout, "password was rejected") {
		t.Errorf("no report\n%s", r)
	}
}

// TestAddNothingFound: a domain that publishes nothing gets a clear
// error that says how to name the server, and nothing is written.
func TestAddNothingFound(t *testing.T) {
	b := newAddBed(t)
	r := b.add("", "jo@nowhere.test", "--yes", "--password-command", passwordCommand())
	if r.code != exitUnknown || !strings.Contains(r.stderr, "found no outgoing server for nowhere.test (is the address right?). Give it with: smtpwatch add jo@nowhere.test --server HOST[:PORT]") {
		t.Errorf("%s", r)
	}
	b.noConfig()
	for _, bad := range []string{"jo", "jo@", "@example.test"} {
		r := b.add("", bad, "--yes", "--password-command", passwordCommand())
		if r.code != exitUnknown || !strings.Contains(r.stderr, "smtpwatch: ") {
			t.Errorf("%q: %s", bad, r)
		}
	}
	b.noConfig()
}

// TestAddServerFlags: --server skips discovery: no DNS question is asked
// of the domain.
func TestAddServerFlags(t *testing.T) {
	b := newAddBed(t)
	r := b.add("", addUser, "--yes", "--server", fmt.Sprintf("mail.example.test:%d", b.srv.Port), "--security", "starttls",
		"--password-command", passwordCommand(), "--name", "work")
	if r.code != exitOK {
		t.Fatalf("%s", r)
	}
	for _, q := range b.zone.Asked() {
		if !strings.HasPrefix(q, "mail.example.test ") {
			t.Errorf("asked %q", q)
		}
	}
	if a, ok := b.load().Account("work"); !ok || a.Port != b.srv.Port {
		t.Errorf("%+v", a)
	}
}

// TestAddOAuth2UnknownProvider: a server whose autoconfig says OAuth2, of
// a provider smtpwatch does not sign in with, is checked and written
// without a user or password (watched without signing in); the output and
// the file say what to add; exit status 1, and no sign-in is started.
func TestAddOAuth2UnknownProvider(t *testing.T) {
	b := newAddBed(t)
	b.autoconfig(server("mail.example.test", b.srv.Port, "STARTTLS", "OAuth2"))
	r := b.add("", addUser, "--yes")
	if r.code != addUnverified || !strings.Contains(r.stdout, "smtpwatch does not know this provider's sign-in: give the account an oauth_token_command") ||
		strings.Contains(r.stdout+r.stderr, "did not finish") {
		t.Fatalf("%s", r)
	}
	a, ok := b.load().Account("example")
	if !ok || a.Username != "" || a.Credential.Source != config.CredentialNone || a.Server != "mail.example.test" {
		t.Errorf("%+v", a)
	}
	if n := b.srv.AuthAttempts.Load(); n != 0 {
		t.Errorf("%d sign-ins with a password", n)
	}
	data, _ := os.ReadFile(b.cfg)
	if !strings.Contains(string(data), "# Signs in with OAuth2 as jo@example.test. smtpwatch does not know this provider's sign-in") {
		t.Errorf("file:\n%s", data)
	}
}

// fakeOAuth stands for the OAuth2 sign-in of `smtpwatch login`, whose
// providers (Microsoft, Google) are on the internet: it records whom add
// hands over. The sign-in itself is tested against a local provider in
// login_test.go and, with the real Dovecot, in e2e.
type fakeOAuth struct {
	signedIn []string
}

func (f *fakeOAuth) Settings(s *config.Settings, user, provider, tokenCommand string) bool {
	s.Username = &user
	return true
}

func (f *fakeOAuth) SignIn(_ context.Context, _ *app, path, name string) error {
	f.signedIn = append(f.signedIn, path+"#"+name)
	return nil
}

// TestAddOAuth2Seam: with a sign-in behind the seam, add hands it the
// account it wrote, and the account keeps its user name.
func TestAddOAuth2Seam(t *testing.T) {
	b := newAddBed(t)
	b.autoconfig(server("mail.example.test", b.srv.Port, "STARTTLS", "OAuth2"))
	env := b.env()
	fake := &fakeOAuth{}
	env.oauth = fake
	r := b.addEnv(env, "", addUser, "--yes")
	if r.code != exitOK || !slices.Equal(fake.signedIn, []string{b.cfg + "#example"}) {
		t.Fatalf("%s\nsigned in: %v", r, fake.signedIn)
	}
	if a, _ := b.load().Account("example"); a.Username != addUser {
		t.Errorf("%+v", a)
	}
}

// TestAddNoKeyring: without a session bus the password has nowhere to go:
// add says what to use instead before asking for it, and writes nothing.
func TestAddNoKeyring(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	b := newAddBed(t)
	b.autoconfig(server("mail.example.test", b.srv.Port, "STARTTLS", "password-cleartext"))
	r := b.add(addPass+"\n", addUser, "--password-stdin")
	if r.code != exitUnknown || !strings.Contains(r.stderr, "the OS keyring is not available here") || !strings.Contains(r.stderr, "--password-command") {
		t.Errorf("%s", r)
	}
	if n := b.srv.AuthAttempts.Load(); n != 0 {
		t.Errorf("%d sign-ins", n)
	}
	b.noConfig()
}

// TestAddKeepsExistingFile: an existing config keeps every byte; a name in
// use is refused before anything happens.
func TestAddKeepsExistingFile(t *testing.T) {
	b := newAddBed(t)
	b.autoconfig(server("mail.example.test", b.srv.Port, "STARTTLS", "password-cleartext"))
	const mine = "# mine\n[online]\ntargets = []   # no reference targets\n\n[[account]]\nname = \"example\"\nserver = \"smtp.other.test\"\n"
	os.MkdirAll(filepath.Dir(b.cfg), 0o700)
	if err := os.WriteFile(b.cfg, []byte(mine), 0o600); err != nil {
		t.Fatal(err)
	}
	r := b.add("", addUser, "--yes", "--password-command", passwordCommand(), "--name", "example")
	if r.code != exitUnknown || !strings.Contains(r.stderr, `already has an account named "example"`) {
		t.Errorf("%s", r)
	}
	r = b.add("", addUser, "--yes", "--password-command", passwordCommand())
	if r.code != exitOK {
		t.Fatalf("%s", r)
	}
	data, _ := os.ReadFile(b.cfg)
	if !strings.HasPrefix(string(data), mine) {
		t.Errorf("the file was not kept:\n%s", data)
	}
	if b, _ := os.ReadFile(config.BackupPath(b.cfg)); string(b) != mine {
		t.Errorf("backup %q", b)
	}
	if _, ok := b.load().Account("example-2"); !ok {
		t.Errorf("the new account is not example-2:\n%s", data)
	}
}

// TestAddDryRun: found and checked, nothing written; a source's fault is a
// warning naming it, and --verbose says what every source answered.
func TestAddDryRun(t *testing.T) {
	b := newAddBed(t)
	b.web.Handle("autoconfig.example.test", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<clientConfig><emailProvider>")
	}))
	b.web.Handle("autoconfig.thunderbird.net", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `<clientConfig><emailProvider>`+server("mail.example.test", b.srv.Port, "STARTTLS", "password-cleartext")+`</emailProvider></clientConfig>`)
	}))
	r := b.add("", addUser, "--yes", "--dry-run", "--verbose", "--password-command", passwordCommand())
	if r.code != exitOK || !strings.Contains(r.stdout, "With --dry-run nothing is written") || !strings.Contains(r.stdout, `name = "example"`) {
		t.Errorf("%s", r)
	}
	for _, want := range []string{
		"warning: autoconfig: not a valid XML document",
		"providers  example.test: found 0; not a provider smtpwatch knows",
		"ispdb      https://autoconfig.thunderbird.net/v1.1/example.test: found 1",
		"from the Thunderbird ISPDB",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q\n%s", want, r)
		}
	}
	b.noConfig()
}

// TestAddKeyringUnreachable: a keyring that cannot store the password
// (a bus nobody answers on) leaves nothing written and names what to use
// instead.
func TestAddKeyringUnreachable(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "nobody-here"))
	b := newAddBed(t)
	b.autoconfig(server("mail.example.test", b.srv.Port, "STARTTLS", "password-cleartext"))
	r := b.add(addPass+"\n", addUser, "--password-stdin")
	if r.code != exitUnknown || !strings.Contains(r.stderr, "cannot store the password") || !strings.Contains(r.stderr, "Nothing was written. Instead of the keyring, give a command that prints the password: --password-command CMD") {
		t.Errorf("%s", r)
	}
	if strings.Contains(r.stdout+r.stderr, addPass) {
		t.Errorf("the password was shown\n%s", r)
	}
	b.noConfig()
}

// TestAddTakesTheWorkingPort: when the server found does not answer on its
// port but the check sees another port work, that port is tried next.
func TestAddTakesTheWorkingPort(t *testing.T) {
	b := newAddBed(t)
	b.autoconfig(server("mail.example.test", smtptest.Port(t, smtptest.ClosedPort(t)), "SSL", "password-cleartext"))
	env := b.env()
	env.probe.Alternatives = []probe.Alternative{{Port: b.srv.Port, Security: probe.SecurityStartTLS}}
	r := b.addEnv(env, "", addUser, "--yes", "--password-command", passwordCommand())
	if r.code != exitOK {
		t.Fatalf("%s", r)
	}
	a, _ := b.load().Account("example")
	if a.Port != b.srv.Port || a.Security != probe.SecurityStartTLS {
		t.Errorf("wrote %+v", a)
	}
	if !strings.Contains(r.stderr, fmt.Sprintf("Trying the next server: mail.example.test, port %d (STARTTLS)", b.srv.Port)) {
		t.Errorf("%s", r)
	}
}

// TestAddOAuth2Preset: a provider the table says signs in with OAuth2
// is never asked for a password.
func TestAddOAuth2Preset(t *testing.T) {
	b := newAddBed(t)
	r := b.add("never-read\n", "jo@outlook.com", "--yes", "--password-stdin")
	if !strings.Contains(r.stderr, "Outlook.com: smtp-mail.outlook.com, port 587 (STARTTLS) signs in with OAuth2") || strings.Contains(r.stderr, "Password for") {
		t.Errorf("%s", r)
	}
	// smtp-mail.outlook.com does not resolve here: nothing is written.
	if r.code != addFailed {
		t.Errorf("%s", r)
	}
	b.noConfig()
}
