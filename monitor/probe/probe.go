// Package probe checks one SMTP submission account end to end — DNS, TCP,
// greeting, EHLO, TLS (STARTTLS or implicit) with strict certificate checks,
// SASL authentication and optionally the envelope — and classifies the
// outcome into a Result with a stable Cause, a message and advice for a
// person.
//
// One Probe call makes one attempt: it never retries AUTH, so a rejected
// password is sent at most once per call. Every read has a deadline and a
// size bound, and the whole call returns within Target.Timeout (plus a few
// milliseconds) whatever the server does. Probe sends QUIT where the session
// allows it and closes every connection and goroutine it opened before it
// returns.
//
// The conversation up to an encrypted session (greeting, first EHLO,
// STARTTLS, TLS handshake) is ours: go-smtp folds the greeting into its first
// command and runs the handshake lazily inside the next one, so neither the
// greeting's time, a 421 refusal, nor a certificate problem could be told
// apart there. From the secured channel on, go-smtp speaks EHLO and the
// envelope. AUTH runs on our wire too, with go-sasl's mechanisms: go-smtp
// answers a rejection with a stray SASL abort that servers count against
// the client (see saslExchange). Passwords are sent only there, only over
// TLS (unless the account explicitly allows otherwise), and never logged.
package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

// failure is why a run stopped: a cause and what was seen.
type failure struct {
	cause   Cause
	detail  string // one line: what was seen
	reply   *Reply // the server's reply, when one explains the cause
	err     error  // underlying error, for logs; never holds secrets
	timeout bool   // the server stopped answering
	// unreachable: no route to the server; we may be offline
	unreachable bool
	// reset: the connection was reset or closed before any credential was
	// sent; one new connection may be tried.
	reset      bool
	suggestion *Suggestion
}

func (f *failure) Error() string { return string(f.cause) + ": " + f.detail }

// prober is the state of one Probe call.
type prober struct {
	t       Target
	d       Deps          // its Logger redacts through secrets
	secrets *secrets      // every form of the credential, for redaction
	res     Result        // unredacted: leaves only through Probe's return
	host    string        // the server name in ASCII, for DNS and TLS (see asciiHost)
	hostErr error         // why the server name is not a valid international name
	ips     []net.IP      // the server's addresses, once resolved
	core    time.Duration // the pipeline's time, follow-ups excluded
}

// Probe runs the pipeline once against t and returns the classified result.
// It blocks for at most t.Timeout (default 30 s); cancelling ctx ends it
// sooner. It never panics on anything a server sends.
//
// No form of the credential leaves Probe: the returned Result and every
// record logged to d.Logger are redacted (see secrets), whatever the
// server quoted back.
func Probe(ctx context.Context, t Target, d Deps) Result {
	p := newProber(t, d)
	p.check(ctx)
	// The single exit: the result is redacted here and nowhere else.
	return p.secrets.result(p.res)
}

func newProber(t Target, d Deps) *prober {
	p := &prober{t: t, d: d.withDefaults(), secrets: &secrets{}}
	p.host, p.hostErr = asciiHost(t.Server)
	// Registered before anything is sent: a server that learnt the
	// password from an earlier check may quote it in its greeting.
	p.secrets.password(t.Username, t.Password.Reveal())
	p.d.Logger = slog.New(redactHandler{p.d.Logger.Handler(), p.secrets})
	p.res = Result{
		Name: t.Name, Provider: t.DisplayName(), Server: t.Server, Port: t.Port, Security: t.Security,
		CheckedAt: p.d.Clock.Now(),
	}
	return p
}

// check runs the pipeline, the follow-ups and the diagnosis into p.res.
func (p *prober) check(ctx context.Context) {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.t.timeout())
	defer cancel()

	f := p.run(ctx)
	p.core = time.Since(begin)
	f = p.followUp(ctx, f)
	p.conclude(f)
	p.res.Duration = time.Since(begin)
	if f != nil {
		p.d.Logger.Debug("check failed", "account", p.t.Name, "cause", string(f.cause), "detail", f.detail, "error", f.err)
	}
}

// record appends a finished phase to ps. It is the one way phases are
// recorded: the main run records into its Result, each follow-up attempt
// (another port or mode) into a list of its own.
func record(ps *[]Phase, name string, began time.Time, ok bool, detail string) {
	*ps = append(*ps, Phase{Name: name, OK: ok, Duration: time.Since(began), Detail: detail})
}

// deadline is now+limit, or the context's deadline if that comes first.
func deadline(ctx context.Context, limit time.Duration) time.Time {
	d := time.Now().Add(limit)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		return cd
	}
	return d
}

// halfLeft reports whether at least half of the check's budget remains.
func (p *prober) halfLeft(ctx context.Context) bool {
	d, ok := ctx.Deadline()
	return !ok || time.Until(d) > p.t.timeout()/2
}

// isReset reports whether err means the peer reset or closed the connection.
func isReset(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}

// stageLimit bounds the stages that wait on the server (connect, greeting,
// TLS handshake) so that a silent server leaves time for the follow-ups.
func (p *prober) stageLimit() time.Duration { return p.t.timeout() / 3 }

// sniffDelay is how long a silent server may stay silent before we check on a
// second connection whether it is waiting for a TLS handshake.
func (p *prober) sniffDelay() time.Duration { return min(2*time.Second, p.t.timeout()/10) }

func (p *prober) run(ctx context.Context) *failure {
	if p.t.Security == SecurityNone && p.t.AllowPlaintextAuth && p.t.Username != "" {
		p.res.Notes = append(p.res.Notes, "allow_plaintext_auth is on: the password is sent without encryption, readable by anyone on the network path")
	}
	if p.t.TLSSkipVerify {
		p.res.Notes = append(p.res.Notes, "tls_skip_verify is on: the server's certificate is not checked, so an impostor could receive the password")
	}
	addrs, f := p.resolve(ctx)
	if f != nil {
		return f
	}
	p.ips = addrs
	s, f := p.open(ctx, addrs, p.t.Port, p.t.Security, &p.res.Phases)
	if f != nil && f.reset && p.halfLeft(ctx) {
		// One reset connection is noise (a flaky router, a restarting
		// server); a mail program would simply reconnect. Nothing secret
		// was sent on it, so try once more and report the second attempt.
		if s != nil {
			s.close()
		}
		p.res.Phases = p.res.Phases[:1] // keep dns
		s, f = p.open(ctx, addrs, p.t.Port, p.t.Security, &p.res.Phases)
		if len(p.res.Phases) > 1 && p.res.Phases[1].Name == PhaseConnect {
			p.res.Phases[1].Detail += " (second attempt: the first connection was reset)"
		}
	}
	if s != nil {
		defer s.close()
		p.res.TLS = s.tls
		if p.t.Security == SecurityAuto {
			p.res.Detected = s.mode
		}
	}
	if f != nil {
		if s != nil && f.reply != nil {
			s.quit(ctx)
		}
		return f
	}
	if !p.t.SkipAuth {
		if f = p.auth(ctx, s); f == nil {
			f = p.envelope(ctx, s)
		}
	}
	if f == nil || f.reply != nil {
		s.quit(ctx)
	}
	return f
}

// smtpReply converts a go-smtp error into the reply it carries, if any.
func smtpReply(err error) *Reply {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return nil
	}
	r := &Reply{Code: se.Code, Message: sanitize(strings.ReplaceAll(se.Message, "\n", " "), 300)}
	if e := se.EnhancedCode; e[0] > 0 {
		r.EnhancedCode = fmt.Sprintf("%d.%d.%d", e[0], e[1], e[2])
	}
	return r
}
