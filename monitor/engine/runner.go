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
	"smtpwatch/monitor/probe"
)

// runner checks one account on its schedule. Only its own goroutine probes,
// so an account is never probed twice at once.
type runner struct {
	e      *Engine
	checks chan chan probe.Result // "check now" requests
	kick   chan struct{}          // probe now: resume, wake, settings changed
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
	// firstDelay postpones the first check (see Engine.apply).
	firstDelay time.Duration
	fpKey      [32]byte // keys the credential fingerprint; never leaves the process

	mu       sync.Mutex
	acct     config.Account
	deps     probe.Deps
	policy   health.Policy
	h        health.Account
	needAuth bool      // the next probe logs in
	lastAuth time.Time // when a probe last reached the AUTH phase
	rejected []byte    // fingerprint of the credential the server rejected
}

func newRunner(e *Engine, a config.Account, d probe.Deps) *runner {
	r := &runner{
		e: e, checks: make(chan chan probe.Result), kick: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{}),
		acct: a, deps: d, policy: policyFor(e.cfg, a), needAuth: true,
		h: health.NewAccount(a.Name, a.Provider, time.Now()),
	}
	_, _ = rand.Read(r.fpKey[:])
	return r
}

func policyFor(cfg *config.Config, a config.Account) health.Policy {
	p := health.DefaultPolicy()
	p.FailureThreshold, p.SuccessThreshold = a.FailureThreshold, a.SuccessThreshold
	p.Reminder = cfg.Reminder
	return p
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
// comes at once and logs in; a changed credential source lifts a lockout.
func (r *runner) update(a config.Account, d probe.Deps) {
	r.mu.Lock()
	credChanged := a.Credential.Key() != r.acct.Credential.Key() || a.Username != r.acct.Username
	r.acct, r.deps, r.policy, r.needAuth = a, d, policyFor(r.e.cfg, a), true
	r.h.Provider = a.Provider
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
		var reply chan probe.Result
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case reply = <-r.checks:
			planned = time.Now()
		case <-r.kick:
			planned = time.Now()
		}
		if reply == nil && r.paused() {
			r.feed(health.Input{Kind: health.InputTick})
			if r.paused() {
				planned = r.pauseEnd()
				timer.Reset(time.Until(planned))
				continue
			}
		}
		res, ok := r.probe(ctx, reply != nil, planned)
		if reply != nil {
			reply <- res
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

// probe runs one check and feeds its result. manual marks a check the user
// asked for: it logs in even after a rejection. ok is false when ctx ended
// before the check finished.
func (r *runner) probe(ctx context.Context, manual bool, planned time.Time) (probe.Result, bool) {
	r.mu.Lock()
	acct, deps := r.acct, r.deps
	locked := r.h.AuthLocked()
	wantAuth := manual || r.needAuth || time.Since(r.lastAuth) >= acct.AuthInterval
	r.mu.Unlock()

	t := acct.Target()
	auth := false
	var credErr error
	if acct.Credential.Source != config.CredentialNone {
		t.SkipAuth = true
		if manual || locked || wantAuth {
			pw, err := acct.Password(ctx)
			switch {
			case err != nil:
				credErr = err
			case locked && !manual && !r.changedSinceRejection(pw):
				// Same credential the server rejected: never send it again.
			default:
				if locked && !manual {
					r.feed(health.Input{Kind: health.InputCredentialChanged})
				}
				t.Password, t.SkipAuth, auth = pw, false, true
			}
		}
	}
	// A probe of an account without credentials says so (no_credentials).

	sem := r.e.semaphore() // a reload may swap it; release where we took
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return probe.Result{}, false
	}
	started := time.Now()
	if r.e.o.OnProbe != nil {
		r.e.o.OnProbe(acct.Name, planned, started)
	}
	res := r.e.probeFn(ctx, t, deps)
	<-sem
	if ctx.Err() != nil {
		return res, false
	}
	if credErr != nil {
		res = credentialProblem(res, credErr)
	}

	r.mu.Lock()
	if _, reached := res.Phase(probe.PhaseAuth); auth && reached {
		r.lastAuth = started
		// Log in again next time unless this login settled it.
		r.needAuth = !res.AuthVerified && !res.Cause.IsCredentialRejection()
		if res.Cause.IsCredentialRejection() {
			r.rejected = r.fingerprint(t.Password)
		}
	}
	r.mu.Unlock()

	if r.e.o.Store != nil {
		if err := r.e.o.Store.Record(ctx, res, auth); err != nil {
			r.e.log.Warn("history: result not recorded", "account", acct.Name, "err", err)
		}
	}
	if r.e.o.Obs != nil {
		r.e.o.Obs.Observe(res)
	}
	r.feed(health.Input{Kind: health.InputResult, Result: res, Auth: auth})
	return res, true
}

// fingerprint identifies a credential without keeping it: an HMAC under a
// key that never leaves this process.
func (r *runner) fingerprint(s credential.Secret) []byte {
	m := hmac.New(sha256.New, r.fpKey[:])
	m.Write([]byte(s.Reveal()))
	return m.Sum(nil)
}

func (r *runner) changedSinceRejection(s credential.Secret) bool {
	r.mu.Lock()
	rej := r.rejected
	r.mu.Unlock()
	return rej != nil && !hmac.Equal(rej, r.fingerprint(s))
}

// credentialProblem marks a result whose password could not be read: the
// connection and TLS were checked, the login was not.
func credentialProblem(res probe.Result, err error) probe.Result {
	msg := "The password could not be read, so sign-in was not checked: " + err.Error()
	if res.Status == probe.StatusOK || res.Status == probe.StatusDegraded {
		res.Status, res.Cause, res.Message = probe.StatusDegraded, probe.CauseNoCredentials, msg
		res.Advice = []string{"Fix the password source named above; smtpwatch reads it again at the next check."}
		return res
	}
	res.Warnings = append(res.Warnings, probe.Finding{Cause: probe.CauseNoCredentials, Message: msg})
	return res
}
