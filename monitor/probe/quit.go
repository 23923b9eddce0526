package probe

import (
	"context"
	"fmt"
	"time"
)

// quit is the quit phase: QUIT and its reply, briefly awaited.
func (s *session) quit(ctx context.Context) {
	began := time.Now()
	r, err := s.w.cmd(deadline(ctx, quitWaitBudget), "QUIT")
	switch {
	case err != nil:
		record(s.ps, PhaseQuit, began, false, "no answer to QUIT")
	case r.code == 221:
		record(s.ps, PhaseQuit, began, true, sanitize(fmt.Sprintf("%d %s", r.code, r.first()), 80))
	default:
		record(s.ps, PhaseQuit, began, false, r.toReply().String())
	}
}
