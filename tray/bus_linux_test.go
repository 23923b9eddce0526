package tray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"smtpwatch/monitor/health"
)

func TestDesktopWithoutABus(t *testing.T) {
	if _, err := os.Stat(fmt.Sprintf("/run/user/%d/bus", os.Getuid())); err == nil {
		t.Skip("this machine has a per-user bus socket: an unset address finds it")
	}
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	os.Unsetenv("DBUS_SESSION_BUS_ADDRESS")
	_, err := desktop(t.Context())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("desktop() = %v, want ErrUnavailable", err)
	}
	// Nothing in this process may launch a bus of its own now.
	if got := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); got != "disabled:" {
		t.Errorf("DBUS_SESSION_BUS_ADDRESS=%q, want disabled:", got)
	}
	if _, err := desktop(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("second desktop() = %v", err)
	}
}

func TestDesktopWithABusThatDoesNotAnswer(t *testing.T) {
	dir, err := os.MkdirTemp("", "swmute")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "bus")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accept, then say nothing
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+sock)
	start := time.Now()
	_, err = desktop(t.Context())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("desktop() = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > busTimeout+time.Second {
		t.Errorf("took %v, want about %v", d, busTimeout)
	}
}

func TestDesktopWithABus(t *testing.T) {
	addr := startBus(t)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", addr)
	got, err := desktop(t.Context())
	if err != nil || got != addr {
		t.Fatalf("desktop() = %q, %v; want %q", got, err, addr)
	}
}

func TestDBusNotifier(t *testing.T) {
	addr := startBus(t)
	server := startNotifications(t, addr, nil, "body", "body-markup")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	state := t.TempDir()
	n := newDBusNotifier(ctx, addr, newIconFiles(state), slog.New(slog.DiscardHandler))
	defer n.Close()

	failing := notification{Title: "Mail from Charter can't be sent", Body: "The server said 550 <me@x> & more.", Icon: health.Failing, Key: "account:charter", Urgency: urgencyNormal}
	if err := n.Notify(ctx, failing); err != nil {
		t.Fatal(err)
	}
	// The connection drops (a bus restart): the next one dials again.
	n.conn.Close()
	back := notification{Title: "Mail from Charter works again", Body: "Sending has worked since 14:05.", Icon: health.OK, Key: "account:charter", Urgency: urgencyLow}
	if err := n.Notify(ctx, back); err != nil {
		t.Fatalf("after the connection dropped: %v", err)
	}
	other := notification{Title: "This computer is offline", Icon: health.Offline, Key: "offline"}
	if err := n.Notify(ctx, other); err != nil {
		t.Fatal(err)
	}

	calls := server.recorded()
	if len(calls) != 3 {
		t.Fatalf("calls %+v", calls)
	}
	if c := calls[0]; c.app != "smtpwatch" || c.summary != failing.Title || c.body != "The server said 550 &lt;me@x&gt; &amp; more." || c.replaces != 0 {
		t.Errorf("first call: %+v", c)
	}
	wantIcon := filepath.Join(state, "icons", "smtpwatch-failing.png")
	if c := calls[0]; c.icon != wantIcon || c.hints["image-path"].Value() != wantIcon {
		t.Errorf("icon %q, image-path %v, want %s", c.icon, c.hints["image-path"], wantIcon)
	}
	if c := calls[1]; c.replaces != calls[0].id || c.hints["urgency"].Value() != byte(urgencyLow) {
		t.Errorf("the recovery does not replace the failure: %+v", c)
	}
	if c := calls[2]; c.replaces != 0 {
		t.Errorf("another key replaced %d", c.replaces)
	}
}

func TestDBusNotifierWithoutAServer(t *testing.T) {
	addr := startBus(t) // activates nothing: no notification server at all
	n := newDBusNotifier(t.Context(), addr, newIconFiles(""), slog.New(slog.DiscardHandler))
	defer n.Close()
	err := n.Notify(t.Context(), notification{Title: "t", Key: "k"})
	if err == nil {
		t.Fatal("Notify without a notification server succeeded")
	}
}

func TestRegistered(t *testing.T) {
	for _, tc := range []struct {
		items []string
		want  bool
	}{
		{nil, false},
		{[]string{":1.42/StatusNotifierItem"}, true},
		{[]string{":1.42"}, true},
		{[]string{":1.420/StatusNotifierItem"}, false},
		{[]string{"org.kde.StatusNotifierItem-7-1/StatusNotifierItem"}, true},
		{[]string{":1.7/StatusNotifierItem", ":1.42/StatusNotifierItem"}, true},
	} {
		if got := registered(tc.items, ":1.42", []string{"org.kde.StatusNotifierItem-7-1"}); got != tc.want {
			t.Errorf("registered(%q) = %v, want %v", tc.items, got, tc.want)
		}
	}
}
