package engine

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"sync"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/history"
	"smtpwatch/monitor/probe"
)

// runner checks one account on its schedule. Only its own goroutine probes,
// so an account is never probed twice at once.
type runner struct {
	e      *Engine
	checks chan checkRequest // "check now" and /probe requests
	kick   chan struct{}     // probe now: resume, wake, settings changed
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
	// firstDelay postpones the first check (see Engine.apply).
	firstDelay time.Duration
	// memKey keys the in-memory form of the rejected credential's
	// fingerprint (a fast HMAC, compared at every check while locked);
	// it never leaves the process.
	memKey [32]byte

	mu       sync.Mutex
	acct     config.Account
	deps     probe.Deps
	policy   health.Policy
	h        health.Account
	needAuth bool      // the next probe logs in
	lastAuth time.Time // when a probe last reached the AUTH phase
	rejected []byte    // in-memory fingerprint of the credential the server rejected
	// restored is false until the first probe has read what history says
	// about the account's last logins; unmatched is a rejection from
	// before the restart whose credential has not been compared yet.
	restored  bool
	unmatched *history.Check
	// workedAt is the last time the account's current connection settings
	// reached a working verdict (probe.Target.WorkedAt).
	workedAt time.Time
	// loginOK is when the server last accepted the current credential;
	// zero after a refusal or a change of credential.
	loginOK time.Time
	// tokens gives the access tokens of an OAuth2 account with a stored
	// sign-in; nil until needed, and after a settings change.
	tokens *credential.TokenSource
}

// checkRequest asks the runner to check now.
type checkRequest struct {
	reply chan checkReply
	// scheduled makes the check follow the schedule's login rules, as a
	// /probe request does: it logs in only when a login is due and
	// allowed, and never sends a credential the server rejected. Without
	// it the check counts as the user asking (see Engine.Check).
	scheduled bool
	// timeout, when > 0, shortens the check's own timeout.
	timeout time.Duration
}

// checkReply is what a check request gets back.
type checkReply struct {
	res      probe.Result
	loggedIn bool
}

func newRunner(e *Engine, a config.Account, d probe.Deps) *runner {
	r := &runner{
		e: e, checks: make(chan checkRequest), kick: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{}),
		acct: a, deps: d, policy: policyFor(e.cfg, a), needAuth: true,
		h: health.NewAccount(a.Name, a.Provider, time.Now()),
	}
	_, _ = rand.Read(r.memKey[:])
	return r
}

func policyFor(cfg *config.Config, a config.Account) health.Policy {
	p := health.DefaultPolicy()
	p.FailureThreshold, p.SuccessThreshold = a.FailureThreshold, a.SuccessThreshold
	if a.AuthInterval > 0 {
		p.AuthInterval = a.AuthInterval
	}
	p.Reminder = cfg.Reminder
	return p
}

// connectionKey is what decides whether an account can send — where it
// connects, how, as whom, with which credential source and CA — without
// the schedule and the words: "it worked with these settings" survives a
// changed interval, not a changed server.
func connectionKey(a config.Account) config.SettingsKey {
	k := a.Key()
	k.Provider, k.Enabled = "", false
	k.Interval, k.AuthInterval = 0, 0
	k.FailureThreshold, k.SuccessThreshold, k.CertWarnDays = 0, 0, 0
	return k
}

func (r *runner) stop() { r.once.Do(func() { close(r.quit) }) }

func (r *runner) setPolicy(p health.Policy) {
	r.mu.Lock()
	r.policy = p
	r.mu.Unlock()
}

func (r *runner) status() health.AccountStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.h.Status()
}

// poke asks the loop to probe now, without blocking.
func (r *runner) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// update applies changed settings from a config reload: the next probe
// comes at once and logs in (unless a login verdict is held: see probe); a
// changed credential source or user name lifts a lockout.
func (r *runner) update(a config.Account, d probe.Deps) {
	r.mu.Lock()
	credChanged := a.Credential.Key() != r.acct.Credential.Key() || a.Username != r.acct.Username
	if connectionKey(a) != connectionKey(r.acct) {
		r.workedAt = time.Time{}
	}
	if credChanged {
		r.loginOK = time.Time{}
	}
	r.acct, r.deps, r.policy, r.needAuth = a, d, policyFor(r.e.cfg, a), true
	r.h.Provider = a.Provider
	r.tokens = nil
	r.mu.Unlock()
	if credChanged {
		r.feed(health.Input{Kind: health.InputCredentialChanged})
	}
	r.poke()
}

// feed applies an input to the state machine and announces what it says.
func (r *runner) feed(in health.Input) {
	r.mu.Lock()
	var ev []health.Event
	r.h, ev = health.Next(r.h, in, time.Now(), r.policy)
	state := r.h.State
	switch in.Kind {
	case health.InputResume, health.InputWake, health.InputCredentialChanged:
		r.needAuth = true
	}
	name := r.acct.Name
	r.mu.Unlock()
	if r.e.o.Obs != nil {
		r.e.o.Obs.SetState(name, state)
	}
	for _, e := range ev {
		r.e.log.Info("health", "account", e.Account, "from", e.From, "to", e.To, "cause", e.Cause, "kind", e.Kind)
		r.e.publish(e)
	}
	switch in.Kind {
	case health.InputResume, health.InputWake, health.InputCredentialChanged:
		r.poke()
	}
}

// run is the account's loop; it returns when ctx ends or the runner stops.
func (r *runner) run(ctx context.Context) {
	defer close(r.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-r.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	planned := time.Now().Add(r.firstDelay)
	timer := time.NewTimer(time.Until(planned))
	defer timer.Stop()
	for {
		var req *checkRequest
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case rq := <-r.checks:
			req = &rq
			planned = time.Now()
		case <-r.kick:
			planned = time.Now()
		}
		if req == nil && r.paused() {
			r.feed(health.Input{Kind: health.InputTick})
			if r.paused() {
				planned = r.pauseEnd()
				timer.Reset(time.Until(planned))
				continue
			}
		}
		var o probeOpts
		if req != nil {
			o.manual, o.timeout = !req.scheduled, req.timeout
		}
		res, loggedIn, ok := r.probe(ctx, o, planned)
		if req != nil {
			req.reply <- checkReply{res, loggedIn}
		}
		if !ok {
			return
		}
		planned = r.next()
		timer.Reset(time.Until(planned))
	}
}

func (r *runner) paused() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.h.State == health.Paused
}

// pauseEnd is when a pause expires, or far ahead for "until resumed".
func (r *runner) pauseEnd() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u := r.h.PausedUntil(); !u.IsZero() {
		return u
	}
	return time.Now().Add(24 * time.Hour)
}

// next is when to probe again: soon while a failure awaits confirmation,
// else an interval away, jittered.
func (r *runner) next() time.Time {
	r.mu.Lock()
	n, interval := r.h.Confirming(), r.acct.Interval
	r.mu.Unlock()
	if n > 0 {
		ds := r.e.o.ConfirmDelays
		return time.Now().Add(ds[min(n, len(ds))-1])
	}
	return time.Now().Add(r.e.jitter(interval))
}

// loginPlan is what one probe may do about the login.
type loginPlan struct {
	// due: a login is wanted (at start, after a wake, a change, or
	// auth_interval since the last one).
	due bool
	// allowed: the schedule allows a login now. A check the user asks for
	// always may; otherwise not during the back-off after a temporary
	// refusal, nor in a confirmation re-check unless the failure it
	// confirms is a failed login.
	allowed bool
	// locked: the server rejected the credential; the same one is never
	// sent again without the user asking.
	locked bool
}

func (r *runner) plan(manual bool, now time.Time) loginPlan {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := loginPlan{
		due:     manual || r.needAuth || now.Sub(r.lastAuth) >= r.acct.AuthInterval,
		allowed: true,
		locked:  r.h.AuthLocked(),
	}
	if !manual {
		if now.Before(r.h.AuthRetryAt()) {
			p.allowed = false
		}
		if r.h.Confirming() > 0 && !r.h.ConfirmingLogin() {
			p.allowed = false
		}
	}
	return p
}

// probeOpts say how one check goes.
type probeOpts struct {
	// manual marks a check the user asked for: it logs in even after a
	// rejection or during a back-off, and reads the account's CA file
	// again first.
	manual bool
	// timeout, when > 0, shortens the account's timeout for this check.
	timeout time.Duration
}

// probe runs one check and feeds its result; loggedIn says whether it
// tried to log in. ok is false when ctx ended before the check finished.
func (r *runner) probe(ctx context.Context, o probeOpts, planned time.Time) (res probe.Result, loggedIn, ok bool) {
	manual := o.manual
	r.restore(ctx)
	if manual {
		r.rereadCA()
	}
	lp := r.plan(manual, time.Now())
	r.mu.Lock()
	acct, deps, workedAt := r.acct, r.deps, r.workedAt
	r.mu.Unlock()

	t := acct.Target()
	t.Watching, t.WorkedAt = true, workedAt
	if o.timeout > 0 {
		if t.Timeout <= 0 || o.timeout < t.Timeout {
			t.Timeout = o.timeout
		}
	}
	auth := false
	var credErr error
	var si config.SignIn
	if acct.Credential.Source != config.CredentialNone {
		t.SkipAuth = true
		// While locked, the credential is read at every check: a changed
		// password, or a new OAuth2 sign-in, is tried at once.
		if lp.locked || (lp.due && lp.allowed) {
			var err error
			si, err = acct.ReadSignIn(ctx, r.tokenSource(acct))
			pw := si.ID
			login := false
			switch {
			case err != nil:
				credErr = err
			case manual:
				login = true
			case r.matchesRestoredRejection(acct, pw):
				// Rejected before the restart: locked again, not sent.
			case lp.locked && !r.changedSinceRejection(pw):
				// Same credential the server rejected: never send it again.
			case !lp.allowed:
				// A new credential waits for the back-off or the
				// confirmation to end.
			case lp.locked:
				r.feed(health.Input{Kind: health.InputCredentialChanged})
				login = true
			default:
				login = true
			}
			if login {
				si.Apply(&t)
				t.SkipAuth, auth = false, true
			}
		}
	}
	// A probe of an account without credentials says so (no_credentials).

	sem := r.e.semaphore() // a reload may swap it; release where we took
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return probe.Result{}, false, false
	}
	started := time.Now()
	if r.e.o.OnProbe != nil {
		r.e.o.OnProbe(acct.Name, planned, started)
	}
	res = r.e.probeFn(ctx, t, deps)
	<-sem
	if ctx.Err() != nil {
		return res, auth, false
	}
	if credErr != nil {
		res = config.CredentialProblem(res, credErr)
	}

	check := history.Check{Result: res, Auth: auth}
	var rejected credential.Secret // the credential refused, as its source holds it now
	if check.Login() {
		check.Username = acct.Username
		if res.Cause.IsCredentialRejection() {
			rejected = si.After(ctx)
			if r.e.o.Store != nil {
				// Computed only here: slow on purpose (see Fingerprinter).
				check.Fingerprint = r.e.fp.Fingerprint(acct.Name, acct.Username, rejected)
			}
		}
	}
	r.mu.Lock()
	if check.Login() {
		r.unmatched = nil // a fresh answer replaces what history said
		r.lastAuth = started
		// Log in again next time unless this login settled it.
		r.needAuth = !res.AuthVerified && !res.Cause.IsCredentialRejection()
		if res.Cause.IsCredentialRejection() {
			r.rejected = r.memFingerprint(rejected)
		}
		if res.Cause == probe.CauseOAuthTokenRejected && r.tokens != nil {
			// A check the user asks for gets a fresh token, not this one.
			r.tokens.Forget()
		}
		if res.AuthVerified {
			r.loginOK = res.CheckedAt
		} else {
			r.loginOK = time.Time{}
		}
	}
	if (res.Status == probe.StatusOK || res.Status == probe.StatusDegraded) &&
		(res.AuthVerified || acct.Credential.Source == config.CredentialNone) {
		r.workedAt = res.CheckedAt
	}
	r.mu.Unlock()

	if r.e.o.Store != nil {
		if err := r.e.o.Store.RecordCheck(ctx, check); err != nil {
			r.e.log.Warn("history: result not recorded", "account", acct.Name, "err", err)
		}
	}
	if r.e.o.Obs != nil {
		r.e.o.Obs.Observe(res)
	}
	r.feed(health.Input{Kind: health.InputResult, Result: res, Auth: auth})
	return res, auth, true
}

// tokenSource is the account's source of OAuth2 access tokens, made on
// first use and kept (with the access token in its memory) until the
// settings change; nil for accounts without a stored sign-in.
func (r *runner) tokenSource(acct config.Account) *credential.TokenSource {
	if acct.Credential.Source != config.CredentialOAuth {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tokens == nil {
		r.tokens = acct.NewTokenSource(r.e.o.Grants, r.e.o.HTTP, r.e.log)
	}
	return r.tokens
}

// restoreLogins is how many of the last logins are read at start: enough
// to count the temporary refusals in a row up to the back-off's cap.
const restoreLogins = 8

// restore reads, once, what history says about the account: its last
// logins, to keep a login verdict of the previous run (a temporary
// refusal's back-off now, a rejection once the credential is compared),
// and its last working check, for WorkedAt. Errors are logged: without
// history the account starts afresh.
func (r *runner) restore(ctx context.Context) {
	r.mu.Lock()
	done, acct := r.restored, r.acct
	r.restored = true
	r.mu.Unlock()
	if done || r.e.o.Store == nil {
		return
	}
	hasCredential := acct.Credential.Source != config.CredentialNone
	if w, ok, err := r.e.o.Store.LastWorking(ctx, acct.Name, hasCredential); err != nil {
		r.e.log.Warn("history: last working check not read", "account", acct.Name, "err", err)
	} else if ok && w.Result.Server == acct.Server && w.Result.Port == acct.Port && w.Result.Security == acct.Security &&
		(!hasCredential || w.Username == acct.Username) {
		r.mu.Lock()
		if r.workedAt.IsZero() {
			r.workedAt = w.Result.CheckedAt
		}
		r.mu.Unlock()
	}
	if !hasCredential {
		return
	}
	logins, err := r.e.o.Store.Logins(ctx, acct.Name, restoreLogins)
	if err != nil {
		r.e.log.Warn("history: last logins not read", "account", acct.Name, "err", err)
		return
	}
	if len(logins) == 0 {
		return
	}
	last := logins[0]
	switch c := last.Result.Cause; {
	case c.IsCredentialRejection() && len(last.Fingerprint) > 0 && last.Username == acct.Username:
		r.mu.Lock()
		r.unmatched = &last
		r.mu.Unlock()
	case c == probe.CauseAuthTemporaryFailure || c == probe.CauseRateLimited:
		n := 0
		for _, l := range logins {
			if l.Result.Cause != probe.CauseAuthTemporaryFailure && l.Result.Cause != probe.CauseRateLimited {
				break
			}
			n++
		}
		r.feed(health.Input{Kind: health.InputRestore, Result: last.Result, Refusals: n})
		if at := r.status().AuthRetryAt; !at.IsZero() {
			r.e.log.Info("login backed off since before the restart", "account", acct.Name, "cause", c, "until", at)
		}
	}
}

// matchesRestoredRejection compares, once, the credential about to be
// sent with the one the server rejected before a restart. When they are
// the same, the lock is restored and true returned: the caller must not
// send it.
func (r *runner) matchesRestoredRejection(acct config.Account, pw credential.Secret) bool {
	r.mu.Lock()
	u := r.unmatched
	r.unmatched = nil
	r.mu.Unlock()
	if u == nil {
		return false
	}
	fp := r.e.fp.Fingerprint(acct.Name, acct.Username, pw)
	if len(fp) == 0 || !hmac.Equal(fp, u.Fingerprint) {
		r.e.log.Info("the credential changed since the server rejected it; logging in", "account", acct.Name)
		return false
	}
	r.mu.Lock()
	r.rejected = r.memFingerprint(pw)
	r.mu.Unlock()
	r.e.log.Info("the server rejected this credential before the restart; not sending it again", "account", acct.Name,
		"rejected_at", u.Result.CheckedAt)
	r.feed(health.Input{Kind: health.InputRestore, Result: u.Result})
	return true
}

// rereadCA reads the account's ca_file again before a check the user asked
// for, so that a renewed private CA counts without a reload. A file that
// cannot be read leaves the last good pool in place (the next config load
// reports it).
func (r *runner) rereadCA() {
	r.mu.Lock()
	acct := r.acct
	r.mu.Unlock()
	fresh, changed, err := acct.ReloadCA()
	switch {
	case err != nil:
		r.e.log.Warn("ca_file not read again; using the one read before", "account", acct.Name, "err", err)
		return
	case !changed:
		return
	}
	r.mu.Lock()
	if r.acct.CAFile == fresh.CAFile {
		r.acct.RootCAs, r.acct.CADigest = fresh.RootCAs, fresh.CADigest
		r.workedAt = time.Time{}
	}
	r.mu.Unlock()
	r.e.log.Info("ca_file changed; using its new contents", "account", acct.Name, "file", fresh.CAFile)
}

// memFingerprint identifies a credential without keeping it, in memory: an
// HMAC under a key that never leaves this process.
func (r *runner) memFingerprint(s credential.Secret) []byte {
	m := hmac.New(sha256.New, r.memKey[:])
	m.Write([]byte(s.Reveal()))
	return m.Sum(nil)
}

func (r *runner) changedSinceRejection(s credential.Secret) bool {
	r.mu.Lock()
	rej := r.rejected
	r.mu.Unlock()
	return rej != nil && !hmac.Equal(rej, r.memFingerprint(s))
}
