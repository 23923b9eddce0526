package tray

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/human"
)

// busTimeout bounds connecting to the session bus and every call on it.
const busTimeout = 3 * time.Second

const (
	watcherName = "org.kde.StatusNotifierWatcher"
	watcherPath = dbus.ObjectPath("/StatusNotifierWatcher")
	itemPath    = dbus.ObjectPath("/StatusNotifierItem")
	itemIface   = "org.kde.StatusNotifierItem"
	notifyName  = "org.freedesktop.Notifications"
	notifyPath  = dbus.ObjectPath("/org/freedesktop/Notifications")
	notifyIface = "org.freedesktop.Notifications"
)

// desktop checks, before fyne.io/systray touches D-Bus, that there is a
// session bus to put the tray on, with a private connection bounded by
// busTimeout. It returns the bus address, or ErrUnavailable wrapped with
// the reason.
func desktop(ctx context.Context) (string, error) {
	addr, ok := credential.SessionBus()
	if !ok {
		return "", fmt.Errorf("%w: no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)", ErrUnavailable)
	}
	conn, err := dialBus(ctx, addr)
	if err != nil {
		return "", fmt.Errorf("%w: D-Bus session bus %s: %v", ErrUnavailable, addr, err)
	}
	conn.Close()
	return addr, nil
}

// dialBus opens a private, authenticated connection to the bus at addr,
// within busTimeout. The connection closes when ctx ends.
func dialBus(ctx context.Context, addr string) (*dbus.Conn, error) {
	type result struct {
		conn *dbus.Conn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		conn, err := dbus.Dial(addr, dbus.WithContext(ctx))
		if err == nil {
			if err = conn.Auth(nil); err == nil {
				err = conn.Hello()
			}
			if err != nil {
				conn.Close()
				conn = nil
			}
		}
		ch <- result{conn, err}
	}()
	t := time.NewTimer(busTimeout)
	defer t.Stop()
	giveUp := func() {
		go func() { // the dial may still succeed: close what it makes
			if r := <-ch; r.conn != nil {
				r.conn.Close()
			}
		}()
	}
	select {
	case r := <-ch:
		return r.conn, r.err
	case <-t.C:
		giveUp()
		return nil, fmt.Errorf("no answer within %s", human.Duration(busTimeout))
	case <-ctx.Done():
		giveUp()
		return nil, ctx.Err()
	}
}

// dbusNotifier sends notifications over its own private connection to the
// session bus. Never over the shared one (dbus.SessionBus): the
// notification server's NotificationClosed signals would reach
// fyne.io/systray's watcher loop there, which quits on any signal with
// fewer than three arguments, and a restarted panel would then never get
// the icon back (RECIPES.md).
type dbusNotifier struct {
	ctx   context.Context // the connection's lifetime
	addr  string
	icons *iconFiles
	log   *slog.Logger

	conn   *dbus.Conn
	markup bool              // the server takes body markup: escape < & >
	ids    map[string]uint32 // by Notification.Key, to replace on screen
}

func newDBusNotifier(ctx context.Context, addr string, icons *iconFiles, log *slog.Logger) *dbusNotifier {
	return &dbusNotifier{ctx: ctx, addr: addr, icons: icons, log: log, ids: map[string]uint32{}}
}

// Notify calls org.freedesktop.Notifications.Notify. A lost connection is
// dialled again once.
func (n *dbusNotifier) Notify(ctx context.Context, note notification) error {
	icon, err := n.icons.path(note.Icon)
	if err != nil {
		n.log.Warn("notification without icon", "err", err)
	}
	for attempt := 0; ; attempt++ {
		if n.conn == nil {
			conn, err := dialBus(n.ctx, n.addr)
			if err != nil {
				return fmt.Errorf("notify: %w", err)
			}
			n.conn, n.markup = conn, false
			var caps []string
			cctx, cancel := context.WithTimeout(ctx, busTimeout)
			if err := conn.Object(notifyName, notifyPath).CallWithContext(cctx, notifyIface+".GetCapabilities", 0).Store(&caps); err == nil {
				for _, c := range caps {
					n.markup = n.markup || c == "body-markup"
				}
			}
			cancel()
		}
		id, err := n.send(ctx, note, icon)
		if err == nil {
			n.ids[note.Key] = id
			return nil
		}
		if n.conn.Connected() || attempt > 0 {
			return fmt.Errorf("notify: %w", err)
		}
		n.conn.Close()
		n.conn = nil
	}
}

func (n *dbusNotifier) send(ctx context.Context, note notification, icon string) (uint32, error) {
	hints := map[string]dbus.Variant{"urgency": dbus.MakeVariant(byte(note.Urgency))}
	if icon != "" {
		hints["image-path"] = dbus.MakeVariant(icon)
	}
	body := note.Body
	if n.markup {
		body = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(body)
	}
	ctx, cancel := context.WithTimeout(ctx, busTimeout)
	defer cancel()
	var id uint32
	err := n.conn.Object(notifyName, notifyPath).CallWithContext(ctx, notifyIface+".Notify", 0,
		"smtpwatch", n.ids[note.Key], icon, note.Title, body, []string{}, hints, int32(-1)).Store(&id)
	return id, err
}

// Close closes the connection.
func (n *dbusNotifier) Close() {
	if n.conn != nil {
		n.conn.Close()
		n.conn = nil
	}
}

// keepRegistered makes sure the tray host knows the item, whatever
// happened to fyne.io/systray's own re-registration: that loop shares the
// process's session bus connection and quits for good on the first signal
// with fewer than three arguments that reaches it (a NotificationClosed,
// go-keyring's prompt Completed...), after which a restarted panel would
// never show the icon again. keepRegistered watches the watcher's name on
// its own private connection; a second after the watcher (re)appears, and
// every poll, it asks the watcher whether the item is registered and
// registers it through the shared connection (the one the item is served
// on) if not. It returns when ctx ends.
func keepRegistered(ctx context.Context, addr string, poll time.Duration, log *slog.Logger) {
	conn, err := dialBus(ctx, addr)
	if err != nil {
		log.Warn("tray: cannot watch the tray host; a restarted panel may not show the icon", "err", err)
		return
	}
	defer conn.Close()
	if err := conn.AddMatchSignal(
		dbus.WithMatchSender("org.freedesktop.DBus"),
		dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, watcherName),
	); err != nil {
		log.Warn("tray: cannot watch the tray host; a restarted panel may not show the icon", "err", err)
		return
	}
	signals := make(chan *dbus.Signal, 8)
	conn.Signal(signals)
	tick := time.NewTicker(poll)
	defer tick.Stop()
	soon := time.NewTimer(time.Second)
	defer soon.Stop()
	fresh := false // the watcher is new since the last look
	for {
		select {
		case <-ctx.Done():
			return
		case s, ok := <-signals:
			if !ok {
				return
			}
			if len(s.Body) == 3 {
				if owner, _ := s.Body[2].(string); owner != "" {
					// Leave fyne.io/systray a second to register first.
					fresh = true
					soon.Reset(time.Second)
				}
			}
		case <-soon.C:
			ensureRegistered(ctx, conn, fresh, log)
			fresh = false
		case <-tick.C:
			ensureRegistered(ctx, conn, false, log)
		}
	}
}

// ensureRegistered registers the item with the watcher unless it is
// already, there is no watcher, or the item is not on the bus yet. A
// watcher that does not list its items is left alone unless it is new
// (fresh): registering twice may show two icons on some hosts.
func ensureRegistered(ctx context.Context, private *dbus.Conn, fresh bool, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, busTimeout)
	defer cancel()
	var owner string
	if err := private.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.GetNameOwner", 0, watcherName).Store(&owner); err != nil {
		return // no tray host yet: systray registers when one appears, and so do we
	}
	shared, err := dbus.SessionBus() // the resolved address is in the environment: no autolaunch
	if err != nil {
		return
	}
	names := shared.Names()
	if len(names) == 0 {
		return
	}
	unique := names[0]
	var id dbus.Variant
	if err := private.Object(unique, itemPath).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, itemIface, "Id").Store(&id); err != nil {
		return // the item is not exported yet
	}
	var items []string
	var v dbus.Variant
	if err := private.Object(watcherName, watcherPath).CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0,
		watcherName, "RegisteredStatusNotifierItems").Store(&v); err == nil {
		items, _ = v.Value().([]string)
	} else if !fresh {
		return
	}
	if registered(items, unique, names[1:]) {
		return
	}
	call := shared.Object(watcherName, watcherPath).CallWithContext(ctx, watcherName+".RegisterStatusNotifierItem", 0, string(itemPath))
	if call.Err != nil {
		log.Warn("tray: registering with the tray host", "err", call.Err)
		return
	}
	log.Info("tray: registered the icon with the tray host", "host", owner)
}

// registered reports whether the watcher's list holds the item of the
// connection with the given unique name (or one of its other names).
// Watchers list "SERVICE/PATH" or "SERVICE".
func registered(items []string, unique string, others []string) bool {
	names := append([]string{unique}, others...)
	for _, it := range items {
		for _, n := range names {
			if it == n || strings.HasPrefix(it, n+"/") {
				return true
			}
		}
	}
	return false
}
