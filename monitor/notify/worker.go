package notify

import (
	"context"
	"fmt"
	"sync"
	"time"

	"smtpwatch/monitor/health"
)

// worker delivers one channel's notifications, one at a time and in
// order, retrying each with backoff.
type worker struct {
	d    *Dispatcher
	wake chan struct{} // holds one signal: the queue has something
	quit chan struct{}
	once sync.Once

	mu      sync.Mutex
	ch      Channel
	queue   []health.Event
	sending bool
	st      health.ChannelStatus
	// warned: the failure of the current run of failures was logged (and
	// droppedWarned: a give-up in it), so that a channel that stays down
	// is logged once.
	warned, droppedWarned bool
}

func newWorker(d *Dispatcher, c Channel) *worker {
	return &worker{
		d: d, ch: c, wake: make(chan struct{}, 1), quit: make(chan struct{}),
		st: health.ChannelStatus{Name: c.Name, Kind: c.Kind},
	}
}

func (w *worker) name() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch.Name
}

func (w *worker) filter() Filter {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch.Filter
}

func (w *worker) set(c Channel) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ch = c
	w.st.Name, w.st.Kind = c.Name, c.Kind
}

func (w *worker) stop() { w.once.Do(func() { close(w.quit) }) }

// push queues ev without blocking: a full queue gives up its oldest.
func (w *worker) push(ev health.Event) {
	w.mu.Lock()
	if len(w.queue) >= w.d.retry.Queue {
		w.queue = w.queue[1:]
		w.dropped("the queue was full", nil)
	}
	w.queue = append(w.queue, ev)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// next waits for a notification; false when the worker must end.
func (w *worker) next(ctx context.Context) (health.Event, bool) {
	for {
		w.mu.Lock()
		if len(w.queue) > 0 {
			ev := w.queue[0]
			w.queue = w.queue[1:]
			w.sending = true
			w.mu.Unlock()
			return ev, true
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return health.Event{}, false
		case <-w.quit:
			return health.Event{}, false
		case <-w.wake:
		}
	}
}

// run delivers until ctx ends or the worker is stopped.
func (w *worker) run(ctx context.Context) {
	r := w.d.retry
	for {
		ev, ok := w.next(ctx)
		if !ok {
			return
		}
		wait := r.First
		for attempt := 1; ; attempt++ {
			w.mu.Lock()
			s := w.ch.Sender
			w.mu.Unlock()
			actx, cancel := context.WithTimeout(ctx, r.Timeout)
			err := s.Send(actx, ev)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err == nil {
				w.sent()
				break
			}
			w.failed(err, attempt)
			if attempt >= r.Attempts {
				w.mu.Lock()
				w.dropped(fmt.Sprintf("%d attempts failed", attempt), err)
				w.sending = false
				w.mu.Unlock()
				break
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-w.quit:
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(wait*2, r.Max)
		}
	}
}

func (w *worker) sent() {
	w.mu.Lock()
	wasFailing, name, kind := w.st.Failing, w.ch.Name, w.ch.Kind
	w.st.Failing, w.st.Error, w.st.Since = false, "", time.Time{}
	w.st.Sent++
	w.st.LastSent = time.Now()
	w.sending, w.warned, w.droppedWarned = false, false, false
	w.mu.Unlock()
	if wasFailing {
		w.d.log.Info("alert channel works again", "channel", name, "kind", kind)
	}
	if o := w.d.o.Observer; o != nil {
		o.ChannelSent(name)
		o.ChannelUp(name, true)
	}
}

func (w *worker) failed(err error, attempt int) {
	w.mu.Lock()
	name, kind := w.ch.Name, w.ch.Kind
	if !w.st.Failing {
		w.st.Failing, w.st.Since = true, time.Now()
	}
	w.st.Error = err.Error()
	first := !w.warned
	w.warned = true
	w.mu.Unlock()
	if first {
		w.d.log.Warn("alert channel failing; retrying with backoff", "channel", name, "kind", kind, "err", err)
	} else {
		w.d.log.Debug("alert channel still failing", "channel", name, "attempt", attempt, "err", err)
	}
	if o := w.d.o.Observer; o != nil {
		o.ChannelFailed(name)
		o.ChannelUp(name, false)
	}
}

// dropped counts a notification given up. w.mu is held.
func (w *worker) dropped(why string, err error) {
	w.st.Dropped++
	args := []any{"channel", w.ch.Name, "why", why}
	if err != nil {
		args = append(args, "err", err)
	}
	if !w.droppedWarned {
		w.droppedWarned = true
		w.d.log.Warn("alert channel: notification given up", args...)
	} else {
		w.d.log.Debug("alert channel: notification given up", args...)
	}
	if o := w.d.o.Observer; o != nil {
		o.ChannelDropped(w.ch.Name)
	}
}

func (w *worker) status() health.ChannelStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.st
	st.Queued = len(w.queue)
	if w.sending {
		st.Queued++
	}
	return st
}
