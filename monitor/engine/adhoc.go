package engine

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

// Errors of Targets.Probe, for /probe's answers.
var (
	// ErrUnknownModule: no [[module]] of that name.
	ErrUnknownModule = errors.New("unknown module")
	// ErrBadTarget: the target is not HOST or HOST:PORT.
	ErrBadTarget = errors.New("bad target")
	// ErrTargetNotAllowed: the module's targets do not list the server.
	ErrTargetNotAllowed = errors.New("target not allowed by the module")
)

// TargetLoginsFile holds, in the state directory, the fingerprints of the
// credentials servers rejected in /probe?target= checks, so that a
// restarted daemon does not send them again either.
const TargetLoginsFile = "probe-logins.json"

// maxTargetStates bounds the servers Targets remembers logins of; past it,
// entries without a verdict are forgotten first.
const maxTargetStates = 4096

// Targets checks servers a request names with a [[module]]'s settings
// (/probe?target=HOST:PORT&module=NAME). It keeps the engine's promises
// for those logins: a credential a server rejected is never sent to that
// server again for that module and user name until it changes (also
// across restarts, by a fingerprint in TargetLoginsFile), and after a
// temporary refusal the server is not logged in to again before
// health.Policy.Backoff. Checks of the same module, server and user name
// run one at a time; at most the semaphore's size run at once. Safe for
// concurrent use.
type Targets struct {
	probeFn ProbeFunc
	deps    probe.Deps
	fp      *Fingerprinter
	file    string // "" keeps verdicts in memory only
	log     *slog.Logger
	sem     chan struct{}
	memKey  [32]byte
	policy  health.Policy

	mu     sync.Mutex
	states map[string]*targetState
	saved  map[string]savedLogin // what the file holds
}

// targetState is what Targets knows of one module, server and user.
type targetState struct {
	busy     chan struct{} // holds a token while a check runs
	rejected []byte        // in-memory fingerprint of the rejected credential
	cause    probe.Cause   // the rejection's or the refusal's cause
	refusals int
	retryAt  time.Time
	loginOK  time.Time
}

// savedLogin is a rejection as TargetLoginsFile keeps it.
type savedLogin struct {
	Fingerprint []byte      `json:"fingerprint"`
	Cause       probe.Cause `json:"cause"`
	At          time.Time   `json:"at"`
}

// TargetOptions configure Targets.
type TargetOptions struct {
	Probe ProbeFunc  // nil: probe.Probe
	Deps  probe.Deps // the probe's network and clock
	// Fingerprints identifies rejected credentials; nil uses a key that
	// lives as long as the process.
	Fingerprints *Fingerprinter
	// StateDir holds TargetLoginsFile; "" remembers rejections in memory
	// only.
	StateDir string
	// Concurrency bounds the checks running at once (>= 1).
	Concurrency int
	Logger      *slog.Logger
}

// NewTargets makes a Targets, reading what TargetLoginsFile remembers
// (a missing or unreadable file is logged and starts afresh).
func NewTargets(o TargetOptions) *Targets {
	if o.Probe == nil {
		o.Probe = probe.Probe
	}
	if o.Fingerprints == nil {
		o.Fingerprints = processFingerprinter()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Targets{
		probeFn: o.Probe, deps: o.Deps, fp: o.Fingerprints, log: o.Logger,
		sem: make(chan struct{}, max(o.Concurrency, 1)), policy: health.DefaultPolicy(),
		states: map[string]*targetState{}, saved: map[string]savedLogin{},
	}
	_, _ = rand.Read(t.memKey[:])
	if o.StateDir != "" {
		t.file = filepath.Join(o.StateDir, TargetLoginsFile)
		b, err := os.ReadFile(t.file)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			t.log.Warn("probe logins not read", "file", t.file, "err", err)
		default:
			if err := json.Unmarshal(b, &t.saved); err != nil {
				t.log.Warn("probe logins not read", "file", t.file, "err", err)
				t.saved = map[string]savedLogin{}
			}
		}
	}
	return t
}

// Probe checks target ("HOST" or "HOST:PORT", [IPv6]:PORT) with module m.
// timeout, when > 0, shortens the module's timeout. Errors: ErrBadTarget,
// ErrTargetNotAllowed (wrapped), or ctx's while waiting for a turn.
func (t *Targets) Probe(ctx context.Context, m config.Module, target string, timeout time.Duration) (Probed, error) {
	host, port, err := config.ParseServer(target)
	if err != nil {
		return Probed{}, fmt.Errorf("%w: %v", ErrBadTarget, err)
	}
	if !m.Allows(host, port) {
		return Probed{}, fmt.Errorf("%w: %s does not list %s (targets = [%s])", ErrTargetNotAllowed, m.Name, target, strings.Join(m.Targets, ", "))
	}
	acct := m.For(host, port)
	key := strings.ToLower(m.Name) + "|" + strings.ToLower(acct.Server) + fmt.Sprintf(":%d|", acct.Port) + acct.Username
	st := t.state(key)
	select {
	case st.busy <- struct{}{}:
	case <-ctx.Done():
		return Probed{}, ctx.Err()
	}
	defer func() { <-st.busy; t.tidy() }()

	tg := acct.Target()
	if timeout > 0 && (tg.Timeout <= 0 || timeout < tg.Timeout) {
		tg.Timeout = timeout
	}
	var out Probed
	var credErr error
	var pw credential.Secret
	if acct.Credential.Source != config.CredentialNone {
		tg.SkipAuth = true
		pw, credErr = acct.Password(ctx)
		if credErr == nil {
			switch held := t.held(key, st, acct, pw); held {
			case "":
				tg.Password, tg.SkipAuth, out.LoggedIn = pw, false, true
			default:
				out.Held = held
			}
		}
	}
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return Probed{}, ctx.Err()
	}
	res := t.probeFn(ctx, tg, t.deps)
	<-t.sem
	if credErr != nil {
		res = config.CredentialProblem(res, credErr)
	}
	out.Result = res
	if out.LoggedIn {
		t.answered(key, st, acct, pw, res)
		t.mu.Lock()
		if st.cause != "" && res.Cause == st.cause {
			out.Held = st.cause
		}
		t.mu.Unlock()
	}
	t.mu.Lock()
	out.LoginOK = st.loginOK
	t.mu.Unlock()
	return out, nil
}

func (t *Targets) state(key string) *targetState {
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.states[key]
	if !ok {
		st = &targetState{busy: make(chan struct{}, 1)}
		t.states[key] = st
	}
	return st
}

// tidy forgets idle servers without a verdict once there are too many.
func (t *Targets) tidy() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.states) <= maxTargetStates {
		return
	}
	for k, st := range t.states {
		if st.rejected == nil && st.retryAt.IsZero() && len(st.busy) == 0 {
			delete(t.states, k)
		}
	}
}

// held is the cause of the verdict that stops this login, "" when the
// credential may be sent: not the one the server rejected (in memory, or
// in the file from before a restart), and not during a back-off.
func (t *Targets) held(key string, st *targetState, acct config.Account, pw credential.Secret) probe.Cause {
	mem := t.mem(pw)
	t.mu.Lock()
	saved, hasSaved := t.saved[key]
	rejected, cause, retryAt := st.rejected, st.cause, st.retryAt
	t.mu.Unlock()
	if rejected == nil && hasSaved {
		// Once per credential: about 0.1 s of CPU.
		if fp := t.fp.Fingerprint(acct.Name, acct.Username, pw); len(fp) > 0 && hmac.Equal(fp, saved.Fingerprint) {
			t.mu.Lock()
			st.rejected, st.cause = mem, saved.Cause
			t.mu.Unlock()
			t.log.Info("the server rejected this credential before the restart; not sending it again", "module", acct.Name, "server", acct.Server)
			return saved.Cause
		}
		t.forget(key)
	}
	switch {
	case rejected != nil && hmac.Equal(rejected, mem):
		return cause
	case rejected != nil:
		t.mu.Lock()
		st.rejected, st.cause = nil, ""
		t.mu.Unlock()
		t.log.Info("the credential changed since the server rejected it; logging in", "module", acct.Name, "server", acct.Server)
	case time.Now().Before(retryAt):
		return cause
	}
	return ""
}

// answered remembers what the server said to a login.
func (t *Targets) answered(key string, st *targetState, acct config.Account, pw credential.Secret, res probe.Result) {
	switch {
	case res.Cause.IsCredentialRejection():
		fp := t.fp.Fingerprint(acct.Name, acct.Username, pw)
		t.mu.Lock()
		st.rejected, st.cause, st.loginOK = t.mem(pw), res.Cause, time.Time{}
		t.saved[key] = savedLogin{Fingerprint: fp, Cause: res.Cause, At: res.CheckedAt}
		t.mu.Unlock()
		t.save()
	case (res.Cause == probe.CauseAuthTemporaryFailure || res.Cause == probe.CauseRateLimited) && !res.AuthVerified:
		t.mu.Lock()
		st.refusals++
		st.cause, st.retryAt, st.loginOK = res.Cause, time.Now().Add(t.policy.Backoff(st.refusals)), time.Time{}
		t.mu.Unlock()
	case res.AuthVerified:
		t.mu.Lock()
		st.refusals, st.retryAt, st.cause, st.loginOK = 0, time.Time{}, "", res.CheckedAt
		t.mu.Unlock()
		t.forget(key)
	}
}

func (t *Targets) forget(key string) {
	t.mu.Lock()
	_, had := t.saved[key]
	delete(t.saved, key)
	t.mu.Unlock()
	if had {
		t.save()
	}
}

// save writes the rejections to the file (0600, replaced whole).
func (t *Targets) save() {
	if t.file == "" {
		return
	}
	t.mu.Lock()
	b, err := json.Marshal(t.saved)
	t.mu.Unlock()
	if err == nil {
		tmp := t.file + ".tmp"
		if err = os.WriteFile(tmp, b, 0o600); err == nil {
			err = os.Rename(tmp, t.file)
		}
	}
	if err != nil {
		t.log.Warn("probe logins not saved: a rejected password may be tried once more after a restart", "file", t.file, "err", err)
	}
}

// mem fingerprints a credential in memory, under a key that never leaves
// the process.
func (t *Targets) mem(s credential.Secret) []byte {
	m := hmac.New(sha256.New, t.memKey[:])
	m.Write([]byte(s.Reveal()))
	return m.Sum(nil)
}
