package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/oauth"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/report"
)

// loginTimeout bounds a sign-in: a person reads the page, types a password
// and maybe a second factor.
const loginTimeout = 10 * time.Minute

// login is `smtpwatch login NAME`: the OAuth2 sign-in of an account with
// auth = "oauth2", kept in the OS keyring. A running daemon is asked to
// check the account at once.
func (a *app) login(ctx context.Context, args []string) int {
	var path, socket string
	var device, noBrowser bool
	var timeout time.Duration
	fl := a.flags("login", "login [--config FILE] [--device] [--no-browser] NAME")
	fl.StringVar(&path, "config", "", "config `file` that names the account (default: the user config dir's smtpwatch/config.toml)")
	fl.BoolVar(&device, "device", false, "sign in on another device with a code (Microsoft; for computers without a browser)")
	fl.BoolVar(&noBrowser, "no-browser", false, "do not open the browser; only print the address to open")
	fl.DurationVar(&timeout, "timeout", loginTimeout, "give up when the sign-in is not done within this")
	fl.StringVar(&socket, "socket", "", "`path` of the daemon's API socket, told to check the account after the sign-in (default: smtpwatch.sock in the per-user runtime directory)")
	name, code, ok := a.oneName(fl, args)
	if !ok {
		return code
	}
	acct, path, err := loginAccount(path, name)
	if err != nil {
		return a.fail("%v", err)
	}
	if a.grants == nil {
		if _, ok := credential.SessionBus(); !ok {
			return a.fail("the OS keyring is not available here (no D-Bus session bus), and the sign-in is kept there. Sign in from a desktop session, or use a token helper: oauth_token_command in %s", path)
		}
	}
	if err := acct.OAuthClient().Check(); err != nil {
		return a.fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	o := signInOptions{store: a.grants, device: device}
	provider := "your provider"
	if p := acct.Credential.OAuth.Provider; p == oauth.Microsoft || p == oauth.Google {
		provider = oauth.ProviderName(p)
	}
	o.showURL = func(u string) {
		fmt.Fprintf(a.stdout, "Sign in to %s as %s in your browser", provider, acct.Username)
		if noBrowser {
			fmt.Fprintf(a.stdout, ": open this address on this computer:\n\n  %s\n\n", u)
		} else {
			fmt.Fprintf(a.stdout, ". If it does not open, open this address on this computer:\n\n  %s\n\n", u)
		}
		fmt.Fprintln(a.stdout, "Waiting for the sign-in... (Ctrl-C to stop)")
	}
	o.showCode = func(u, code string) {
		fmt.Fprintf(a.stdout, "To sign in to %s as %s, open %s on any device and enter the code %s\n\nWaiting for the sign-in... (Ctrl-C to stop)\n", provider, acct.Username, u, code)
	}
	if !noBrowser {
		o.open = a.openURL
		if o.open == nil {
			o.open = openBrowser
		}
	}
	if err := signIn(ctx, acct, o); err != nil {
		return a.fail("%s", loginError(err, acct))
	}
	fmt.Fprintf(a.stdout, "Signed in to %s as %s; the sign-in is kept in the OS keyring.\n", provider, acct.Username)
	a.checkAfterSignIn(ctx, socket, acct.Name)
	return exitOK
}

// checkAfterSignIn asks a running daemon to check the account now, so that
// the tray turns green at once, and says what it found; without a daemon
// it says how to check.
func (a *app) checkAfterSignIn(ctx context.Context, socket, name string) {
	c, err := daemonClient(socket)
	if err == nil {
		defer c.Close()
		cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		var rs []probe.Result
		rs, err = c.Check(cctx, name)
		if err == nil && len(rs) == 1 {
			fmt.Fprintf(a.stdout, "The running smtpwatch checked %s: %s.\n", name, report.CauseWords(rs[0].Cause))
			return
		}
	}
	fmt.Fprintf(a.stdout, "Check sending now: smtpwatch check --account %s\n", name)
}

// loginAccount finds the account NAME of the config at path (or the
// default path) that signs in with smtpwatch's own OAuth2 sign-in; the
// error says what to change otherwise.
func loginAccount(path, name string) (config.Account, string, error) {
	if path == "" {
		var err error
		if path, err = config.DefaultPath(); err != nil {
			return config.Account{}, path, err
		}
	}
	cfg, err := config.Load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return config.Account{}, path, fmt.Errorf("no config file at %s: sign-ins are for the accounts it names. Create it with: smtpwatch init (or name another with --config FILE)", path)
	case err != nil:
		return config.Account{}, path, err
	}
	acct, found := cfg.Account(name)
	if !found {
		var known []string
		for _, ac := range cfg.Accounts {
			known = append(known, ac.Name)
		}
		list := "it has none"
		if len(known) > 0 {
			list = "its accounts: " + strings.Join(known, ", ")
		}
		return acct, path, fmt.Errorf("%s has no account named %q (%s)", path, name, list)
	}
	c := acct.Credential
	switch {
	case c.Untrusted != "":
		return acct, path, fmt.Errorf("%s; not signing in for an account it names", c.Untrusted)
	case c.Source == config.CredentialTokenCommand:
		return acct, path, fmt.Errorf("account %q gets its access tokens from oauth_token_command in %s: sign in with that helper instead", acct.Name, path)
	case acct.Auth == config.AuthNone:
		return acct, path, fmt.Errorf("account %q does not sign in (no username, or auth = \"none\" in %s)", acct.Name, path)
	case c.Source != config.CredentialOAuth:
		return acct, path, fmt.Errorf("account %q signs in with a password; to sign in with OAuth2 instead, set auth = \"oauth2\" (and oauth_provider = \"microsoft\" or \"google\") in its [[account]] in %s and leave out its password source", acct.Name, path)
	}
	return acct, path, nil
}

// signInOptions are how signIn reaches the person and where it keeps the
// result.
type signInOptions struct {
	device   bool
	showURL  func(authURL string)         // the loopback flow's URL
	showCode func(verifyURL, code string) // the device flow's
	open     func(authURL string) error   // nil: do not open a browser
	store    credential.GrantStore        // nil: the OS keyring
	http     *http.Client
}

// signIn runs smtpwatch's OAuth2 sign-in for acct — the loopback flow, or
// the device flow — and keeps it in the store. `smtpwatch login` and the
// tray's "Sign in…" share it. It blocks until the person is done or ctx
// ends.
func signIn(ctx context.Context, acct config.Account, o signInOptions) error {
	c := acct.OAuthClient()
	var tok *oauth2.Token
	var err error
	if o.device {
		tok, err = oauth.DeviceLogin(ctx, c, oauth.DeviceOptions{Show: o.showCode, HTTP: o.http})
	} else {
		tok, err = oauth.Login(ctx, c, oauth.LoginOptions{LoginHint: acct.Username, Show: o.showURL, Open: o.open, HTTP: o.http})
	}
	if err != nil {
		return err
	}
	store := o.store
	if store == nil {
		store = credential.KeyringGrants{}
	}
	return oauth.Save(store, acct.Name, acct.Username, c, tok, time.Now())
}

// traySignIn is the tray's "Sign in…": the sign-in of `smtpwatch login`
// for the account of the config at path, with the tray's opener; the
// address goes to the log too ("Open log"), for a browser that did not
// open.
func (a *app) traySignIn(path string, log *slog.Logger) func(context.Context, string, func(string) error) error {
	return func(ctx context.Context, name string, open func(string) error) error {
		return a.signInAccount(ctx, path, name, open, func(u string) {
			log.Info("tray: sign-in page opened in the browser; if it did not open, open this address", "account", name, "url", u)
		})
	}
}

// signInAccount runs the sign-in of `smtpwatch login` for the account name
// of the config at path: open sends the person to the provider's page and
// showURL is told its address. It refuses an account that does not sign
// in with smtpwatch's own OAuth2 sign-in, or has no client to sign in
// with.
func (a *app) signInAccount(ctx context.Context, path, name string, open func(string) error, showURL func(string)) error {
	acct, _, err := loginAccount(path, name)
	if err != nil {
		return err
	}
	if err := acct.OAuthClient().Check(); err != nil {
		return err
	}
	return signIn(ctx, acct, signInOptions{store: a.grants, open: open, showURL: showURL})
}

// dashboardSignInLimit bounds a sign-in the dashboard starts: the
// loopback listener waits this long for the provider to send the browser
// back.
const dashboardSignInLimit = 10 * time.Minute

// dashboardSignIns is the dashboard's "Sign in with OAuth2"
// (web.OAuth2SignIn): the sign-in of the tray, run in the background
// within life and dashboardSignInLimit, whose provider page is handed to
// the dashboard instead of a browser being opened. A second sign-in of the
// same account ends the first (its listener closes). done, when not nil,
// is told the account once its sign-in is kept; log gets how each ends.
type dashboardSignIns struct {
	a    *app
	life context.Context
	log  func() *slog.Logger
	done func(account string)

	mu      sync.Mutex
	running map[string]*runningSignIn
}

type runningSignIn struct{ cancel context.CancelFunc }

// start is the web.OAuth2SignIn: it returns the provider's page once the
// sign-in listens, or why it did not start.
func (s *dashboardSignIns) start(ctx context.Context, path, name string) (string, error) {
	sctx, cancel := context.WithTimeout(s.life, dashboardSignInLimit)
	me := &runningSignIn{cancel}
	s.mu.Lock()
	if s.running == nil {
		s.running = map[string]*runningSignIn{}
	}
	if prev := s.running[name]; prev != nil {
		prev.cancel()
	}
	s.running[name] = me
	s.mu.Unlock()

	urls := make(chan string, 1)
	ended := make(chan error, 1)
	open := func(u string) error {
		select {
		case urls <- u:
		default:
		}
		return nil
	}
	go func() {
		err := s.a.signInAccount(sctx, path, name, open, func(string) {})
		s.mu.Lock()
		if s.running[name] == me {
			delete(s.running, name)
		}
		s.mu.Unlock()
		cancel()
		switch {
		case err == nil:
			s.log().Info("dashboard: signed in with OAuth2", "account", name)
			if s.done != nil {
				s.done(name)
			}
		default:
			s.log().Warn("dashboard: the OAuth2 sign-in ended", "account", name, "err", err)
		}
		ended <- err
	}()
	select {
	case u := <-urls:
		return u, nil
	case err := <-ended:
		if err == nil {
			err = errors.New("the sign-in ended before it gave a page to open")
		}
		return "", err
	case <-ctx.Done():
		cancel()
		return "", fmt.Errorf("the sign-in did not start in time: %w", ctx.Err())
	}
}

// traySignsIn is the tray's CanSignIn: whether the account of the config at
// path signs in with smtpwatch's own OAuth2 sign-in (not a token helper).
// The file is read each time: it is asked only for an account that waits
// for a sign-in.
func traySignsIn(path string) func(string) bool {
	return func(name string) bool {
		_, _, err := loginAccount(path, name)
		return err == nil
	}
}

// loginError says why a sign-in failed, with what to do.
func loginError(err error, acct config.Account) string {
	msg := "sign-in of " + acct.Name + " failed: " + err.Error()
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		msg += ". Run smtpwatch login " + acct.Name + " again (--timeout for more time; --device to sign in on another device)"
	case errors.Is(err, credential.ErrProviderUnreachable):
		msg += ". Check the network, then run smtpwatch login " + acct.Name + " again"
	}
	return msg
}

// logout is `smtpwatch logout NAME`: the OAuth2 sign-in of NAME leaves the
// OS keyring.
func (a *app) logout(args []string) int {
	fl := a.flags("logout", "logout NAME")
	name, code, ok := a.oneName(fl, args)
	if !ok {
		return code
	}
	store := a.grants
	if store == nil {
		store = credential.KeyringGrants{}
	}
	if err := store.DeleteGrant(name); err != nil {
		return a.fail("%v", err)
	}
	fmt.Fprintf(a.stdout, "Removed the sign-in of %q from the OS keyring; smtpwatch cannot check its sign-in until smtpwatch login %s.\n"+
		"To withdraw smtpwatch's access at the provider too, remove it from your account's app permissions.\n", name, name)
	return exitOK
}
