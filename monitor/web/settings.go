package web

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/onboard"
)

// The settings pages: the accounts of the config file, as the file writes
// them; a form per account whose changes go through config.EditAccount
// (the file's own checks, its comments kept) against the version of the
// file the form was made from; removal; storing a password in the OS
// keyring; OAuth2 sign-in (the seam); adding from an e-mail address
// (add.go).

func (s *Server) settingsRoutes(m *http.ServeMux) {
	if s.o.ConfigPath == "" {
		return
	}
	m.HandleFunc("GET /settings", s.settings)
	m.HandleFunc("GET /settings/account/{name}", s.editForm)
	m.HandleFunc("POST /settings/account/{name}", s.editSave)
	m.HandleFunc("GET /settings/account/{name}/remove", s.removeForm)
	m.HandleFunc("POST /settings/account/{name}/remove", s.removeSave)
	m.HandleFunc("POST /settings/account/{name}/password", s.storePassword)
	m.HandleFunc("POST /settings/account/{name}/oauth", s.oauthSignIn)
	m.HandleFunc("POST /settings/add", s.addDiscover)
	m.HandleFunc("POST /settings/add/check", s.addCheck)
}

type settingsAccount struct {
	Name     string
	Where    string
	User     string
	Password string
	Enabled  bool
	Line     int
	// Keyring is set when a password stored in the OS keyring would be
	// used: the account reads it from there, or reads none yet and has a
	// user name.
	Keyring bool
	// SignIn is set when the account signs in with smtpwatch's own OAuth2
	// sign-in (not a token helper): the page offers "Sign in with OAuth2".
	SignIn bool
}

type settingsData struct {
	page
	File     string
	Version  string
	Accounts []settingsAccount
	Err      string // the file does not load: Load's message
	Missing  bool
	OAuth    bool
	Address  string // the add form's, when it comes back
}

// read reads the config file for a page and remembers its contents by
// version, for a later comparison.
func (s *Server) read() (*config.Config, []byte, string, error) {
	cfg, data, version, err := config.ReadForEdit(s.o.ConfigPath)
	if err == nil {
		s.seen.put(version, data)
	}
	return cfg, data, version, err
}

func (s *Server) settings(w http.ResponseWriter, r *http.Request) {
	d := settingsData{page: s.page(r, "Settings", "settings"), File: s.o.ConfigPath, OAuth: s.o.OAuth2SignIn != nil}
	d.Back = "/settings"
	cfg, _, version, err := s.read()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		d.Missing = true
	case err != nil:
		d.Err = err.Error()
	default:
		d.Version = version
		for _, a := range cfg.Accounts {
			d.Accounts = append(d.Accounts, settingsAccount{
				Name: a.Name, Where: describe(a), User: a.Username, Password: a.PasswordWords(), Enabled: a.Enabled, Line: a.Line,
				Keyring: a.Credential.Source == config.CredentialKeyring || (a.Credential.Source == config.CredentialNone && a.Username != ""),
				SignIn:  a.Credential.Source == config.CredentialOAuth,
			})
		}
	}
	s.render(w, http.StatusOK, "settings", d)
}

// describe is how an account's server reads, as `smtpwatch add` says it.
func describe(a config.Account) string { return onboard.Describe(a) }

// The edit form.

// editField is one key of the form.
type editField struct {
	Key, Label, Help, Value string
	Kind                    string // text, number, select, duration
	Options                 []string
	Placeholder             string
	Err                     bool // the error is about this key
}

type editData struct {
	page
	Name     string
	Line     int
	File     string
	Version  string
	Fields   []editField
	Enabled  bool
	Source   string // keyring, command, env, none
	Command  string
	Env      string
	Err      string
	ErrKey   string
	Changed  *changedView // the file changed since the form was made
	Provider string
}

// formKeys are the keys the form edits, in the order of the template.
var formKeys = []editField{
	{Key: "preset", Label: "Preset", Kind: "text", Help: "A provider preset fills in server, port and security (smtpwatch presets lists them)."},
	{Key: "server", Label: "Server", Kind: "text", Placeholder: "smtp.example.com"},
	{Key: "port", Label: "Port", Kind: "number", Placeholder: "587"},
	{Key: "security", Label: "Security", Kind: "select", Options: []string{"", "starttls", "tls", "auto", "none"}},
	{Key: "username", Label: "User name", Kind: "text", Placeholder: "me@example.com"},
	{Key: "from", Label: "Envelope sender (from)", Kind: "text", Help: "With rcpt: checks that the server would take this sender; no mail is sent."},
	{Key: "rcpt", Label: "Envelope recipient (rcpt)", Kind: "text"},
	{Key: "ca_file", Label: "CA file", Kind: "text", Help: "Trust the CA certificates in this PEM file (a private server)."},
	{Key: "interval", Label: "Check every", Kind: "duration", Placeholder: "60s"},
	{Key: "auth_interval", Label: "Log in every", Kind: "duration", Placeholder: "15m"},
	{Key: "timeout", Label: "Timeout", Kind: "duration", Placeholder: "30s"},
}

// passwordKeys are the keys of the password source.
var passwordKeys = []string{"password_keyring", "password_command", "password_env"}

func (s *Server) editForm(w http.ResponseWriter, r *http.Request) {
	cfg, data, version, err := s.read()
	if err != nil {
		s.settingsError(w, r, err)
		return
	}
	a, ok := cfg.Account(r.PathValue("name"))
	if !ok {
		s.settingsError(w, r, fmt.Errorf("%s has no account named %q", s.o.ConfigPath, r.PathValue("name")))
		return
	}
	values, err := config.AccountValues(s.o.ConfigPath, cfg, data)
	if err != nil {
		s.settingsError(w, r, err)
		return
	}
	d := s.editData(r, a, version, values[strings.ToLower(a.Name)])
	s.render(w, http.StatusOK, "edit", d)
}

func (s *Server) editData(r *http.Request, a config.Account, version string, written map[string]string) editData {
	d := editData{page: s.page(r, "Settings: "+a.Name, "settings"), Name: a.Name, Line: a.Line, File: s.o.ConfigPath,
		Version: version, Enabled: a.Enabled, Provider: a.Provider}
	d.Back = "/settings/account/" + a.Name
	for _, f := range formKeys {
		f.Value = written[f.Key]
		d.Fields = append(d.Fields, f)
	}
	switch {
	case written["password_keyring"] == "true":
		d.Source = "keyring"
	case written["password_command"] != "":
		d.Source, d.Command = "command", written["password_command"]
	case written["password_env"] != "":
		d.Source, d.Env = "env", written["password_env"]
	default:
		d.Source = "none"
	}
	return d
}

// submitted is the form as sent: the values of its keys, as editData
// shows them.
func submitted(r *http.Request) map[string]string {
	v := map[string]string{}
	for _, f := range formKeys {
		v[f.Key] = strings.TrimSpace(r.PostFormValue(f.Key))
	}
	v["enabled"] = "false"
	if r.PostFormValue("enabled") != "" {
		v["enabled"] = "true"
	}
	switch r.PostFormValue("password_source") {
	case "keyring":
		v["password_keyring"] = "true"
	case "command":
		v["password_command"] = strings.TrimSpace(r.PostFormValue("password_command"))
	case "env":
		v["password_env"] = strings.TrimSpace(r.PostFormValue("password_env"))
	}
	return v
}

// edits are the changes from written to the submitted values: only the
// keys whose value changed, so that the others keep their lines as they
// are. An empty value removes a key; enabled = true is the default and is
// written only when the file has the key.
func edits(written, sub map[string]string) []config.KeyEdit {
	var out []config.KeyEdit
	set := func(key, v string) {
		old, had := written[key]
		switch {
		case v == "" && had:
			out = append(out, config.KeyEdit{Key: key})
		case v != "" && (!had || old != v):
			out = append(out, config.KeyEdit{Key: key, Value: &v})
		}
	}
	for _, f := range formKeys {
		set(f.Key, sub[f.Key])
	}
	if en := sub["enabled"]; written["enabled"] != en && !(en == "true" && written["enabled"] == "") {
		out = append(out, config.KeyEdit{Key: "enabled", Value: &en})
	}
	for _, k := range passwordKeys {
		set(k, sub[k])
	}
	return out
}

func (s *Server) editSave(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	version := r.PostFormValue("version")
	sub := submitted(r)

	s.editMu.Lock()
	cfg, data, current, err := s.read()
	if err != nil {
		s.editMu.Unlock()
		s.settingsError(w, r, err)
		return
	}
	a, ok := cfg.Account(name)
	if !ok {
		s.editMu.Unlock()
		s.settingsError(w, r, fmt.Errorf("%s has no account named %q: it was removed meanwhile", s.o.ConfigPath, name))
		return
	}
	values, err := config.AccountValues(s.o.ConfigPath, cfg, data)
	if err != nil {
		s.editMu.Unlock()
		s.settingsError(w, r, err)
		return
	}
	written := values[strings.ToLower(a.Name)]
	var newCfg *config.Config
	if version != current {
		err = &config.Error{File: s.o.ConfigPath, Msg: "the file changed since this page was opened", Err: config.ErrChanged}
	} else {
		newCfg, err = config.EditAccount(s.o.ConfigPath, a.Name, version, edits(written, sub))
	}
	s.editMu.Unlock()

	if err != nil {
		// The form again, with what was typed, and why it was not saved.
		d := s.editData(r, a, current, written)
		fillForm(&d, sub)
		if errors.Is(err, config.ErrChanged) {
			d.Changed = s.compare(version, data)
		} else {
			d.Err = err.Error()
			var ce *config.Error
			if errors.As(err, &ce) {
				d.ErrKey = ce.Key
				for i := range d.Fields {
					d.Fields[i].Err = d.Fields[i].Key == ce.Key
				}
			}
		}
		s.render(w, http.StatusConflict, "edit", d)
		return
	}
	s.log.Info("dashboard: account changed", "account", a.Name, "file", s.o.ConfigPath)
	s.reload()
	msg := fmt.Sprintf("Saved the settings of %q in %s (the file as it was is kept in %s).", a.Name, s.o.ConfigPath, config.BackupPath(s.o.ConfigPath))
	if na, ok := newCfg.Account(a.Name); ok && !na.Enabled {
		msg += " It is not watched while enabled = false."
	}
	s.auth.setFlash(sessionOf(r).id, msg)
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
}

// fillForm shows the submitted values in the form.
func fillForm(d *editData, sub map[string]string) {
	for i := range d.Fields {
		f := &d.Fields[i]
		f.Value = sub[f.Key]
		if f.Kind == "select" && !slices.Contains(f.Options, f.Value) {
			f.Options = append(slices.Clone(f.Options), f.Value) // what was typed stays chosen
		}
	}
	d.Enabled = sub["enabled"] == "true"
	d.Command, d.Env = sub["password_command"], sub["password_env"]
	switch {
	case sub["password_keyring"] == "true":
		d.Source = "keyring"
	case sub["password_command"] != "":
		d.Source = "command"
	case sub["password_env"] != "":
		d.Source = "env"
	default:
		d.Source = "none"
	}
}

func (s *Server) reload() {
	if s.o.Reload != nil {
		s.o.Reload()
	}
}

// settingsError shows a problem with the file on the settings page.
func (s *Server) settingsError(w http.ResponseWriter, r *http.Request, err error) {
	d := settingsData{page: s.page(r, "Settings", "settings"), File: s.o.ConfigPath, Err: err.Error()}
	s.render(w, http.StatusConflict, "settings", d)
}

// Removing an account.

type removeData struct {
	page
	Name    string
	Where   string
	File    string
	Version string
	Keyring bool
	Changed *changedView
}

func (s *Server) removeForm(w http.ResponseWriter, r *http.Request) {
	cfg, _, version, err := s.read()
	if err != nil {
		s.settingsError(w, r, err)
		return
	}
	a, ok := cfg.Account(r.PathValue("name"))
	if !ok {
		s.settingsError(w, r, fmt.Errorf("%s has no account named %q", s.o.ConfigPath, r.PathValue("name")))
		return
	}
	s.render(w, http.StatusOK, "remove", removeData{page: s.page(r, "Remove "+a.Name, "settings"), Name: a.Name, Where: describe(a),
		File: s.o.ConfigPath, Version: version, Keyring: a.Credential.Source == config.CredentialKeyring})
}

func (s *Server) removeSave(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	version := r.PostFormValue("version")
	s.editMu.Lock()
	removed, _, err := config.RemoveAccountAt(s.o.ConfigPath, name, version)
	s.editMu.Unlock()
	if errors.Is(err, config.ErrChanged) {
		cfg, data, current, rerr := s.read()
		if rerr != nil {
			s.settingsError(w, r, rerr)
			return
		}
		a, ok := cfg.Account(name)
		if !ok {
			s.settingsError(w, r, fmt.Errorf("%s has no account named %q any more: it was removed meanwhile", s.o.ConfigPath, name))
			return
		}
		s.render(w, http.StatusConflict, "remove", removeData{page: s.page(r, "Remove "+a.Name, "settings"), Name: a.Name, Where: describe(a),
			File: s.o.ConfigPath, Version: current, Keyring: a.Credential.Source == config.CredentialKeyring, Changed: s.compare(version, data)})
		return
	}
	if err != nil {
		s.settingsError(w, r, err)
		return
	}
	s.log.Info("dashboard: account removed", "account", removed.Name, "file", s.o.ConfigPath)
	s.reload()
	msg := fmt.Sprintf("Removed %q (%s) from %s; the file as it was is kept in %s.", removed.Name, describe(removed), s.o.ConfigPath, config.BackupPath(s.o.ConfigPath))
	if removed.Credential.Source == config.CredentialKeyring {
		if err := credential.DeleteFromKeyring(removed.Name); err != nil {
			msg += " Its password stays in the OS keyring: " + err.Error()
		} else {
			msg += " Its password is removed from the OS keyring."
		}
	}
	s.auth.setFlash(sessionOf(r).id, msg)
	http.Redirect(w, r, "/settings", http.StatusSeeOther)
}

// Storing a password.

func (s *Server) storePassword(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	pw := r.PostFormValue("password")
	flash := func(msg string) {
		s.auth.setFlash(sessionOf(r).id, msg)
		http.Redirect(w, r, "/settings", http.StatusSeeOther)
	}
	if pw == "" {
		flash("No password was typed: nothing was stored.")
		return
	}
	if _, ok := credential.SessionBus(); !ok {
		flash("The OS keyring is not available here (no D-Bus session bus): give the account a password_command or password_env instead.")
		return
	}
	s.editMu.Lock()
	defer s.editMu.Unlock()
	cfg, _, version, err := s.read()
	if err != nil {
		flash(err.Error())
		return
	}
	a, ok := cfg.Account(name)
	switch {
	case !ok:
		flash(fmt.Sprintf("%s has no account named %q: nothing was stored.", s.o.ConfigPath, name))
		return
	case a.Credential.Source == config.CredentialCommand || a.Credential.Source == config.CredentialEnv:
		flash(fmt.Sprintf("%q reads its password from %s: choose \"OS keyring\" in its settings first. Nothing was stored.", a.Name, a.PasswordWords()))
		return
	case a.Username == "":
		flash(fmt.Sprintf("%q has no user name, so a password would not be used: set its user name first. Nothing was stored.", a.Name))
		return
	}
	if err := credential.StoreInKeyring(a.Name, credential.NewSecret(pw)); err != nil {
		flash(err.Error())
		return
	}
	msg := fmt.Sprintf("Stored the password of %q in the OS keyring.", a.Name)
	if a.Credential.Source == config.CredentialNone {
		yes := "true"
		if _, err := config.EditAccount(s.o.ConfigPath, a.Name, version, []config.KeyEdit{{Key: "password_keyring", Value: &yes}}); err != nil {
			flash(msg + " It is not used yet: " + err.Error())
			return
		}
		msg += fmt.Sprintf(" %s now says password_keyring = true for it.", s.o.ConfigPath)
		s.reload()
	}
	s.log.Info("dashboard: password stored in the keyring", "account", a.Name)
	// The person asked: the new password is tried now, also after a
	// rejection (the engine logs in on a check asked for).
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), checkTimeout)
		defer cancel()
		_, _ = s.o.Engine.Check(ctx, a.Name)
	}()
	s.auth.setFlash(sessionOf(r).id, msg+" Checking it now.")
	http.Redirect(w, r, "/account/"+a.Name, http.StatusSeeOther)
}

// OAuth2 sign-in, through the seam.

type oauthData struct {
	page
	Name string
	URL  string
}

func (s *Server) oauthSignIn(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.o.OAuth2SignIn == nil {
		s.auth.setFlash(sessionOf(r).id, fmt.Sprintf("Signing in with OAuth2 is not part of this build of smtpwatch: run smtpwatch login %s in a terminal.", name))
		http.Redirect(w, r, "/settings", http.StatusSeeOther)
		return
	}
	u, err := s.startSignIn(r.Context(), name)
	if err != nil {
		s.auth.setFlash(sessionOf(r).id, err.Error())
		http.Redirect(w, r, "/settings", http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "oauth", oauthData{page: s.page(r, "Sign in: "+name, "settings"), Name: name, URL: u})
}

// startSignIn starts the OAuth2 sign-in of the account through the seam,
// within 30 s, and returns the provider's page to send the browser to:
// only an https or loopback address. Its error is a sentence for the page.
func (s *Server) startSignIn(ctx context.Context, name string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u, err := s.o.OAuth2SignIn(ctx, s.o.ConfigPath, name)
	if err != nil {
		return "", errors.New("The sign-in did not start: " + err.Error())
	}
	if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://127.0.0.1:") && !strings.HasPrefix(u, "http://localhost:") {
		return "", errors.New("The sign-in gave an address the dashboard does not open: " + clip(u))
	}
	return u, nil
}

// Versions of the file that pages were made from.

const keptVersions = 8

type versions struct {
	mu    sync.Mutex
	order []string
	data  map[string][]byte
}

func newVersions() *versions { return &versions{data: map[string][]byte{}} }

func (v *versions) put(version string, data []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.data[version]; ok {
		return
	}
	v.data[version] = data
	v.order = append(v.order, version)
	if len(v.order) > keptVersions {
		delete(v.data, v.order[0])
		v.order = slices.Delete(v.order, 0, 1)
	}
}

func (v *versions) get(version string) ([]byte, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	b, ok := v.data[version]
	return b, ok
}

// changedView tells what changed in the file since a page was made from
// it: the lines removed and added, with some around them.
type changedView struct {
	File  string
	Lines []diffLine
	// Unknown is set when the old contents are not known any more.
	Unknown bool
}

// compare is the change from the version a form was made from to now.
func (s *Server) compare(oldVersion string, now []byte) *changedView {
	c := &changedView{File: s.o.ConfigPath}
	old, ok := s.seen.get(oldVersion)
	if !ok {
		c.Unknown = true
		return c
	}
	c.Lines = diffLines(string(old), string(now), 2)
	return c
}
