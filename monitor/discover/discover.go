// Package discover finds the outgoing (SMTP submission) server of an
// e-mail address, as a mail program's account setup does, for `smtpwatch
// add`.
//
// Discover asks every source at once, under one short deadline: the
// built-in provider table (config.PresetForDomain), the provider's own
// autoconfig document (https://autoconfig.DOMAIN/mail/config-v1.1.xml,
// then https://DOMAIN/.well-known/autoconfig/...), the Thunderbird ISPDB,
// the domain's MX hosts (a provider known by its mail exchanger, such as
// Microsoft 365 or Google Workspace, or the mail host's base domain
// through the table, autoconfig and the ISPDB), SRV records (RFC 6186 and
// 8314: _submissions._tcp, _submission._tcp), and last guesses
// (smtp.DOMAIN and mail.DOMAIN on 465 and 587, offered only when the name
// resolves). Each source has a rank; the best-ranked answer wins, and
// Discover returns as soon as no source still asking could outrank what
// it has, or at the deadline.
//
// Nothing a source returns can stop the others or crash the search: an
// address without a domain is the only error. Malformed or huge
// documents, slow servers, DNS errors and redirects to other sites (only
// https on the same registrable domain is followed, as Thunderbird does)
// are warnings in the Outcome of the source that met them. The HTTP
// client, the resolver and the clock are injected; the real endpoints are
// the DefaultEndpoints.
//
// Candidates are what the sources say; none has been tried. The caller
// verifies one with a live check (probe.Probe) before trusting it.
package discover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/probe"
)

// DefaultTimeout bounds a whole discovery.
const DefaultTimeout = 8 * time.Second

// DefaultMaxDocument bounds an autoconfig document; real ones are a few
// KiB.
const DefaultMaxDocument = 128 << 10

// Source names where a candidate came from.
type Source string

// The sources, in the order of their rank.
const (
	SourceProviders  Source = "providers"  // the built-in provider table
	SourceAutoconfig Source = "autoconfig" // https://autoconfig.DOMAIN/mail/config-v1.1.xml
	SourceWellKnown  Source = "well-known" // https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml
	SourceISPDB      Source = "ispdb"      // the Thunderbird ISPDB
	SourceMX         Source = "mx"         // the domain's mail exchangers
	SourceSRV        Source = "srv"        // _submissions._tcp and _submission._tcp
	SourceGuess      Source = "guess"      // smtp.DOMAIN, mail.DOMAIN
)

// Sources lists every source in rank order.
var Sources = []Source{SourceProviders, SourceAutoconfig, SourceWellKnown, SourceISPDB, SourceMX, SourceSRV, SourceGuess}

// Rank is the rank of the best candidate the source can give; a
// candidate's Rank is at most its source's.
func (s Source) Rank() int {
	switch s {
	case SourceProviders:
		return 100
	case SourceAutoconfig:
		return 90
	case SourceWellKnown:
		return 85
	case SourceISPDB:
		return 80
	case SourceMX:
		return 70
	case SourceSRV:
		return 52
	case SourceGuess:
		return 10
	}
	return 0
}

// Words names the source for people.
func (s Source) Words() string {
	switch s {
	case SourceProviders:
		return "smtpwatch's provider list"
	case SourceAutoconfig:
		return "the provider's autoconfig"
	case SourceWellKnown:
		return "the domain's .well-known autoconfig"
	case SourceISPDB:
		return "the Thunderbird ISPDB"
	case SourceMX:
		return "the domain's mail servers (MX)"
	case SourceSRV:
		return "the domain's SRV records"
	case SourceGuess:
		return "a guess"
	}
	return string(s)
}

// Auth is a sign-in method a source names for a server.
type Auth string

// The sign-in methods.
const (
	AuthPassword Auth = "password" // a password (PLAIN, LOGIN, CRAM-MD5...)
	AuthOAuth2   Auth = "oauth2"
	AuthNone     Auth = "none"  // no sign-in (the server knows the network)
	AuthOther    Auth = "other" // Kerberos, NTLM, a client certificate
)

// Candidate is one server a source names for the address. Two sources
// naming the same server, port and mode make one candidate.
type Candidate struct {
	Server   string         `json:"server"` // ASCII host name or IP address
	Port     int            `json:"port"`
	Security probe.Security `json:"security"` // starttls or tls, never none
	// Username is the user name the source gives, with the address filled
	// in; "" means the whole address.
	Username string `json:"username,omitempty"`
	// Auth lists the sign-in methods the source names, preferred first;
	// empty when it names none (a password is then assumed).
	Auth []Auth `json:"auth,omitempty"`
	// Preset is the provider table's key when the candidate is a preset's.
	Preset string `json:"preset,omitempty"`
	// Provider is the provider's name for people ("Gmail", or the
	// document's displayName), "" when unknown.
	Provider string `json:"provider,omitempty"`
	Source   Source `json:"source"`
	// Via says for people where the candidate came from: a URL, a DNS
	// name, "MX aspmx.l.google.com".
	Via  string `json:"via"`
	Rank int    `json:"rank"`
	// Also are the other sources that named the same server.
	Also []Source `json:"also,omitempty"`
}

// Addr is the candidate's host:port.
func (c Candidate) Addr() string { return net.JoinHostPort(c.Server, fmt.Sprint(c.Port)) }

// OAuth2 reports whether the candidate signs in with OAuth2 only: the
// source names OAuth2 and no password method.
func (c Candidate) OAuth2() bool {
	return slices.Contains(c.Auth, AuthOAuth2) && !slices.Contains(c.Auth, AuthPassword)
}

// Outcome is what one source did, for `smtpwatch add --verbose`.
type Outcome struct {
	Source Source `json:"source"`
	// Query is what was asked: a URL, a DNS name.
	Query string `json:"query"`
	// Found is the number of candidates it gave.
	Found    int           `json:"found"`
	Duration time.Duration `json:"-"`
	// Note says why it found nothing when that is normal: no document, no
	// record, not needed.
	Note string `json:"note,omitempty"`
	// Warning says what went wrong: a malformed or huge document, no
	// answer in time, a DNS error, a redirect refused. "" when nothing did.
	Warning string `json:"warning,omitempty"`
	// Skipped is set when Discover stopped waiting for the source because
	// a better-ranked one had answered.
	Skipped bool `json:"skipped,omitempty"`
}

// MarshalJSON writes the outcome with its duration in milliseconds.
func (o Outcome) MarshalJSON() ([]byte, error) {
	type plain Outcome
	return json.Marshal(struct {
		plain
		DurationMS int64 `json:"duration_ms"`
	}{plain(o), o.Duration.Milliseconds()})
}

// Result is what Discover found.
type Result struct {
	Address string `json:"address"` // as given, trimmed
	Domain  string `json:"domain"`  // ASCII, lower case
	// Candidates are best first, no server twice.
	Candidates []Candidate `json:"candidates"`
	// Outcomes has one entry per source, in the order of Sources.
	Outcomes []Outcome     `json:"sources"`
	Duration time.Duration `json:"-"`
}

// Warnings are the outcomes that met a problem.
func (r Result) Warnings() []Outcome {
	var out []Outcome
	for _, o := range r.Outcomes {
		if o.Warning != "" {
			out = append(out, o)
		}
	}
	return out
}

// Resolver looks names up; *net.Resolver satisfies it. Every method must
// return once ctx is done.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Endpoints are the URLs of the HTTP sources: "{domain}" is replaced by
// the domain (ASCII) and "{email}" by the address, escaped for a query.
type Endpoints struct {
	Autoconfig string
	WellKnown  string
	ISPDB      string
}

// DefaultEndpoints are Thunderbird's.
var DefaultEndpoints = Endpoints{
	Autoconfig: "https://autoconfig.{domain}/mail/config-v1.1.xml?emailaddress={email}",
	WellKnown:  "https://{domain}/.well-known/autoconfig/mail/config-v1.1.xml",
	ISPDB:      "https://autoconfig.thunderbird.net/v1.1/{domain}",
}

// Options are Discover's links to the world. The zero value uses the real
// network and clock.
type Options struct {
	// HTTP fetches the documents; nil means a client like
	// http.DefaultClient's. Discover applies its own redirect rule and
	// size bound to whatever client it is given.
	HTTP *http.Client
	// Resolver answers MX, SRV and host lookups; nil means
	// net.DefaultResolver.
	Resolver Resolver
	// Now tells the time, for durations; nil means time.Now.
	Now func() time.Time
	// Timeout bounds the whole discovery; 0 means DefaultTimeout.
	Timeout time.Duration
	// Endpoints; the zero value means DefaultEndpoints.
	Endpoints Endpoints
	// MaxDocument bounds a document's size; 0 means DefaultMaxDocument.
	MaxDocument int64
	Logger      *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.HTTP == nil {
		o.HTTP = &http.Client{Transport: http.DefaultTransport}
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Endpoints == (Endpoints{}) {
		o.Endpoints = DefaultEndpoints
	}
	if o.MaxDocument <= 0 {
		o.MaxDocument = DefaultMaxDocument
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// AddressError is Discover's error for an address it cannot search for.
type AddressError struct {
	Address string
	Msg     string
}

func (e *AddressError) Error() string { return e.Msg }

// ParseAddress splits an e-mail address ("me@example.com", or "Me
// <me@example.com>") into its local part and its domain, the domain in
// ASCII and lower case. Errors are *AddressError values that say what to
// write instead.
func ParseAddress(s string) (local, domain string, err error) {
	s = strings.TrimSpace(s)
	bad := func(format string, args ...any) (string, string, error) {
		return "", "", &AddressError{Address: s, Msg: fmt.Sprintf(format, args...)}
	}
	if s == "" {
		return bad("no e-mail address given")
	}
	addr := s
	if strings.ContainsAny(s, "<>\"") {
		if a, err := mail.ParseAddress(s); err == nil {
			addr = a.Address
		}
	}
	if strings.IndexFunc(addr, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return bad("%q is not an e-mail address: it contains a space", s)
	}
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return bad("%q has no domain: give the whole address, like %s@example.com", s, addr)
	}
	local, host := addr[:at], addr[at+1:]
	if local == "" {
		return bad("%q has nothing before the @: give the whole address, like me@%s", s, host)
	}
	if host == "" {
		return bad("%q has no domain after the @: give the whole address, like %sexample.com", s, addr)
	}
	d, ok := config.NormalizeDomain(host)
	if !ok || strings.HasPrefix(d, "[") {
		return bad("%q: %q is not a domain name", s, host)
	}
	return local, d, nil
}

// errBetterAnswer ends the sources still asking when Discover returns
// early.
var errBetterAnswer = errors.New("a better-ranked source answered")

// Discover finds the outgoing server for address. It blocks until every
// source has answered, until no source still asking could outrank the best
// candidate found, or until o.Timeout (or ctx) ends, whichever is first;
// the sources still asking are then stopped and their outcomes say so.
// The only error is an *AddressError for an address it cannot search for
// (or ctx's error when ctx ended before it began); a search that finds
// nothing returns a Result with no candidates and the outcomes that say
// why.
func Discover(ctx context.Context, address string, o Options) (Result, error) {
	o = o.withDefaults()
	local, domain, err := ParseAddress(address)
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	start := o.Now()
	res := Result{Address: strings.TrimSpace(address), Domain: domain}
	q := &query{o: o, local: local, domain: domain, email: local + "@" + domain}
	q.client = q.guardedClient()

	ctx, cancelTimeout := context.WithTimeout(ctx, o.Timeout)
	defer cancelTimeout()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(errBetterAnswer)

	type answer struct {
		i   int
		out sourceResult
	}
	runs := []func(context.Context) sourceResult{
		q.providers, q.autoconfig, q.wellKnown, q.ispdb, q.mx, q.srv, q.guess,
	}
	answers := make(chan answer, len(runs))
	began := make([]time.Time, len(runs))
	for i, run := range runs {
		began[i] = o.Now()
		go func() { answers <- answer{i, run(ctx)} }()
	}
	results := make([]*sourceResult, len(runs))
	best := 0
	pending := len(runs)
wait:
	for pending > 0 {
		select {
		case a := <-answers:
			pending--
			a.out.outcome.Duration = o.Now().Sub(began[a.i])
			results[a.i] = &a.out
			for _, c := range a.out.candidates {
				best = max(best, c.Rank)
			}
			if best > 0 && !slices.ContainsFunc(Sources, func(s Source) bool {
				i := slices.Index(Sources, s)
				return results[i] == nil && s.Rank() >= best
			}) {
				break wait
			}
		case <-ctx.Done():
			break wait
		}
	}
	timedOut := ctx.Err() != nil
	cancel(errBetterAnswer)

	var all []Candidate
	for i, s := range Sources {
		if r := results[i]; r != nil {
			res.Outcomes = append(res.Outcomes, r.outcome)
			all = append(all, r.candidates...)
			continue
		}
		out := Outcome{Source: s, Query: q.queryOf(s), Duration: o.Now().Sub(began[i])}
		if timedOut {
			out.Warning = fmt.Sprintf("no answer within %s: gave up", o.Timeout)
			if parent := context.Cause(ctx); parent != nil && !errors.Is(parent, context.DeadlineExceeded) {
				out.Warning = "stopped: " + parent.Error()
			}
		} else {
			out.Skipped, out.Note = true, "not needed: "+errBetterAnswer.Error()
		}
		res.Outcomes = append(res.Outcomes, out)
	}
	res.Candidates = merge(all)
	res.Duration = o.Now().Sub(start)
	return res, nil
}

// merge sorts candidates best first (rank, then the order the sources
// gave them) and keeps one per server, port and mode, noting the other
// sources that named it.
func merge(cs []Candidate) []Candidate {
	slices.SortStableFunc(cs, func(a, b Candidate) int { return b.Rank - a.Rank })
	var out []Candidate
	idx := map[string]int{}
	for _, c := range cs {
		k := strings.ToLower(c.Server) + "|" + fmt.Sprint(c.Port) + "|" + string(c.Security)
		if i, ok := idx[k]; ok {
			if c.Source != out[i].Source && !slices.Contains(out[i].Also, c.Source) {
				out[i].Also = append(out[i].Also, c.Source)
			}
			if out[i].Provider == "" {
				out[i].Provider = c.Provider
			}
			continue
		}
		idx[k] = len(out)
		out = append(out, c)
	}
	return out
}
