package notify

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"smtpwatch/monitor/health"
)

// Sender delivers one notification through one channel. Send blocks until
// the receiver took it, failed, or ctx ended; its error is for people and
// holds no secret of the channel (no URL, token or key). ev is an
// EventNotification: ev.Notification is set.
type Sender interface {
	Send(ctx context.Context, ev health.Event) error
}

// Channel is one place notifications go besides the desktop: a [[notify]]
// table.
type Channel struct {
	Name string
	// Kind is the service, for status and logs ("ntfy", "webhook"...).
	Kind   string
	Filter Filter
	Sender Sender
}

// Observer counts deliveries; *metrics.Metrics satisfies it.
type Observer interface {
	// ChannelSent: a notification got through; ChannelFailed: an attempt
	// failed (it may be retried); ChannelDropped: a notification was given
	// up (attempts spent, or pushed out of a full queue).
	ChannelSent(channel string)
	ChannelFailed(channel string)
	ChannelDropped(channel string)
	// ChannelUp says whether the channel's last attempt got through.
	ChannelUp(channel string, up bool)
	// ChannelForget drops a channel a reload removed.
	ChannelForget(channel string)
}

// Retry is how a channel retries. Zero fields take the defaults.
type Retry struct {
	// Attempts per notification before it is given up; default 8.
	Attempts int
	// First is the wait after the first failed attempt, doubled after each
	// further one up to Max: defaults 2 s and 5 min, so the default 8
	// attempts span about 4 minutes (2+4+...+128 s of waits).
	First, Max time.Duration
	// Timeout bounds one attempt; default 20 s.
	Timeout time.Duration
	// Queue is how many notifications may wait per channel; when full, the
	// oldest is given up. Default 32.
	Queue int
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 8
	}
	if r.First <= 0 {
		r.First = 2 * time.Second
	}
	if r.Max <= 0 {
		r.Max = 5 * time.Minute
	}
	if r.Timeout <= 0 {
		r.Timeout = 20 * time.Second
	}
	if r.Queue <= 0 {
		r.Queue = 32
	}
	return r
}

// Options configure a Dispatcher.
type Options struct {
	// Status is the engine's snapshot (pauses, what still holds, days
	// left on a certificate); required. It must not block for long.
	Status func() health.Status
	// Announce hands each decision, as an EventNotification carrying every
	// account's words (the desktop's), to the daemon's event stream, where
	// the tray shows it. nil announces nothing.
	Announce func(health.Event)
	// Logger gets a line when a channel starts failing (once), when it
	// works again, and when a notification is given up. nil discards.
	Logger   *slog.Logger
	Observer Observer // nil counts nothing
	Retry    Retry
	// Loc is the time zone of times in the texts; nil means local.
	Loc *time.Location
	// Coalesce is how long the first announcement waits for others to
	// join it; 0 means CoalesceWindow.
	Coalesce time.Duration
}

// Dispatcher decides, once, what to tell people about the engine's events
// (the Policy), and hands each decision to the event stream and to every
// channel. Each channel has a goroutine and a queue of its own, so a slow
// or failing channel delays neither the checks (the engine publishes
// without waiting) nor the other channels; a failed delivery is retried
// with backoff (Retry), logged once, and shown by Channels until one gets
// through. Its methods are safe for concurrent use.
type Dispatcher struct {
	o      Options
	log    *slog.Logger
	retry  Retry
	policy *Policy // Run's goroutine only

	mu       sync.Mutex
	nextID   uint64
	workers  map[string]*worker // by lower-case name
	order    []string
	standing map[string]said // by lower-case account: what the stream last said that may still hold
	ctx      context.Context // Run's; nil before Run
	wg       sync.WaitGroup
}

// said is an announcement the event stream made, and the notification
// that made it.
type said struct {
	item Item
	id   uint64
}

// New makes a dispatcher for the channels; Run starts it.
func New(o Options, channels []Channel) *Dispatcher {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	d := &Dispatcher{
		o: o, log: o.Logger, retry: o.Retry.withDefaults(), policy: NewPolicy(),
		nextID:  binary.BigEndian.Uint64(seed[:]) >> 12, // room to count up; never 0 in practice
		workers: map[string]*worker{}, standing: map[string]said{},
	}
	d.policy.Loc = o.Loc
	if o.Coalesce > 0 {
		d.policy.Coalesce = o.Coalesce
	}
	d.SetChannels(channels)
	return d
}

// Run decides on the events until ctx ends or events is closed, then
// stops the channels (a notification waiting or being retried is given
// up) and returns once their goroutines are gone.
func (d *Dispatcher) Run(ctx context.Context, events <-chan health.Event) error {
	ctx, cancel := context.WithCancel(ctx)
	d.mu.Lock()
	d.ctx = ctx
	for _, key := range d.order {
		d.start(d.workers[key])
	}
	d.mu.Unlock()
	defer func() {
		cancel()
		d.wg.Wait()
	}()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	arm := func() {
		next := d.policy.Next()
		if next.IsZero() {
			timer.Stop()
			return
		}
		timer.Reset(max(time.Until(next), 0))
	}
	d.policy.CatchUp(d.o.Status(), time.Now())
	arm()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-events:
			if !ok {
				return nil
			}
			d.policy.Observe(e, time.Now())
			arm()
		case <-timer.C:
			d.flush(time.Now())
			arm()
		}
	}
}

// flush hands what the policy says now to the stream and the channels.
func (d *Dispatcher) flush(now time.Time) {
	b := d.policy.Flush(now, d.o.Status())
	if b.Empty() {
		return
	}
	notes := b.Compose(All)
	d.mu.Lock()
	for i := range notes {
		notes[i].ID = d.id()
		for _, e := range notes[i].Events {
			d.remember(b, e, notes[i].ID)
		}
	}
	workers := make([]*worker, 0, len(d.order))
	for _, key := range d.order {
		workers = append(workers, d.workers[key])
	}
	d.mu.Unlock()
	for _, n := range notes {
		d.log.Info("notification", "title", n.Title, "topic", n.Topic)
		if d.o.Announce != nil {
			d.o.Announce(Event(n, now))
		}
	}
	for _, w := range workers {
		for _, n := range b.Compose(w.filter()) {
			d.mu.Lock()
			n.ID = d.id()
			d.mu.Unlock()
			w.push(Event(n, now))
		}
	}
}

// id is a new notification ID. d.mu is held.
func (d *Dispatcher) id() uint64 {
	d.nextID++
	return d.nextID
}

// remember notes what the stream said of e's account. d.mu is held.
func (d *Dispatcher) remember(b Batch, e health.Event, id uint64) {
	if e.Account == "" {
		return
	}
	key := strings.ToLower(e.Account)
	for _, it := range b.Items {
		if !strings.EqualFold(it.Event.Account, e.Account) {
			continue
		}
		if it.kind == kindRecovered {
			delete(d.standing, key)
		} else {
			d.standing[key] = said{it, id}
		}
	}
}

// Event is the EventNotification that carries n, made at now: the
// object the event stream and webhooks carry. A notification about one
// account carries that account's event fields at the top too.
func Event(n health.Notification, now time.Time) health.Event {
	ev := health.Event{Kind: health.EventNotification, At: now, Notification: &n}
	if len(n.Events) == 1 {
		e := n.Events[0]
		ev.Account, ev.Provider, ev.From, ev.To, ev.Cause = e.Account, e.Provider, e.From, e.To, e.Cause
		ev.Message, ev.Advice = e.Message, e.Advice
	}
	return ev
}

// Standing is what the event stream said that still holds in st (an
// account still failing, offline or with its certificate expiring), as
// notifications marked Replay whose Covers name what they repeat: a
// subscriber that comes late (the tray client at login, beside a daemon
// that runs since boot) hears it once. Empty when nothing stands.
func (d *Dispatcher) Standing(st health.Status) []health.Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	var items []Item
	ids := map[string]uint64{}
	keys := make([]string, 0, len(d.standing))
	for k := range d.standing {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s := d.standing[k]
		if stillHolds(s.item, st) {
			items = append(items, s.item)
			ids[k] = s.id
		}
	}
	if len(items) == 0 {
		return nil
	}
	now := time.Now()
	var out []health.Event
	for _, n := range (Batch{Items: items, At: now, Status: st, Loc: d.o.Loc}).Compose(All) {
		n.ID, n.Replay = d.id(), true
		for _, e := range n.Events {
			if id, ok := ids[strings.ToLower(e.Account)]; ok && !slices.Contains(n.Covers, id) {
				n.Covers = append(n.Covers, id)
			}
		}
		out = append(out, Event(n, now))
	}
	return out
}

// SetChannels replaces the channels, as a config reload does: a channel
// whose name stays keeps its queue and its counts and takes the new
// settings; a channel no longer named is stopped (what waits in it is
// given up); a new one starts.
func (d *Dispatcher) SetChannels(channels []Channel) {
	d.mu.Lock()
	defer d.mu.Unlock()
	keep := map[string]bool{}
	var order []string
	for _, c := range channels {
		key := strings.ToLower(c.Name)
		if keep[key] {
			continue
		}
		keep[key] = true
		order = append(order, key)
		if w, ok := d.workers[key]; ok {
			w.set(c)
			continue
		}
		w := newWorker(d, c)
		d.workers[key] = w
		if d.o.Observer != nil {
			d.o.Observer.ChannelUp(c.Name, true) // no failure known yet
		}
		if d.ctx != nil {
			d.start(w)
		}
	}
	for key, w := range d.workers {
		if !keep[key] {
			w.stop()
			delete(d.workers, key)
			if d.o.Observer != nil {
				d.o.Observer.ChannelForget(w.name())
			}
		}
	}
	d.order = order
}

// start runs w until Run's context ends or w is stopped. d.mu is held.
func (d *Dispatcher) start(w *worker) {
	ctx := d.ctx
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		w.run(ctx)
	}()
}

// Channels is every channel's state, in config order.
func (d *Dispatcher) Channels() []health.ChannelStatus {
	d.mu.Lock()
	ws := make([]*worker, 0, len(d.order))
	for _, key := range d.order {
		ws = append(ws, d.workers[key])
	}
	d.mu.Unlock()
	out := make([]health.ChannelStatus, 0, len(ws))
	for _, w := range ws {
		out = append(out, w.status())
	}
	return out
}
