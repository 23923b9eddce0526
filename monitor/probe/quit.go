package probe

import (
	"context"
	"time"
)

// quit is the quit phase: QUIT is sent, and the connection is closed
// without waiting for the server's 221.
//
// Waiting for the 221 cost a whole round trip — a seventh for a STARTTLS +
// AUTH check — to learn nothing a diagnosis uses: by then every answer
// that matters has come. RFC 5321 (4.1.1.10) asks a client to send QUIT
// before it closes (MUST) and to wait for the reply (SHOULD); Postfix's own
// SMTP client skips that wait by default (smtp_skip_quit_response = yes),
// and the server still sees a clean QUIT: the command arrives before our
// FIN, and it logs the session as ended by QUIT.
//
// Pipelining QUIT after AUTH was the other way to save the round trip, and
// is not used: RFC 4954 (section 4) lets AUTH be followed by another
// command in a pipelined group (RFC 2920) only when it carries an initial
// response for a mechanism that completes in one round trip (PLAIN, not
// LOGIN), so it would help only PLAIN on servers that offer PIPELINING —
// not LOGIN, not a check with the envelope, and not the connectivity-only
// check the daemon runs most often (QUIT right after the TLS handshake,
// with nothing to pipeline it with). Not waiting helps all of them.
//
// The phase says truthfully what happened: "QUIT sent" when the command
// went out, a failure when it could not be written.
func (s *session) quit(ctx context.Context) {
	began := time.Now()
	if err := s.w.send(deadline(ctx, quitWaitBudget), "QUIT"); err != nil {
		record(s.ps, PhaseQuit, began, false, "QUIT could not be sent: "+sanitize(err.Error(), 80))
		return
	}
	record(s.ps, PhaseQuit, began, true, "QUIT sent; not waiting for the reply")
}
