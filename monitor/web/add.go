package web

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/discover"
	"smtpwatch/monitor/onboard"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/report"
)

// Adding an account from an e-mail address, as `smtpwatch add` does and
// through the same steps (monitor/onboard): discovery finds the servers,
// the person picks one, names the account and types the password; the
// server is checked live with it, and only a server that took the
// password is saved — the password in the OS keyring, the account
// appended to the config file. A server that fails shows the report of
// `smtpwatch check`, and the other port the check saw working is offered
// first. An OAuth2-only server is checked without signing in, written
// without a password, and offered the OAuth2 sign-in.

// pendingAdd is an addition between its steps: what discovery found. Its
// mu is held while a step runs, so that a form sent twice (a double
// click) checks and writes once.
type pendingAdd struct {
	mu      sync.Mutex
	session string
	address string
	domain  string
	servers []onboard.Server
	found   discover.Result
	expires time.Time
}

const (
	addLifetime = 30 * time.Minute
	maxAdds     = 8
)

type pendingAdds struct {
	now  func() time.Time
	mu   sync.Mutex
	byID map[string]*pendingAdd
}

func newPendingAdds(now func() time.Time) *pendingAdds {
	return &pendingAdds{now: now, byID: map[string]*pendingAdd{}}
}

func (p *pendingAdds) put(a *pendingAdd) string {
	id := newSecret()[:16]
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	for k, x := range p.byID {
		if !now.Before(x.expires) {
			delete(p.byID, k)
		}
	}
	a.expires = now.Add(addLifetime)
	p.byID[id] = a
	for len(p.byID) > maxAdds {
		var oldest string
		for k, x := range p.byID {
			if oldest == "" || x.expires.Before(p.byID[oldest].expires) {
				oldest = k
			}
		}
		delete(p.byID, oldest)
	}
	return id
}

// get returns the session's addition id, extended.
func (p *pendingAdds) get(id, session string) (*pendingAdd, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.byID[id]
	if !ok || a.session != session || !p.now().Before(a.expires) {
		return nil, false
	}
	a.expires = p.now().Add(addLifetime)
	return a, true
}

func (p *pendingAdds) drop(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.byID, id)
}

// serverView is one server to choose from.
type serverView struct {
	Index    int
	Label    string
	From     string
	OAuth2   bool
	Checked  bool
	Fallback bool // not of the best source
}

type addData struct {
	page
	ID          string
	Address     string
	Servers     []serverView
	Warnings    []string
	Name        string
	Username    string
	Manual      bool // nothing was found: the person names the server
	Server      string
	Security    string
	Report      string // the failed check's, as `smtpwatch check` prints it
	Err         string
	AppPassword string // where the provider issues app passwords
	Keyring     bool   // the OS keyring can hold the password
	Command     string
	KeepCommand bool
	CAFile      string
}

func (s *Server) addDiscover(w http.ResponseWriter, r *http.Request) {
	address := strings.TrimSpace(r.PostFormValue("address"))
	back := func(msg string) {
		s.auth.setFlash(sessionOf(r).id, msg)
		http.Redirect(w, r, "/settings#add", http.StatusSeeOther)
	}
	_, domain, err := discover.ParseAddress(address)
	if err != nil {
		back(err.Error())
		return
	}
	cfg, _, _, err := s.read()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		back(err.Error() + " Fix the file first; nothing was added.")
		return
	}
	opts := s.o.Discover
	if opts.Logger == nil {
		opts.Logger = s.log
	}
	res, err := discover.Discover(r.Context(), address, opts)
	if err != nil {
		back(err.Error())
		return
	}
	pa := &pendingAdd{session: sessionOf(r).id, address: address, domain: domain, servers: onboard.FromResult(res), found: res}
	id := s.adds.put(pa)
	d := s.addData(r, id, pa, cfg, 0)
	s.render(w, http.StatusOK, "add", d)
}

// addData is the form to pick a server and give the password; chosen is
// the server selected.
func (s *Server) addData(r *http.Request, id string, pa *pendingAdd, cfg *config.Config, chosen int) addData {
	d := addData{page: s.page(r, "Add "+pa.address, "settings"), ID: id, Address: pa.address, Manual: len(pa.servers) == 0}
	d.Back = "/settings"
	_, d.Keyring = credential.SessionBus()
	d.KeepCommand = !d.Keyring
	best := onboard.Choices(pa.servers)
	for i, sv := range pa.servers {
		d.Servers = append(d.Servers, serverView{Index: i, Label: sv.Label, From: sv.From, OAuth2: sv.OAuth2, Checked: i == chosen, Fallback: i >= best})
	}
	for _, o := range pa.found.Outcomes {
		if o.Warning != "" {
			d.Warnings = append(d.Warnings, fmt.Sprintf("%s: %s", o.Source, o.Warning))
		}
	}
	preset := ""
	if chosen < len(pa.servers) {
		preset = pa.servers[chosen].Preset
		d.Username = pa.servers[chosen].Username
		d.AppPassword = appPassword(preset)
	}
	if d.Username == "" {
		d.Username = pa.address
	}
	d.Name = onboard.SuggestName(cfg, preset, pa.domain)
	return d
}

func (s *Server) addCheck(w http.ResponseWriter, r *http.Request) {
	id := r.PostFormValue("id")
	pa, ok := s.adds.get(id, sessionOf(r).id)
	if ok {
		pa.mu.Lock()
		defer pa.mu.Unlock()
		_, ok = s.adds.get(id, sessionOf(r).id) // not finished by the step we waited for
	}
	if !ok {
		s.auth.setFlash(sessionOf(r).id, "That addition expired or was finished: start again from the e-mail address.")
		http.Redirect(w, r, "/settings#add", http.StatusSeeOther)
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	user := strings.TrimSpace(r.PostFormValue("username"))
	password := r.PostFormValue("password")
	cfg, _, _, err := s.read()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		cfg = nil
	}

	// The server: one that was found, or the one typed.
	chosen := 0
	var sv onboard.Server
	if len(pa.servers) == 0 || r.PostFormValue("server") == "manual" {
		host, port, err := config.ParseServer(strings.TrimSpace(r.PostFormValue("manual_server")))
		if err != nil {
			s.addAgain(w, r, id, pa, cfg, 0, "Server: "+err.Error(), "")
			return
		}
		sv = onboard.Server{Settings: config.Settings{Server: &host}, From: "you", Label: host}
		if port != 0 {
			sv.Settings.Port = &port
		}
		if sec := r.PostFormValue("manual_security"); sec != "" {
			sv.Settings.Security = &sec
		}
		pa.servers = append(pa.servers, sv)
		chosen = len(pa.servers) - 1
	} else {
		n, err := strconv.Atoi(r.PostFormValue("server"))
		if err != nil || n < 0 || n >= len(pa.servers) {
			s.addAgain(w, r, id, pa, cfg, 0, "Pick one of the servers found.", "")
			return
		}
		chosen, sv = n, pa.servers[n]
	}
	switch {
	case !config.ValidName(name):
		s.addAgain(w, r, id, pa, cfg, chosen, fmt.Sprintf("Name %q: use letters, digits, '.', '_' and '-' (at most 64).", name), "")
		return
	case onboard.Taken(cfg, name):
		s.addAgain(w, r, id, pa, cfg, chosen, fmt.Sprintf("%s already has an account named %q: choose another name.", s.o.ConfigPath, name), "")
		return
	}
	if user == "" {
		user = pa.address
	}
	st := sv.Settings
	st.Username = &user
	if ca := strings.TrimSpace(r.PostFormValue("ca_file")); ca != "" {
		if !filepath.IsAbs(ca) {
			s.addAgain(w, r, id, pa, cfg, chosen, fmt.Sprintf("CA file %q: give the whole path, from the root.", ca), "")
			return
		}
		st.CAFile = &ca
	}
	acct, err := onboard.Resolve(name, st)
	if err != nil {
		s.addAgain(w, r, id, pa, cfg, chosen, err.Error(), "")
		return
	}
	if other := onboard.Watching(cfg, acct); other != "" {
		s.addAgain(w, r, id, pa, cfg, chosen, fmt.Sprintf("%s already watches %s at %s as %q: nothing to add.", s.o.ConfigPath, acct.Username, acct.Server, other), "")
		return
	}
	if sv.OAuth2 {
		s.addOAuth2(w, r, id, pa, cfg, chosen, sv, st, name, user)
		return
	}
	// The password: typed, to go to the OS keyring, or printed by a
	// command the file keeps (as --password-command).
	var secret credential.Secret
	if cmd := strings.TrimSpace(r.PostFormValue("password_command")); r.PostFormValue("keep") == "command" {
		if cmd == "" {
			s.addAgain(w, r, id, pa, cfg, chosen, "Give the command that prints the password.", "")
			return
		}
		st.PasswordCommand = &cmd
		if acct, err = onboard.Resolve(name, st); err != nil {
			s.addAgain(w, r, id, pa, cfg, chosen, err.Error(), "")
			return
		}
		if secret, err = acct.Password(r.Context()); err != nil {
			s.addAgain(w, r, id, pa, cfg, chosen, "The password command: "+err.Error(), "")
			return
		}
	} else {
		if password == "" {
			s.addAgain(w, r, id, pa, cfg, chosen, "Type the password: the server is checked with it before anything is saved.", "")
			return
		}
		if _, ok := credential.SessionBus(); !ok {
			s.addAgain(w, r, id, pa, cfg, chosen, "The OS keyring is not available here (no D-Bus session bus), so the password has nowhere to go: "+
				"give a command that prints it instead.", "")
			return
		}
		yes := true
		st.PasswordKeyring = &yes
		if acct, err = onboard.Resolve(name, st); err != nil {
			s.addAgain(w, r, id, pa, cfg, chosen, err.Error(), "")
			return
		}
		secret = credential.NewSecret(password)
	}
	res := s.liveCheck(r.Context(), acct, secret, cfg, false)
	if !onboard.Works(res, true) {
		msg := "The check failed: nothing was written. What to change is in the report below."
		switch {
		case res.Status == probe.StatusOffline:
			msg = "This computer is offline: connect, then try again. Nothing was written."
		case onboard.PasswordRefused(res):
			msg = "The server refused the password: nothing was written. Type the right one" + orEmpty(" (an app password)", appPassword(acct.Preset) != "") + " and check again."
		}
		if next, ok := onboard.FollowUp(sv, acct, res); ok && !onboard.PasswordRefused(res) {
			pa.servers = append([]onboard.Server{next}, pa.servers...)
			chosen = 0
			msg += " " + next.Label + " works from here: it is picked below."
		}
		s.addAgain(w, r, id, pa, cfg, chosen, msg, reportText(res))
		return
	}
	na := config.NewAccount{Name: name, Settings: st, Comment: onboard.Comment(pa.address, sv.From, s.now())}
	s.editMu.Lock()
	_, err = onboard.Save(r.Context(), s.o.ConfigPath, na, secret)
	s.editMu.Unlock()
	if err != nil {
		s.addAgain(w, r, id, pa, cfg, chosen, err.Error()+" Nothing was written.", "")
		return
	}
	s.adds.drop(id)
	s.log.Info("dashboard: account added", "account", name, "server", acct.Server, "file", s.o.ConfigPath)
	s.reload()
	where := "the password is in the OS keyring"
	if st.PasswordCommand != nil {
		where = "the password comes from your command"
	}
	s.auth.setFlash(sessionOf(r).id, fmt.Sprintf("✓ Sending works: %s accepted the password for %s. Added %q to %s: %s, as %s; %s.",
		acct.Server, acct.Username, name, s.o.ConfigPath, onboard.Describe(acct), acct.Username, where))
	http.Redirect(w, r, "/account/"+name, http.StatusSeeOther)
}

// addOAuth2 adds a server that signs in with OAuth2 only: checked without
// signing in, then written as `smtpwatch add` writes it — auth = "oauth2"
// with the provider of its preset (onboard.OAuth2Settings) — and its
// sign-in started at once (Options.OAuth2SignIn). A server whose provider
// smtpwatch does not sign in with is written without a user, so that it is
// watched without signing in, with a comment that names `smtpwatch login`.
// st is the chosen server's settings with the form's user and ca_file.
func (s *Server) addOAuth2(w http.ResponseWriter, r *http.Request, id string, pa *pendingAdd, cfg *config.Config, chosen int, sv onboard.Server, st config.Settings, name, user string) {
	st.PasswordKeyring, st.PasswordCommand, st.PasswordEnv = nil, nil, nil
	signsIn := onboard.OAuth2Settings(&st, user, sv.Preset, "")
	if !signsIn {
		st.Username = nil // no password to try, and no OAuth2 to sign in with
	}
	acct, err := onboard.Resolve(name, st)
	if err != nil {
		s.addAgain(w, r, id, pa, cfg, chosen, err.Error(), "")
		return
	}
	res := s.liveCheck(r.Context(), acct, credential.Secret{}, cfg, true)
	if !onboard.Works(res, false) {
		s.addAgain(w, r, id, pa, cfg, chosen, "The server does not work from here: nothing was written.", reportText(res))
		return
	}
	comment := onboard.Comment(pa.address, sv.From, s.now())
	if !signsIn {
		comment += "\n" + onboard.OAuth2Comment(user, name)
	}
	s.editMu.Lock()
	_, err = onboard.Save(r.Context(), s.o.ConfigPath, config.NewAccount{Name: name, Settings: st, Comment: comment}, credential.Secret{})
	s.editMu.Unlock()
	if err != nil {
		s.addAgain(w, r, id, pa, cfg, chosen, err.Error()+" Nothing was written.", "")
		return
	}
	s.adds.drop(id)
	s.reload()
	msg := fmt.Sprintf("✓ %s answers, with a valid certificate. Added %q to %s. It signs in with OAuth2: until you sign in, smtpwatch watches the connection and the certificate only.",
		onboard.Describe(acct), name, s.o.ConfigPath)
	switch {
	case !signsIn:
		msg += " " + onboard.OAuth2Unknown(name)
	case s.o.OAuth2SignIn == nil:
		msg += fmt.Sprintf(" Sign in with: smtpwatch login %s", name)
	default:
		u, err := s.startSignIn(r.Context(), name)
		if err == nil {
			s.auth.setFlash(sessionOf(r).id, msg)
			s.render(w, http.StatusOK, "oauth", oauthData{page: s.page(r, "Sign in: "+name, "settings"), Name: name, URL: u})
			return
		}
		msg += " " + err.Error()
	}
	s.auth.setFlash(sessionOf(r).id, msg)
	http.Redirect(w, r, "/settings#account-"+name, http.StatusSeeOther)
}

func (s *Server) liveCheck(ctx context.Context, acct config.Account, secret credential.Secret, cfg *config.Config, skipAuth bool) probe.Result {
	deps := s.o.Probe
	if deps.Logger == nil {
		deps.Logger = s.log
	}
	return onboard.Check(ctx, acct, secret, onboard.CheckOptions{Timeout: s.o.CheckTimeout, SkipAuth: skipAuth, Deps: deps, Config: cfg})
}

func (s *Server) addAgain(w http.ResponseWriter, r *http.Request, id string, pa *pendingAdd, cfg *config.Config, chosen int, msg, rep string) {
	d := s.addData(r, id, pa, cfg, chosen)
	if n := strings.TrimSpace(r.PostFormValue("name")); n != "" {
		d.Name = n
	}
	if u := strings.TrimSpace(r.PostFormValue("username")); u != "" {
		d.Username = u
	}
	d.Server = r.PostFormValue("manual_server")
	d.Security = r.PostFormValue("manual_security")
	d.Command = r.PostFormValue("password_command")
	d.CAFile = r.PostFormValue("ca_file")
	d.KeepCommand = r.PostFormValue("keep") == "command"
	d.Err, d.Report = msg, rep
	s.render(w, http.StatusUnprocessableEntity, "add", d)
}

func reportText(r probe.Result) string {
	var b strings.Builder
	_ = report.Text(&b, []probe.Result{r}, report.TextOptions{})
	return b.String()
}

func orEmpty(s string, cond bool) string {
	if cond {
		return s
	}
	return ""
}

// appPassword is where the preset's provider issues app passwords, ""
// when it wants none.
func appPassword(preset string) string {
	if p, ok := config.LookupPreset(preset); ok && p.SignInMethod() == config.SignInAppPassword {
		return p.AppPasswordURL
	}
	return ""
}
