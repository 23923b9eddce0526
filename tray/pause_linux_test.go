package tray

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/smtptest"
)

// menuEntry is one entry of the item's com.canonical.dbusmenu layout.
type menuEntry struct {
	ID       int32
	Label    string
	Visible  bool
	Children []menuEntry
}

// menuLayout reads the whole menu through com.canonical.dbusmenu.GetLayout.
func menuLayout(conn *dbus.Conn, dest string) ([]menuEntry, error) {
	type node struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	var revision uint32
	var root node
	menu := conn.Object(dest, "/StatusNotifierItem/menu")
	if err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&revision, &root); err != nil {
		return nil, err
	}
	var walk func([]dbus.Variant) ([]menuEntry, error)
	walk = func(vs []dbus.Variant) ([]menuEntry, error) {
		var out []menuEntry
		for _, v := range vs {
			var n node
			if err := dbus.Store([]any{v.Value()}, &n); err != nil {
				return nil, err
			}
			e := menuEntry{ID: n.ID, Visible: true}
			e.Label, _ = n.Props["label"].Value().(string)
			if vis, ok := n.Props["visible"].Value().(bool); ok {
				e.Visible = vis
			}
			kids, err := walk(n.Children)
			if err != nil {
				return nil, err
			}
			e.Children = kids
			out = append(out, e)
		}
		return out, nil
	}
	return walk(root.Children)
}

// find is the first entry whose label has the prefix, at any depth.
func find(entries []menuEntry, prefix string) (menuEntry, bool) {
	for _, e := range entries {
		if strings.HasPrefix(e.Label, prefix) {
			return e, true
		}
		if c, ok := find(e.Children, prefix); ok {
			return c, true
		}
	}
	return menuEntry{}, false
}

// pauseMenu is what the pause entries show: the submenu's label, and
// whether "Resume checks" is visible.
func pauseMenu(conn *dbus.Conn, dest string) (string, bool, []menuEntry, error) {
	entries, err := menuLayout(conn, dest)
	if err != nil {
		return "", false, nil, err
	}
	var label string
	for _, e := range entries {
		if len(e.Children) > 0 && e.Visible {
			label = e.Label // the only submenu is the pause one
		}
	}
	resume, ok := find(entries, resumeLabel)
	if !ok {
		return "", false, nil, fmt.Errorf("no %q entry", resumeLabel)
	}
	return label, resume.Visible, entries, nil
}

// TestTrayPauseFollowsTheDaemon runs `smtpwatch run` with its tray on a
// private session bus and pauses and resumes its checks in turn from a
// terminal (`smtpwatch pause`, `smtpwatch resume`, real processes) and
// from the tray's menu (com.canonical.dbusmenu.Event): the menu shows what
// the daemon's status says, whoever paused, and names what it pauses —
// checks, not only notifications.
func TestTrayPauseFollowsTheDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs smtpwatch")
	}
	addr := startBus(t)
	watcher := startWatcher(t, addr)
	startNotifications(t, addr, watcher)
	watcher.acquire(t)
	me := connect(t, addr)

	ca := smtptest.NewCA(t, "smtpwatch test CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{testUser: testPassword}})
	d := runTrayDaemon(t, addr, ca, srv.Addr, `interval = "1m"
auth_interval = "1h"
`)
	log, socket, env := d.log, d.socket, d.env
	client := api.NewClient(socket)
	defer client.Close()
	status := func() (health.Status, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		return client.Status(ctx)
	}
	eventually(t, 20*time.Second, log, "the daemon checked the account", func() (bool, string) {
		st, err := status()
		if err != nil {
			return false, err.Error()
		}
		return st.State == health.OK, string(st.State)
	})
	var sender string
	eventually(t, 20*time.Second, log, "the item registers with the tray host", func() (bool, string) {
		regs := watcher.registrations()
		if len(regs) == 0 {
			return false, "no registration"
		}
		sender = regs[0].sender
		return true, ""
	})
	// menuIs waits until the pause submenu has the label (a prefix) and
	// "Resume checks" is shown or hidden as wanted.
	menuIs := func(what, label string, resume bool) []menuEntry {
		t.Helper()
		var entries []menuEntry
		eventually(t, 15*time.Second, log, what, func() (bool, string) {
			l, r, es, err := pauseMenu(me, sender)
			if err != nil {
				return false, err.Error()
			}
			entries = es
			return strings.HasPrefix(l, label) && r == resume, fmt.Sprintf("pause submenu %q, %q shown: %v", l, resumeLabel, r)
		})
		return entries
	}
	cli := func(args ...string) {
		t.Helper()
		c := exec.Command(smtpwatchBinary(t), append(args, "--socket", socket)...)
		c.Env = env
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("smtpwatch %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	click := func(id int32) {
		t.Helper()
		if err := me.Object(sender, "/StatusNotifierItem/menu").Call("com.canonical.dbusmenu.Event", 0,
			id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
			t.Fatal(err)
		}
	}

	entries := menuIs("the pause submenu while checks run", "Pause checks", false)
	sub, _ := find(entries, "Pause checks")
	var labels []string
	for _, c := range sub.Children {
		labels = append(labels, c.Label)
	}
	if strings.Join(labels, "|") != "1 hour|Until tomorrow" {
		t.Errorf("the pause submenu holds %q", labels)
	}

	// 1. From a terminal: the tray follows.
	cli("pause")
	menuIs("the menu after `smtpwatch pause`", "Checks paused", true)
	cli("resume")
	menuIs("the menu after `smtpwatch resume`", "Pause checks", false)

	// 2. From the menu: the daemon pauses its checks, and a resume from a
	// terminal shows in the menu.
	hour, ok := find(entries, "1 hour")
	if !ok {
		t.Fatal("no \"1 hour\" entry")
	}
	clickedAt := time.Now()
	click(hour.ID)
	eventually(t, 10*time.Second, log, "the daemon paused by the menu", func() (bool, string) {
		st, err := status()
		if err != nil {
			return false, err.Error()
		}
		return st.State == health.Paused && len(st.Accounts) == 1, string(st.State)
	})
	st, _ := status()
	if until := st.Accounts[0].PausedUntil; until.Before(clickedAt.Add(time.Hour-time.Minute)) || until.After(time.Now().Add(time.Hour+time.Minute)) {
		t.Errorf("paused until %v, want an hour after %v", until, clickedAt)
	}
	menuIs("the menu after pausing from it", "Checks paused until ", true)
	cli("resume")
	menuIs("the menu after `smtpwatch resume`", "Pause checks", false)

	// 3. "Resume checks" from the menu resumes the daemon.
	cli("pause", "2h")
	entries = menuIs("the menu after `smtpwatch pause 2h`", "Checks paused until ", true)
	resume, _ := find(entries, resumeLabel)
	click(resume.ID)
	eventually(t, 10*time.Second, log, "the daemon resumed by the menu", func() (bool, string) {
		st, err := status()
		if err != nil {
			return false, err.Error()
		}
		return st.State != health.Paused, string(st.State)
	})
	menuIs("the menu after resuming from it", "Pause checks", false)
	if t.Failed() {
		t.Logf("smtpwatch log:\n%s", log.String())
	}
}
