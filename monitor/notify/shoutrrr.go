package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nicholas-fedor/shoutrrr/pkg/router"
	"github.com/nicholas-fedor/shoutrrr/pkg/types"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/health"
)

// shoutrrrSender delivers through a shoutrrr service URL (ntfy, Gotify,
// Slack, e-mail...). The URL is read from its source at every attempt, so
// that a changed url_command or keyring entry counts at once, and checked
// (config.Notify.NotifyURL: no e-mail through a watched server).
//
// shoutrrr takes no context, and some of its services use
// http.DefaultClient, which has no timeout: Send gives up on an attempt
// when ctx ends, but the attempt's goroutine lives on until shoutrrr
// returns. At most one such attempt runs per channel: the next one waits
// for it (bounded by its own ctx), so a receiver that never answers costs
// one goroutine, not one per retry.
type shoutrrrSender struct {
	n      config.Notify
	origin string
	busy   chan struct{} // holds a token while an attempt runs
}

func newShoutrrr(n config.Notify, origin string) *shoutrrrSender {
	return &shoutrrrSender{n: n, origin: origin, busy: make(chan struct{}, 1)}
}

func (s *shoutrrrSender) Send(ctx context.Context, ev health.Event) error {
	if ev.Notification == nil {
		return errors.New("not a notification")
	}
	raw, err := s.n.NotifyURL(ctx)
	if err != nil {
		return err // a *config.Error: never the URL
	}
	parts := secretParts(raw.Reveal())
	select {
	case s.busy <- struct{}{}:
	case <-ctx.Done():
		return errors.New("the previous attempt has not returned yet")
	}
	svc, err := (&router.ServiceRouter{}).Locate(raw.Reveal())
	if err != nil {
		<-s.busy
		return redactErr("the URL is not usable", err, parts)
	}
	n := ev.Notification
	params := types.Params{}
	params.SetTitle(n.Title)
	msg := Text(*n, s.origin)
	done := make(chan error, 1)
	go func() {
		defer func() { <-s.busy }()
		done <- svc.Send(msg, &params)
	}()
	select {
	case err := <-done:
		return redactErr("", err, parts)
	case <-ctx.Done():
		return fmt.Errorf("no answer in time (%v)", context.Cause(ctx))
	}
}

// Text is a notification as a message channel shows it under its title:
// the body, and the machine that says it.
func Text(n health.Notification, origin string) string {
	var b strings.Builder
	b.WriteString(n.Body)
	if origin != "" {
		b.WriteString("\n\n— smtpwatch on " + origin)
	}
	return b.String()
}
