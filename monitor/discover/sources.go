package discover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"

	"golang.org/x/net/publicsuffix"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/probe"
)

// query is one discovery: the address and the links to the world.
type query struct {
	o                    Options
	local, domain, email string
	client               *guardedClient
}

// sourceResult is what one source found.
type sourceResult struct {
	outcome    Outcome
	candidates []Candidate
}

func (q *query) url(tmpl, domain string) string {
	return strings.NewReplacer("{domain}", domain, "{email}", url.QueryEscape(q.email)).Replace(tmpl)
}

// queryOf is what a source asks, for its outcome.
func (q *query) queryOf(s Source) string {
	switch s {
	case SourceProviders:
		return q.domain
	case SourceAutoconfig:
		return q.url(q.o.Endpoints.Autoconfig, q.domain)
	case SourceWellKnown:
		return q.url(q.o.Endpoints.WellKnown, q.domain)
	case SourceISPDB:
		return q.url(q.o.Endpoints.ISPDB, q.domain)
	case SourceMX:
		return q.domain + " MX"
	case SourceSRV:
		return "_submissions._tcp." + q.domain + ", _submission._tcp." + q.domain
	case SourceGuess:
		return "smtp." + q.domain + ", mail." + q.domain
	}
	return ""
}

// fromPreset makes the candidates of a preset: its setting, then its
// alternative, ranked from rank down.
func (q *query) fromPreset(p config.Preset, src Source, via string, rank int) []Candidate {
	auth := []Auth{AuthPassword}
	if p.SignInMethod() == config.SignInOAuth2 {
		auth = []Auth{AuthOAuth2}
	}
	c := Candidate{Server: p.Server, Port: p.Port, Security: p.Security, Auth: auth, Preset: p.Key,
		Provider: p.Name, Source: src, Via: via, Rank: rank}
	out := []Candidate{c}
	if p.Alternative.Port != 0 {
		c.Port, c.Security, c.Rank = p.Alternative.Port, p.Alternative.Security, rank-1
		out = append(out, c)
	}
	return out
}

// providers looks the domain up in the built-in provider table.
func (q *query) providers(context.Context) sourceResult {
	out := Outcome{Source: SourceProviders, Query: q.domain}
	p, ok := config.PresetForDomain(q.domain)
	if !ok {
		out.Note = "not a provider smtpwatch knows"
		return sourceResult{outcome: out}
	}
	cs := q.fromPreset(p, SourceProviders, "preset "+p.Key, SourceProviders.Rank())
	out.Found, out.Note = len(cs), p.Name
	return sourceResult{outcome: out, candidates: cs}
}

// document fetches and reads one autoconfig document.
func (q *query) document(ctx context.Context, src Source, rawURL string, rank int) sourceResult {
	out := Outcome{Source: src, Query: rawURL}
	body, note, err := q.client.fetch(ctx, rawURL)
	switch {
	case err != nil:
		out.Warning = err.Error()
		return sourceResult{outcome: out}
	case note != "":
		out.Note = note
		return sourceResult{outcome: out}
	}
	cs, notes, err := parseClientConfig(body, q, src, rawURL, rank)
	if err != nil {
		out.Warning = err.Error()
		return sourceResult{outcome: out}
	}
	out.Found = len(cs)
	out.Note = strings.Join(notes, "; ")
	if len(cs) == 0 && out.Note == "" {
		out.Note = "the document names no outgoing server"
	}
	return sourceResult{outcome: out, candidates: cs}
}

func (q *query) autoconfig(ctx context.Context) sourceResult {
	return q.document(ctx, SourceAutoconfig, q.url(q.o.Endpoints.Autoconfig, q.domain), SourceAutoconfig.Rank())
}

func (q *query) wellKnown(ctx context.Context) sourceResult {
	return q.document(ctx, SourceWellKnown, q.url(q.o.Endpoints.WellKnown, q.domain), SourceWellKnown.Rank())
}

func (q *query) ispdb(ctx context.Context) sourceResult {
	return q.document(ctx, SourceISPDB, q.url(q.o.Endpoints.ISPDB, q.domain), SourceISPDB.Rank())
}

// mx looks up the domain's mail exchangers: a provider known by its MX
// host (Microsoft 365, Google Workspace...), else the MX host's base
// domain through the provider table, the ISPDB and that domain's
// autoconfig.
func (q *query) mx(ctx context.Context) sourceResult {
	out := Outcome{Source: SourceMX, Query: q.domain + " MX"}
	mxs, err := q.o.Resolver.LookupMX(ctx, q.domain)
	if err != nil {
		note, warn := dnsWords(ctx, "MX of "+q.domain, err)
		out.Note, out.Warning = note, warn
		return sourceResult{outcome: out}
	}
	var hosts []string
	for _, m := range mxs {
		h := strings.ToLower(strings.TrimSuffix(m.Host, "."))
		if h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	if len(hosts) == 0 {
		out.Note = q.domain + " accepts no mail (null MX)"
		return sourceResult{outcome: out}
	}
	rank := SourceMX.Rank()
	for _, h := range hosts {
		if p, ok := config.PresetForMX(h); ok {
			cs := q.fromPreset(p, SourceMX, "MX "+h+" ("+p.Name+")", rank)
			out.Found, out.Note = len(cs), "MX "+h+": "+p.Name
			return sourceResult{outcome: out, candidates: cs}
		}
	}
	// The first MX host's base domain, when it is another domain.
	base, err := publicsuffix.EffectiveTLDPlusOne(hosts[0])
	if err != nil || base == q.domain {
		out.Note = "MX " + hosts[0] + ": the domain's own mail server"
		return sourceResult{outcome: out}
	}
	if p, ok := config.PresetForDomain(base); ok {
		cs := q.fromPreset(p, SourceMX, "MX "+hosts[0]+" ("+p.Name+")", rank)
		out.Found, out.Note = len(cs), "MX "+hosts[0]+": "+p.Name
		return sourceResult{outcome: out, candidates: cs}
	}
	// The ISPDB first (Thunderbird's order), then the base domain's own
	// autoconfig; both asked at once.
	urls := []string{q.url(q.o.Endpoints.ISPDB, base), q.url(q.o.Endpoints.Autoconfig, base)}
	subs := make([]sourceResult, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() { subs[i] = q.document(ctx, SourceMX, u, rank-5-5*i) })
	}
	wg.Wait()
	var notes, warns []string
	var cs []Candidate
	for i, s := range subs {
		for _, c := range s.candidates {
			c.Via = "MX " + hosts[0] + " → " + urls[i]
			cs = append(cs, c)
		}
		if s.outcome.Warning != "" {
			warns = append(warns, urls[i]+": "+s.outcome.Warning)
		}
		if s.outcome.Note != "" {
			notes = append(notes, urls[i]+": "+s.outcome.Note)
		}
	}
	out.Found = len(cs)
	out.Note = "MX " + hosts[0] + " (" + base + ")"
	if len(notes) > 0 {
		out.Note += "; " + strings.Join(notes, "; ")
	}
	out.Warning = strings.Join(warns, "; ")
	return sourceResult{outcome: out, candidates: cs}
}

// srv looks up RFC 6186 / 8314 SRV records: _submissions._tcp (implicit
// TLS) before _submission._tcp (STARTTLS).
func (q *query) srv(ctx context.Context) sourceResult {
	out := Outcome{Source: SourceSRV, Query: q.queryOf(SourceSRV)}
	type lookup struct {
		service  string
		security probe.Security
		rank     int
		srvs     []*net.SRV
		err      error
	}
	ls := []*lookup{
		{service: "submissions", security: probe.SecurityTLS, rank: SourceSRV.Rank()},
		{service: "submission", security: probe.SecurityStartTLS, rank: SourceSRV.Rank() - 10},
	}
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Go(func() { _, l.srvs, l.err = q.o.Resolver.LookupSRV(ctx, l.service, "tcp", q.domain) })
	}
	wg.Wait()
	var cs []Candidate
	var notes, warns []string
	for _, l := range ls {
		name := "_" + l.service + "._tcp." + q.domain
		if l.err != nil {
			note, warn := dnsWords(ctx, name, l.err)
			if warn != "" {
				warns = append(warns, warn)
			} else {
				notes = append(notes, note)
			}
			continue
		}
		for i, s := range l.srvs {
			host := strings.ToLower(strings.TrimSuffix(s.Target, "."))
			switch {
			case host == "":
				notes = append(notes, name+" says there is no such service")
				continue
			case s.Port == 0:
				warns = append(warns, fmt.Sprintf("%s: port 0 for %s", name, host))
				continue
			}
			if _, _, err := config.ParseServer(host); err != nil {
				warns = append(warns, fmt.Sprintf("%s: %v", name, err))
				continue
			}
			cs = append(cs, Candidate{Server: host, Port: int(s.Port), Security: l.security,
				Source: SourceSRV, Via: name, Rank: l.rank - min(i, 9)})
		}
	}
	out.Found = len(cs)
	out.Note = strings.Join(notes, "; ")
	out.Warning = strings.Join(warns, "; ")
	return sourceResult{outcome: out, candidates: cs}
}

// guess offers smtp.DOMAIN and mail.DOMAIN, on 465 with TLS and 587 with
// STARTTLS, when the name resolves. A guess is the weakest candidate and
// is only ever used after a live check.
func (q *query) guess(ctx context.Context) sourceResult {
	out := Outcome{Source: SourceGuess, Query: q.queryOf(SourceGuess)}
	hosts := []string{"smtp." + q.domain, "mail." + q.domain}
	errs := make([]error, len(hosts))
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Go(func() { _, errs[i] = q.o.Resolver.LookupHost(ctx, h) })
	}
	wg.Wait()
	var cs []Candidate
	var notes, warns []string
	rank := SourceGuess.Rank()
	for i, h := range hosts {
		if errs[i] != nil {
			note, warn := dnsWords(ctx, h, errs[i])
			if warn != "" {
				warns = append(warns, warn)
			} else {
				notes = append(notes, note)
			}
			continue
		}
		for _, p := range []struct {
			port int
			sec  probe.Security
		}{{465, probe.SecurityTLS}, {587, probe.SecurityStartTLS}} {
			cs = append(cs, Candidate{Server: h, Port: p.port, Security: p.sec, Source: SourceGuess,
				Via: h + " resolves", Rank: rank})
			rank--
		}
	}
	out.Found = len(cs)
	out.Note = strings.Join(notes, "; ")
	out.Warning = strings.Join(warns, "; ")
	return sourceResult{outcome: out, candidates: cs}
}

// dnsWords says what a failed lookup of name means: a note when the name
// simply has no such record, a warning when DNS failed.
func dnsWords(ctx context.Context, name string, err error) (note, warning string) {
	var de *net.DNSError
	switch {
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), errBetterAnswer):
		return "not needed: " + errBetterAnswer.Error(), ""
	case errors.As(err, &de) && de.IsNotFound:
		return name + ": no such record", ""
	case ctx.Err() != nil || errors.As(err, &de) && de.IsTimeout:
		return "", name + ": DNS did not answer in time"
	case errors.As(err, &de):
		return "", fmt.Sprintf("%s: DNS error: %s", name, de.Err)
	}
	return "", fmt.Sprintf("%s: %v", name, err)
}
