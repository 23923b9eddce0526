// Package onboard is the one way an account is added from an e-mail
// address, shared by `smtpwatch add` and the dashboard's settings page:
// the servers discovery found become settings (FromCandidate), settings
// resolve as a config file's would (Resolve), the server is checked live
// with the password before anything is saved (Check, Works), and a server
// that works is saved — the password in the OS keyring, then the account
// appended to the config file, the password taken back out if the file
// cannot be written (Save). The callers only ask and show; the decisions
// and the words written into the file live here.
package onboard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/discover"
	"smtpwatch/monitor/importer"
	"smtpwatch/monitor/probe"
)

// Server is a server to try for an address: a discovered candidate, or
// one a person gave.
type Server struct {
	// Settings are the server's: a preset, or server, port and security.
	Settings config.Settings
	// Username is the user name to sign in as; "" means the address.
	Username string
	// OAuth2 is set when the server signs in with OAuth2 only.
	OAuth2 bool
	// Preset is the preset's key when the server is a preset's.
	Preset string
	// Label says the server for people: "Example Mail: smtp.example.com,
	// port 465 (SSL/TLS)".
	Label string
	// From says where it was found: "the provider's autoconfig
	// (https://...)", "the command line".
	From   string
	Source discover.Source
}

// FromCandidate turns a discovered server into settings: a preset's key
// when it is a preset's (with port and security only when they are its
// alternative), else server, port and security.
func FromCandidate(c discover.Candidate) Server {
	s := Server{Username: c.Username, OAuth2: c.OAuth2(), Preset: c.Preset, Source: c.Source}
	sec := string(c.Security)
	if p, ok := config.LookupPreset(c.Preset); ok {
		key := p.Key
		s.Settings.Preset = &key
		if c.Port != p.Port || c.Security != p.Security {
			port := c.Port
			s.Settings.Port, s.Settings.Security = &port, &sec
		}
	} else {
		server, port := c.Server, c.Port
		s.Settings.Server, s.Settings.Port, s.Settings.Security = &server, &port, &sec
	}
	s.Label = fmt.Sprintf("%s, port %d (%s)", c.Server, c.Port, c.Security.Label())
	if c.Provider != "" {
		s.Label = c.Provider + ": " + s.Label
	}
	s.From = c.Source.Words()
	if c.Source != discover.SourceProviders {
		s.From += " (" + c.Via + ")"
	}
	return s
}

// FromResult is every server discovery found, best first.
func FromResult(r discover.Result) []Server {
	out := make([]Server, 0, len(r.Candidates))
	for _, c := range r.Candidates {
		out = append(out, FromCandidate(c))
	}
	return out
}

// Choices is how many of servers, from the first, a person chooses
// among: the servers of the best source (a provider's document often
// names 465 and 587), at most 6; the others stay as fallbacks.
func Choices(servers []Server) int {
	if len(servers) == 0 {
		return 0
	}
	n := 1
	for n < len(servers) && n < 6 && servers[n].Source == servers[0].Source {
		n++
	}
	return n
}

// FollowUp is the server to try after a check of s failed with res: the
// other port or mode the check saw working on the same server, if any.
func FollowUp(s Server, acct config.Account, res probe.Result) (Server, bool) {
	sg := res.Suggestion
	if sg == nil {
		return Server{}, false
	}
	next := s
	port, sec := sg.Port, string(sg.Security)
	next.Settings.Port, next.Settings.Security = &port, &sec
	next.Label = fmt.Sprintf("%s, port %d (%s)", acct.Server, port, sg.Security.Label())
	next.From = "the check's follow-up"
	return next, true
}

// Resolve resolves settings the way a config file's would, naming
// settings as flags ("--security") in its error.
func Resolve(name string, s config.Settings) (config.Account, error) {
	acct, probs := config.Resolve(name, s, config.Schedule{}, config.Origin{Flags: true})
	if len(probs) > 0 {
		var msgs []string
		for _, p := range probs {
			msgs = append(msgs, "--"+strings.ReplaceAll(p.Key, "_", "-")+": "+p.Msg)
		}
		return acct, errors.New(strings.Join(msgs, "\n"))
	}
	return acct, nil
}

// Describe is how a resolved account's server reads: "smtp.example.com,
// port 465 (SSL/TLS)".
func Describe(acct config.Account) string {
	return fmt.Sprintf("%s, port %d (%s)", acct.Server, acct.Port, acct.Security.Label())
}

// CheckOptions adjust Check.
type CheckOptions struct {
	// Timeout bounds the check; 0 is the account's.
	Timeout time.Duration
	// SkipAuth checks the connection and the encryption only.
	SkipAuth bool
	// Deps are the probe's network, clock and logger (the zero value: the
	// real network); OnlineTargets, when nil, come from Config.
	Deps   probe.Deps
	Config *config.Config // the config file's, for its "am I online" targets; may be nil
}

// Check runs the live check of acct with the password, as `smtpwatch
// check` would, and returns its result. It blocks until the check ends,
// within the timeout, or ctx ends.
func Check(ctx context.Context, acct config.Account, secret credential.Secret, o CheckOptions) probe.Result {
	t := acct.Target()
	t.Password = secret
	if o.Timeout > 0 {
		t.Timeout = o.Timeout
	}
	t.SkipAuth = o.SkipAuth
	t.CredentialHint = "the password you gave"
	deps := o.Deps
	if deps.OnlineTargets == nil && o.Config != nil {
		deps.OnlineTargets = o.Config.OnlineTargets
	}
	return probe.Probe(ctx, t, deps)
}

// Works reports whether a check says sending works; withAuth asks that
// the server accepted the password too.
func Works(r probe.Result, withAuth bool) bool {
	if r.Status != probe.StatusOK && r.Status != probe.StatusDegraded {
		return false
	}
	return !withAuth || r.AuthVerified
}

// PasswordRefused reports whether a failed check says the password is
// wrong: another server would get the same password, so it is asked
// again rather than tried elsewhere.
func PasswordRefused(r probe.Result) bool {
	return r.Cause.IsCredentialRejection() || r.Cause == probe.CauseAppPasswordRequired || r.Cause == probe.CauseAuthRejected
}

// Comment is the comment written above an added account's table.
func Comment(address, from string, now time.Time) string {
	return fmt.Sprintf("Added by smtpwatch add on %s for %s; server from %s.", now.Format("2006-01-02"), address, from)
}

// OAuth2Settings makes s an account that signs in with OAuth2 as user:
// with the OAuth2 provider of the preset named preset (Microsoft 365,
// Outlook.com, Gmail) or with tokenCommand, a command that prints an
// access token ("" for none). It sets auth = "oauth2", oauth_provider or
// oauth_token_command and the user name, and drops every password source.
// It reports false, leaving s unchanged, when there is neither a token
// command nor a preset whose provider smtpwatch signs in with.
func OAuth2Settings(s *config.Settings, user, preset, tokenCommand string) bool {
	var provider string
	if p, ok := config.LookupPreset(preset); ok {
		provider = p.OAuthProvider
	}
	if tokenCommand == "" && provider == "" {
		return false
	}
	auth := string(config.AuthOAuth2)
	s.OAuthSettings.Auth = &auth
	s.Username = &user
	s.PasswordEnv, s.PasswordCommand, s.PasswordKeyring = nil, nil, nil
	if tokenCommand != "" {
		s.OAuthSettings.TokenCommand = &tokenCommand
	} else {
		s.OAuthSettings.Provider = &provider
	}
	return true
}

// OAuth2Comment is the line added to Comment for an account whose server
// signs in with OAuth2 through a provider smtpwatch does not know
// (OAuth2Settings said false): it is written without a user, watched
// without signing in, and the comment says what to add.
func OAuth2Comment(user, name string) string {
	return fmt.Sprintf("Signs in with OAuth2 as %s. %s", user, OAuth2Unknown(name))
}

// OAuth2Unknown says what to do for an account whose OAuth2 provider
// smtpwatch does not know.
func OAuth2Unknown(name string) string {
	return fmt.Sprintf("smtpwatch does not know this provider's sign-in: give the account an oauth_token_command "+
		"(a helper that prints an access token), or oauth_provider = \"custom\" with oauth_client_id, "+
		"oauth_auth_url and oauth_token_url (then run smtpwatch login %s); until then it is watched without signing in.", name)
}

// Watching names cfg's account that already checks the same server, port
// and user as acct, "" when none does (or cfg is nil).
func Watching(cfg *config.Config, acct config.Account) string {
	if cfg == nil {
		return ""
	}
	for _, x := range cfg.Accounts {
		if strings.EqualFold(x.Server, acct.Server) && x.Port == acct.Port && strings.EqualFold(x.Username, acct.Username) {
			return x.Name
		}
	}
	return ""
}

// SuggestName is a name for a new account: the preset's key, else the
// domain's first label, made unique in cfg (which may be nil).
func SuggestName(cfg *config.Config, preset, domain string) string {
	base := preset
	if base == "" {
		base = importer.Slug(strings.SplitN(domain, ".", 2)[0])
	}
	if base == "" {
		base = "mail"
	}
	name := base
	for i := 2; Taken(cfg, name); i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	return name
}

// Taken reports whether cfg (which may be nil) has an account named name.
func Taken(cfg *config.Config, name string) bool {
	if cfg == nil {
		return false
	}
	_, ok := cfg.Account(name)
	return ok
}

// Save stores the password in the OS keyring when the account reads it
// from there (na.Settings.PasswordKeyring), then appends the account to
// the config file at path (config.AddAccounts), and returns the config as
// Load reads the new file. When the file cannot be written, or ctx ends
// in between, the password stored is deleted again: nothing is left
// half-done. A keyring error is a *credential.Error; a config error the
// *config.Error of AddAccounts.
func Save(ctx context.Context, path string, na config.NewAccount, secret credential.Secret) (*config.Config, error) {
	stored := false
	if na.Settings.PasswordKeyring != nil && *na.Settings.PasswordKeyring {
		if err := credential.StoreInKeyring(na.Name, secret); err != nil {
			return nil, err
		}
		stored = true
	}
	undo := func() {
		if stored {
			_ = credential.DeleteFromKeyring(na.Name)
		}
	}
	if err := ctx.Err(); err != nil {
		undo()
		return nil, err
	}
	cfg, err := config.AddAccounts(path, []config.NewAccount{na})
	if err != nil {
		undo()
		return nil, err
	}
	return cfg, nil
}
