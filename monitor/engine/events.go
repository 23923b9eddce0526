package engine

import (
	"context"
	"sync"

	"smtpwatch/monitor/health"
)

// subscriberBuffer is how far a subscriber may fall behind before it loses
// the oldest events.
const subscriberBuffer = 64

type broadcaster struct {
	mu     sync.Mutex
	subs   map[chan health.Event]struct{}
	closed bool
}

func newBroadcaster() *broadcaster { return &broadcaster{subs: map[chan health.Event]struct{}{}} }

func (b *broadcaster) subscribe(ctx context.Context) <-chan health.Event {
	ch := make(chan health.Event, subscriberBuffer)
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		close(ch)
		return ch
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	context.AfterFunc(ctx, func() { b.drop(ch) })
	return ch
}

func (b *broadcaster) drop(ch chan health.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.subs[ch]; ok {
		delete(b.subs, ch)
		close(ch)
	}
}

// publish never blocks: a full subscriber loses its oldest event.
func (b *broadcaster) publish(e health.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		for {
			select {
			case ch <- e:
			default:
				select {
				case <-ch:
				default:
				}
				continue
			}
			break
		}
	}
}

func (b *broadcaster) closeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for ch := range b.subs {
		delete(b.subs, ch)
		close(ch)
	}
}
