package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/history"
	"smtpwatch/monitor/human"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/report"
)

// checkTimeout bounds "Check now".
const checkTimeout = 2 * time.Minute

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /{$}", s.overview)
	m.HandleFunc("GET /frag/overview", s.overviewFrag)
	m.HandleFunc("GET /account/{name}", s.account)
	m.HandleFunc("GET /frag/account/{name}", s.accountFrag)
	m.HandleFunc("GET /events", s.events)
	m.HandleFunc("GET /icon/{state}", s.icon)
	m.Handle("GET /static/", http.FileServerFS(staticFS))
	m.HandleFunc("POST /check", s.check)
	m.HandleFunc("POST /pause", s.pause)
	m.HandleFunc("POST /resume", s.resume)
	m.HandleFunc("POST /logout", s.logout)
	s.settingsRoutes(m)
	s.mux = m
}

// accountView is one account as the overview and its page show it, in
// the words of monitor/report, as `smtpwatch status` and the tray say it.
type accountView struct {
	Name    string
	Display string
	State   health.State
	Symbol  string
	Summary string
	Latency string
	Checked string
	// Message and Advice explain a state other than ok, from the result
	// that explains it.
	Message string
	Advice  []string
	Paused  bool
}

func accountViews(st health.Status, now time.Time) []accountView {
	names := report.DisplayNames(st.Accounts)
	out := make([]accountView, len(st.Accounts))
	for i, a := range st.Accounts {
		v := accountView{
			Name: a.Name, Display: names[i], State: a.State, Symbol: report.StateSymbol(a.State),
			Summary: report.Summary(a, now), Latency: report.Latency(a), Checked: report.Checked(a, now),
			Paused: a.State == health.Paused,
		}
		if a.Last != nil && a.State != health.OK && a.State != health.Paused && a.State != health.Starting {
			v.Message, v.Advice = a.Last.Message, a.Last.Advice
		}
		out[i] = v
	}
	return out
}

type overviewData struct {
	page
	Headline string
	State    health.State
	Accounts []accountView
	// AnyPaused shows "Resume checks"; AllPaused hides "Pause".
	AnyPaused, AllPaused bool
}

func (s *Server) overviewData(r *http.Request) overviewData {
	st := s.o.Engine.Status()
	now := s.now()
	d := overviewData{page: s.page(r, "smtpwatch", "overview"), Headline: report.Headline(st, now),
		State: st.State, Accounts: accountViews(st, now)}
	if d.State == "" {
		d.State = health.Combine(st.Accounts)
	}
	paused := 0
	for _, a := range st.Accounts {
		if a.State == health.Paused {
			paused++
		}
	}
	d.AnyPaused, d.AllPaused = paused > 0, paused > 0 && paused == len(st.Accounts)
	d.Live = true
	d.Back = "/"
	return d
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	s.render(w, http.StatusOK, "overview", s.overviewData(r))
}

func (s *Server) overviewFrag(w http.ResponseWriter, r *http.Request) {
	s.renderFrag(w, "overview-live", s.overviewData(r))
}

// findStatus is the engine's status of the account named name.
func findStatus(st health.Status, name string) (health.AccountStatus, int, bool) {
	for i, a := range st.Accounts {
		if strings.EqualFold(a.Name, name) {
			return a, i, true
		}
	}
	return health.AccountStatus{}, 0, false
}

func (s *Server) check(w http.ResponseWriter, r *http.Request) {
	account := r.PostFormValue("account")
	ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
	defer cancel()
	rs, err := s.o.Engine.Check(ctx, account)
	si := sessionOf(r)
	switch {
	case errors.Is(err, health.ErrUnknownAccount):
		s.auth.setFlash(si.id, "No account named "+clip(account)+" is watched.")
	case err != nil:
		s.auth.setFlash(si.id, "The check did not finish: "+err.Error())
	case len(rs) == 1:
		s.auth.setFlash(si.id, "Checked "+rs[0].DisplayName()+": "+report.Verdict(rs[0].Status)+".")
	default:
		s.auth.setFlash(si.id, "Checked every account: "+report.Verdict(report.Worst(rs))+".")
	}
	s.back(w, r)
}

func (s *Server) pause(w http.ResponseWriter, r *http.Request) {
	account := r.PostFormValue("account")
	now := s.now()
	var until time.Time
	switch r.PostFormValue("for") {
	case "1h":
		until = now.Add(time.Hour)
	case "tomorrow":
		until = health.NextMorning(now)
	case "":
	default:
		http.Error(w, "for: want 1h, tomorrow or nothing", http.StatusBadRequest)
		return
	}
	if err := s.o.Engine.Pause(account, until); err != nil {
		s.auth.setFlash(sessionOf(r).id, "Not paused: "+err.Error())
	} else {
		s.log.Info("dashboard: paused checks", "account", account, "until", until)
	}
	s.back(w, r)
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	account := r.PostFormValue("account")
	if err := s.o.Engine.Resume(account); err != nil {
		s.auth.setFlash(sessionOf(r).id, "Not resumed: "+err.Error())
	} else {
		s.log.Info("dashboard: resumed checks", "account", account)
	}
	s.back(w, r)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	s.auth.end(sessionOf(r).id)
	http.SetCookie(w, sessionCookie(s.cookieName(), "", -1))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(`<!doctype html><meta charset="utf-8"><title>smtpwatch</title><p>Signed out of the dashboard. Run <code>smtpwatch open</code> to open it again.</p>`))
}

// back answers a form with a redirect to the page it came from (its
// "back" field: a path on this site), or the overview.
func (s *Server) back(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, localPath(r.PostFormValue("back")), http.StatusSeeOther)
}

// localPath is p when it is a path on this site, else "/".
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return "/"
	}
	return p
}

// events streams a "change" event for each event of the engine, so that
// an open page fetches what changed, and a heartbeat comment every 15 s.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ch := s.o.Engine.Subscribe(ctx)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	send := func(b string) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := w.Write([]byte(b)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(": hello\n\n") {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-ch:
			if !ok {
				return
			}
			// The account name is letters, digits, '.', '_' and '-': no
			// line break can end the field early.
			if !send("event: change\ndata: " + strings.NewReplacer("\n", "", "\r", "").Replace(ev.Account) + "\n\n") {
				return
			}
		case <-tick.C:
			if !send(": heartbeat\n\n") {
				return
			}
		}
	}
}

// icon serves a state's tray icon, /icon/failing.png.
func (s *Server) icon(w http.ResponseWriter, r *http.Request) {
	state, ok := strings.CutSuffix(r.PathValue("state"), ".png")
	if !ok || s.o.Icon == nil || !knownState(state) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "private, max-age=86400")
	_, _ = w.Write(s.o.Icon(state))
}

func knownState(s string) bool {
	for _, st := range health.States {
		if string(st) == s {
			return true
		}
	}
	return false
}

// The account page.

type uptimeRow struct {
	Label   string
	Known   bool
	Uptime  string
	Checks  int
	Offline int
	Failed  int
	P50     string
	P95     string
}

type timelineRow struct {
	When    string
	ISO     string
	Change  string
	Symbol  string
	Why     string
	Message string
}

type certView struct {
	Subject, Issuer string
	NotAfter        string
	DaysLeft        int
	Verified        bool
	Detail          string
	Interceptor     string
}

type rangeLink struct {
	Label, Query string
	Current      bool
}

type accountData struct {
	page
	A        accountView
	Watched  bool
	Report   string
	Uptime   []uptimeRow
	Ranges   []rangeLink
	Range    string
	Charts   []chartView
	Timeline []timelineRow
	Cert     *certView
	Checked  string // when the report's check ran
	HistErr  string
}

// ranges are the chart periods: label, length, buckets.
var ranges = []struct {
	key, label string
	span       time.Duration
	buckets    int
}{
	{"24h", "24 hours", 24 * time.Hour, 96},
	{"7d", "7 days", 7 * 24 * time.Hour, 168},
	{"30d", "30 days", 30 * 24 * time.Hour, 180},
}

func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	d, ok := s.accountData(r)
	if !ok {
		d.Title = "No such account"
		s.render(w, http.StatusNotFound, "account", d)
		return
	}
	s.render(w, http.StatusOK, "account", d)
}

func (s *Server) accountFrag(w http.ResponseWriter, r *http.Request) {
	st := s.o.Engine.Status()
	a, i, ok := findStatus(st, r.PathValue("name"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	d := accountData{page: s.page(r, "", "account"), A: accountViews(st, s.now())[i], Watched: true}
	d.Back = "/account/" + a.Name
	s.renderFrag(w, "account-live", d)
}

func (s *Server) accountData(r *http.Request) (accountData, bool) {
	name := r.PathValue("name")
	st := s.o.Engine.Status()
	now := s.now()
	d := accountData{page: s.page(r, name, "account")}
	d.Live = true
	a, i, ok := findStatus(st, name)
	if !ok {
		d.A = accountView{Name: name, Display: name}
		return d, false
	}
	d.Watched = true
	d.A = accountViews(st, now)[i]
	d.Title = d.A.Display
	d.Back = "/account/" + a.Name
	if a.Last != nil {
		var b strings.Builder
		_ = report.Text(&b, []probe.Result{*a.Last}, report.TextOptions{Rerun: func(probe.Result) string {
			return "smtpwatch check --account " + a.Name + " --json"
		}})
		d.Report = b.String()
		d.Checked = report.Clock(a.Last.CheckedAt, now) + " (" + human.Ago(now.Sub(a.Last.CheckedAt)) + ")"
		if t := a.Last.TLS; t != nil && t.Version != "" {
			c := &certView{Subject: t.Subject, Issuer: t.Issuer, NotAfter: t.NotAfter.Local().Format("2006-01-02"),
				DaysLeft: t.DaysLeft, Verified: t.Verified, Interceptor: t.Interceptor}
			if p, ok := a.Last.Phase(probe.PhaseTLS); ok {
				c.Detail = p.Detail
			}
			d.Cert = c
		}
	}
	rng := ranges[0]
	for _, x := range ranges {
		q := "?range=" + x.key
		cur := r.URL.Query().Get("range") == x.key
		if cur {
			rng = x
		}
		d.Ranges = append(d.Ranges, rangeLink{Label: x.label, Query: q, Current: cur})
	}
	if r.URL.Query().Get("range") == "" {
		d.Ranges[0].Current = true
	}
	d.Range = rng.label
	if s.o.History == nil {
		return d, true
	}
	// The history's queries run side by side, on the store's read pool:
	// the 30-day summary and the charts are the page's cost.
	ctx := r.Context()
	var (
		wg      sync.WaitGroup
		sums    = make([][]history.Summary, len(ranges))
		errs    = make([]error, len(ranges)+2)
		buckets []history.LatencyBucket
		evs     []health.Event
	)
	for i, x := range ranges {
		wg.Go(func() { sums[i], errs[i] = s.o.History.Summaries(ctx, a.Name, now.Add(-x.span)) })
	}
	wg.Go(func() {
		buckets, errs[len(ranges)] = s.o.History.Latency(ctx, a.Name, now.Add(-rng.span), now, rng.buckets)
	})
	wg.Go(func() { evs, errs[len(ranges)+1] = s.o.History.Events(ctx, a.Name, now.Add(-30*24*time.Hour)) })
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		d.HistErr = err.Error()
		return d, true
	}
	for i, x := range ranges {
		row := uptimeRow{Label: x.label}
		if len(sums[i]) == 1 {
			sm := sums[i][0]
			row.Known, row.Checks, row.Offline = sm.Known(), sm.Probes, sm.Offline
			row.Failed = sm.Probes - sm.Working
			if row.Known {
				row.Uptime = formatPercent(sm.Uptime)
			}
			if sm.Working > 0 {
				row.P50, row.P95 = human.Duration(sm.P50), human.Duration(sm.P95)
			}
		}
		d.Uptime = append(d.Uptime, row)
	}
	d.Charts = charts(buckets, now.Add(-rng.span), now, rng.span/time.Duration(rng.buckets), now)
	d.Timeline = timeline(evs, now)
	return d, true
}

// maxTimeline bounds the changes the account page lists.
const maxTimeline = 100

// timeline lists the account's changes of state, newest first, as
// `smtpwatch history` says them.
func timeline(evs []health.Event, now time.Time) []timelineRow {
	var out []timelineRow
	for i := len(evs) - 1; i >= 0 && len(out) < maxTimeline; i-- {
		e := evs[i]
		if e.Kind == health.EventConfigError {
			continue
		}
		change := string(e.From) + " → " + string(e.To)
		if e.Kind == health.EventReminder {
			change = "still " + string(e.To)
		}
		out = append(out, timelineRow{
			When: report.Clock(e.At, now), ISO: e.At.UTC().Format(time.RFC3339), Change: change,
			Symbol: report.StateSymbol(e.To), Why: report.CauseWords(e.Cause), Message: e.Message,
		})
	}
	return out
}

// formatPercent is an uptime as `smtpwatch history` writes it, "99.2 %",
// but never "100.0 %" for less than all the time.
func formatPercent(p float64) string {
	if p < 100 && p > 99.9 {
		p = 99.9
	}
	return fmt.Sprintf("%.1f %%", p)
}
