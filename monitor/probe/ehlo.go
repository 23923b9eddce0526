package probe

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-smtp"
)

// ehlo is our own EHLO, before STARTTLS, falling back to HELO for servers
// that know no extensions.
func (s *session) ehlo(ctx context.Context) *failure {
	dl := deadline(ctx, s.p.t.timeout())
	r, err := s.w.cmd(dl, "EHLO "+s.p.t.ehloName())
	if err == nil && (r.code == 500 || r.code == 502) {
		r, err = s.w.cmd(dl, "HELO "+s.p.t.ehloName())
		if err == nil && r.code == 250 {
			s.ext = map[string]string{}
			return nil
		}
	}
	if f := commandFailure(ctx, "EHLO", r, err); f != nil {
		return f
	}
	s.ext = extensions(r)
	return nil
}

// commandFailure judges the reply to one of our own commands, wanting 250.
func commandFailure(ctx context.Context, verb string, r reply, err error) *failure {
	var pe *protocolError
	switch {
	case err == nil && r.code/100 == 2:
		return nil
	case err == nil && r.code == 421:
		rp := r.toReply()
		return &failure{cause: CauseServiceUnavailable, detail: rp.String(), reply: rp}
	case err == nil:
		rp := r.toReply()
		return &failure{cause: CauseProtocolError, detail: verb + " refused: " + rp.String(), reply: rp}
	case errors.As(err, &pe):
		return &failure{cause: CauseProtocolError, detail: pe.msg, err: err}
	case isTimeout(ctx, err):
		return &failure{cause: CauseGreetingTimeout, detail: "the server stopped answering (" + verb + ")", err: err, timeout: true}
	}
	return &failure{cause: CauseProtocolError, detail: verb + ": " + sanitize(err.Error(), 100), err: err, reset: isReset(err)}
}

// hello hands the connection to go-smtp and lets it say EHLO.
func (s *session) hello(ctx context.Context) *failure {
	s.client = smtp.NewClient(s.w.handoff(s.greeting))
	s.client.CommandTimeout = time.Until(deadline(ctx, s.p.t.timeout()))
	err := s.client.Hello(s.p.t.ehloName())
	if err == nil {
		return nil
	}
	if rp := smtpReply(err); rp != nil {
		if rp.Code == 421 {
			return &failure{cause: CauseServiceUnavailable, detail: rp.String(), reply: rp}
		}
		return &failure{cause: CauseProtocolError, detail: "EHLO refused: " + rp.String(), reply: rp}
	}
	return ioFailure(ctx, "EHLO", err)
}

// ioFailure classifies an error from go-smtp that carries no reply. Only
// failures before AUTH may be marked as a reset worth a new connection; the
// caller clears it otherwise.
func ioFailure(ctx context.Context, verb string, err error) *failure {
	if isTimeout(ctx, err) {
		return &failure{cause: CauseGreetingTimeout, detail: "the server stopped answering (" + verb + ")", err: err, timeout: true}
	}
	return &failure{cause: CauseProtocolError, detail: verb + ": " + sanitize(err.Error(), 100), err: err, reset: isReset(err)}
}

// extension reports whether the latest EHLO offered a keyword.
func (s *session) extension(name string) (bool, string) {
	if s.client != nil {
		return s.client.Extension(name)
	}
	v, ok := s.ext[name]
	return ok, v
}

// summaryExts are the capabilities worth a word in the report.
var summaryExts = []string{"STARTTLS", "AUTH", "SIZE", "PIPELINING", "8BITMIME", "SMTPUTF8", "CHUNKING", "REQUIRETLS"}

func (s *session) extSummary() string {
	var out []string
	for _, k := range summaryExts {
		if ok, v := s.extension(k); ok {
			if v != "" && (k == "AUTH" || k == "SIZE") {
				k += " " + v
			}
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return "no extensions"
	}
	return strings.Join(out, ", ")
}

// authMechanisms lists the SASL mechanisms the latest EHLO offered.
func (s *session) authMechanisms() ([]string, bool) {
	ok, v := s.extension("AUTH")
	if !ok {
		return nil, false
	}
	mechs := strings.Fields(strings.ToUpper(v))
	sort.Strings(mechs)
	return mechs, true
}
