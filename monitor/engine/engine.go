// Package engine is the daemon's core: it schedules probes for every
// account, feeds their results to the health state machine, records them,
// and tells subscribers what changed. It has no GUI and no OS-service code;
// the API server, the tray and the CLI drive it through its methods.
//
// Each account has one runner goroutine, so an account is never probed
// twice at once; a semaphore bounds the probes running across accounts. A
// runner probes every Interval (jittered by ±10 %), logs in every
// AuthInterval and once at start, after a wake, a resume and a credential or
// config change, and re-checks 5 s and then 15 s after a failure so that one
// dropped connection never alarms.
//
// A monitor must never lock an account or hammer a server:
//   - After the server rejects a credential the runner does not log in
//     again until the credential changes (its value, its source or the
//     user name) or the user asks for a check. The rejection is kept in
//     history with the credential's fingerprint (see Fingerprinter), so a
//     restarted daemon does not send the same credential again either.
//   - After a temporary refusal of the login (454, 421 4.7.0, a rate
//     limit) it waits health.Policy.Backoff: auth_interval, doubling per
//     refusal in a row, at most 4 h; that too survives a restart.
//   - Confirmation re-checks log in only when the failure they confirm is
//     a failed login, and never during a back-off.
//   - An OAuth2 account is held the same way when its sign-in is missing
//     or refused (oauth_sign_in_required) or the server refused its token
//     (oauth_token_rejected): no new try until the stored sign-in changes —
//     which a runner notices at its next check, so `smtpwatch login` needs
//     no restart. Access tokens come from one credential.TokenSource per
//     account, which keeps them in memory and refreshes them before they
//     expire.
//
// While a login verdict is held, checks that do not log in go on (the
// connection and certificate are still watched) but cannot make the
// account ok.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/history"
	"smtpwatch/monitor/probe"
)

// ErrUnknownAccount is returned for an account name the config lacks.
var ErrUnknownAccount = health.ErrUnknownAccount

// ProbeFunc runs one probe; probe.Probe is the real one.
type ProbeFunc func(ctx context.Context, t probe.Target, d probe.Deps) probe.Result

// Recorder keeps history; *history.Store satisfies it. Errors are logged,
// never fatal: a full disk must not stop the monitoring. Logins and
// LastWorking are read once per account, before its first check.
type Recorder interface {
	RecordCheck(ctx context.Context, c history.Check) error
	RecordEvent(ctx context.Context, e health.Event) error
	Prune(ctx context.Context, before time.Time) (int64, error)
	Logins(ctx context.Context, account string, n int) ([]history.Check, error)
	LastWorking(ctx context.Context, account string, loggedIn bool) (history.Check, bool, error)
}

// Observer sees every result and state; *metrics.Metrics satisfies it.
type Observer interface {
	Observe(r probe.Result)
	SetState(account string, s health.State)
	Forget(account string)
}

// Options configure an Engine. Zero fields take the documented defaults.
type Options struct {
	Config *config.Config
	Probe  ProbeFunc  // nil means probe.Probe
	Deps   probe.Deps // the probe's network and clock; OnlineTargets come from Config
	Store  Recorder   // nil keeps no history
	// Fingerprints identifies rejected credentials in history; nil uses a
	// key that lives only as long as the process, so that a restart
	// cannot recognize a credential rejected before it.
	Fingerprints *Fingerprinter
	Obs          Observer // nil keeps no metrics
	Logger       *slog.Logger
	// ConfirmDelays are the waits before the re-checks that confirm a
	// failure; nil means 5 s then 15 s.
	ConfirmDelays []time.Duration
	// Seed makes the jitter reproducible; 0 seeds from the clock.
	Seed uint64
	// OnProbe, if set, is told when each probe starts, with the time it was
	// planned for: the scale benchmark measures schedule lag with it.
	OnProbe func(account string, planned, started time.Time)
	// Grants keeps the OAuth2 sign-ins of auth = "oauth2" accounts; nil is
	// the OS keyring (credential.KeyringGrants).
	Grants credential.GrantStore
	// HTTP reaches the OAuth2 providers' token endpoints; nil is a client
	// with the default transport.
	HTTP *http.Client
}

// Engine watches the configured accounts. Its methods are safe for
// concurrent use.
type Engine struct {
	o       Options
	fp      *Fingerprinter
	log     *slog.Logger
	probeFn ProbeFunc
	sem     chan struct{}
	subs    *broadcaster

	mu      sync.Mutex
	cfg     *config.Config
	runners map[string]*runner // by lower-case name
	order   []string           // config order, lower-case
	rnd     *rand.Rand
	wg      sync.WaitGroup
	ctx     context.Context // Run's; nil before Run
}

// New checks the options and makes an engine; Run starts it.
func New(o Options) (*Engine, error) {
	if o.Config == nil {
		return nil, errors.New("engine: no config")
	}
	if o.Probe == nil {
		o.Probe = probe.Probe
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ConfirmDelays == nil {
		o.ConfirmDelays = []time.Duration{5 * time.Second, 15 * time.Second}
	}
	seed := o.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	if o.Fingerprints == nil {
		o.Fingerprints = processFingerprinter()
	}
	e := &Engine{
		o: o, fp: o.Fingerprints, log: o.Logger, probeFn: o.Probe, subs: newBroadcaster(),
		sem: make(chan struct{}, max(o.Config.MaxConcurrency, 1)), cfg: o.Config,
		runners: map[string]*runner{}, rnd: rand.New(rand.NewPCG(seed, seed^0x5eed)),
	}
	return e, nil
}

// Run starts a runner per enabled account and blocks until ctx ends; then
// it cancels the probes in flight and returns once every runner is gone.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	e.ctx = ctx
	e.apply(e.cfg, false)
	e.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		e.prune(ctx)
	}()
	<-ctx.Done()
	e.wg.Wait()
	e.subs.closeAll()
	return nil
}

// Reload applies a new config: accounts are added, removed or restarted;
// an account whose settings changed is checked (and logged in) at once.
func (e *Engine) Reload(cfg *config.Config) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sem = make(chan struct{}, max(cfg.MaxConcurrency, 1))
	e.cfg = cfg // before apply: new runners take their policy from it
	e.apply(cfg, true)
	e.log.Info("config reloaded", "file", cfg.File, "accounts", len(e.order))
}

// apply reconciles the runners with cfg. e.mu is held.
//
// At start, the first checks are spread out: account i of n begins at
// i × min(interval/n, 50 ms), so ten accounts are all checked within half a
// second while a thousand do not queue behind max_concurrency. Accounts a
// reload adds are checked at once.
func (e *Engine) apply(cfg *config.Config, reload bool) {
	keep := map[string]bool{}
	var order []string
	enabled := 0
	for _, a := range cfg.Accounts {
		if a.Enabled {
			enabled++
		}
	}
	for _, a := range cfg.Accounts {
		if !a.Enabled {
			continue
		}
		key := strings.ToLower(a.Name)
		keep[key] = true
		order = append(order, key)
		r, ok := e.runners[key]
		switch {
		case ok && sameSettings(r.acct, a):
			r.setPolicy(policyFor(cfg, a)) // the global reminder may have changed
			continue
		case ok:
			r.update(a, e.deps(cfg))
			continue
		}
		r = newRunner(e, a, e.deps(cfg))
		if !reload {
			r.firstDelay = time.Duration(len(order)-1) * min(a.Interval/time.Duration(enabled), startSpacing)
		}
		e.runners[key] = r
		if e.ctx != nil {
			e.start(r)
		}
	}
	for key, r := range e.runners {
		if !keep[key] {
			r.stop()
			delete(e.runners, key)
			if e.o.Obs != nil {
				e.o.Obs.Forget(r.acct.Name)
			}
		}
	}
	e.order = order
}

// startSpacing is the most time between two accounts' first checks.
const startSpacing = 50 * time.Millisecond

// semaphore is the current bound on probes in flight.
func (e *Engine) semaphore() chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sem
}

func (e *Engine) start(r *runner) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		r.run(e.ctx)
	}()
}

// deps are the probe's dependencies for cfg.
func (e *Engine) deps(cfg *config.Config) probe.Deps {
	d := e.o.Deps
	if cfg.OnlineTargets != nil {
		d.OnlineTargets = cfg.OnlineTargets
	}
	if d.Logger == nil {
		d.Logger = e.log
	}
	return d
}

// sameSettings reports whether a reload leaves the account as it was:
// what the settings are, not where the file says them.
func sameSettings(a, b config.Account) bool { return a.Key() == b.Key() }

// Status is the snapshot the tray and the API show.
func (e *Engine) Status() health.Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	var s health.Status
	for _, key := range e.order {
		if r, ok := e.runners[key]; ok {
			s.Accounts = append(s.Accounts, r.status())
		}
	}
	s.State = health.Combine(s.Accounts)
	return s
}

// Subscribe delivers events until ctx ends or the engine stops; the channel
// is closed then. A subscriber that falls more than 64 events behind loses
// the oldest.
func (e *Engine) Subscribe(ctx context.Context) <-chan health.Event {
	return e.subs.subscribe(ctx)
}

// Check probes now — all accounts when account is "" — and returns the
// results in config order. It counts as the user asking: accounts log in
// even when locked out after a rejection or backed off after a temporary
// refusal, and each account's ca_file is read again first. Paused accounts
// are checked too, but their state stays paused.
func (e *Engine) Check(ctx context.Context, account string) ([]probe.Result, error) {
	rs, err := e.pick(account)
	if err != nil {
		return nil, err
	}
	replies := make([]chan checkReply, len(rs))
	for i, r := range rs {
		replies[i] = make(chan checkReply, 1)
		select {
		case r.checks <- checkRequest{reply: replies[i]}:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-r.done:
			return nil, fmt.Errorf("check %s: the account was removed", r.acct.Name)
		}
	}
	out := make([]probe.Result, len(rs))
	for i, ch := range replies {
		select {
		case rep := <-ch:
			out[i] = rep.res
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-rs[i].done:
			return nil, fmt.Errorf("check %s: the account was removed", rs[i].acct.Name)
		}
	}
	return out, nil
}

// Probed is what a check asked for by /probe found.
type Probed struct {
	Result probe.Result
	// Status is the account after the check.
	Status health.AccountStatus
	// LoggedIn says whether the check tried to log in; LoginOK is when the
	// server last accepted the account's current credential (this check's
	// login or an earlier one), zero when it has not since the daemon
	// started, the credential changed, or the last login was refused.
	LoggedIn bool
	LoginOK  time.Time
	// Held is the cause of the login verdict the account is held at (a
	// rejected credential, or a temporary refusal in its back-off), ""
	// when none: while one is held a check that does not log in cannot
	// show the account working.
	Held probe.Cause
}

// Probe checks an account now for /probe and returns what the check found.
// It is a check like the scheduled ones (it feeds the account's health,
// history and metrics, and waits for a check already running), with the
// schedule's login rules: it logs in only when a login is due
// (auth_interval since the last one, the scheduled checks' and /probe's
// alike), never during the back-off after a temporary refusal, and never
// with a credential the server rejected — unlike Check, it does not count
// as the user asking. timeout, when > 0, shortens the account's timeout.
// Paused accounts are checked too; their state stays paused. Errors: an
// unknown account (wrapping ErrUnknownAccount), ctx's, or the account was
// removed meanwhile.
func (e *Engine) Probe(ctx context.Context, account string, timeout time.Duration) (Probed, error) {
	rs, err := e.pick(account)
	if err != nil {
		return Probed{}, err
	}
	if account == "" || len(rs) != 1 {
		return Probed{}, fmt.Errorf("probe: %w \"\"", ErrUnknownAccount)
	}
	r := rs[0]
	reply := make(chan checkReply, 1)
	select {
	case r.checks <- checkRequest{reply: reply, scheduled: true, timeout: timeout}:
	case <-ctx.Done():
		return Probed{}, ctx.Err()
	case <-r.done:
		return Probed{}, fmt.Errorf("probe %s: the account was removed", r.acct.Name)
	}
	select {
	case rep := <-reply:
		r.mu.Lock()
		defer r.mu.Unlock()
		return Probed{Result: rep.res, Status: r.h.Status(), LoggedIn: rep.loggedIn, LoginOK: r.loginOK, Held: r.h.Held()}, nil
	case <-ctx.Done():
		return Probed{}, ctx.Err()
	case <-r.done:
		return Probed{}, fmt.Errorf("probe %s: the account was removed", r.acct.Name)
	}
}

// Announce hands ev to the subscribers without recording it in history:
// the notifications the notification policy decided (monitor/notify)
// travel on the engine's event stream, to the API's /v1/events and the
// tray.
func (e *Engine) Announce(ev health.Event) { e.subs.publish(ev) }

// Pause suspends checks and alarms of one account, or all when account is
// "", until the given time (zero: until Resume).
func (e *Engine) Pause(account string, until time.Time) error {
	return e.input(account, health.Input{Kind: health.InputPause, Until: until})
}

// Resume ends a pause; the accounts are checked at once.
func (e *Engine) Resume(account string) error {
	return e.input(account, health.Input{Kind: health.InputResume})
}

// Wake reports a wake from sleep or a network change: failures in the
// grace period that follows do not alarm, and every account is checked at
// once, logging in.
func (e *Engine) Wake() {
	_ = e.input("", health.Input{Kind: health.InputWake})
}

// ConfigError announces a config file that could not be loaded; the engine
// keeps running on its last good config.
func (e *Engine) ConfigError(err error) {
	e.log.Error("config not reloaded; keeping the last good one", "err", err)
	ev := health.Event{Kind: health.EventConfigError, Message: err.Error(), At: time.Now(),
		Advice: []string{"Fix the file; smtpwatch reloads it when it is saved."}}
	e.publish(ev)
}

func (e *Engine) input(account string, in health.Input) error {
	rs, err := e.pick(account)
	if err != nil {
		return err
	}
	for _, r := range rs {
		r.feed(in)
	}
	return nil
}

func (e *Engine) pick(account string) ([]*runner, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if account == "" {
		var rs []*runner
		for _, key := range e.order {
			rs = append(rs, e.runners[key])
		}
		return rs, nil
	}
	r, ok := e.runners[strings.ToLower(account)]
	if !ok {
		return nil, fmt.Errorf("%w %q (accounts: %s)", ErrUnknownAccount, account, strings.Join(slices.Clone(e.order), ", "))
	}
	return []*runner{r}, nil
}

// publish records an event and hands it to subscribers. It takes no lock
// of the engine's: Reload feeds runners while holding e.mu.
func (e *Engine) publish(ev health.Event) {
	if e.o.Store != nil {
		// Not the run's context: the last events, written as it ends, count.
		if err := e.o.Store.RecordEvent(context.Background(), ev); err != nil {
			e.log.Warn("history: event not recorded", "err", err)
		}
	}
	e.subs.publish(ev)
}

// jitter spreads d by ±10 %.
func (e *Engine) jitter(d time.Duration) time.Duration {
	e.mu.Lock()
	f := 0.9 + 0.2*e.rnd.Float64()
	e.mu.Unlock()
	return time.Duration(float64(d) * f)
}

// prune drops history older than the retention, daily.
func (e *Engine) prune(ctx context.Context) {
	if e.o.Store == nil {
		return
	}
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		e.mu.Lock()
		keep := e.cfg.Retention
		e.mu.Unlock()
		if n, err := e.o.Store.Prune(ctx, time.Now().Add(-keep)); err != nil {
			e.log.Warn("history: prune failed", "err", err)
		} else if n > 0 {
			e.log.Info("history pruned", "rows", n)
		}
		t.Reset(24 * time.Hour)
	}
}
