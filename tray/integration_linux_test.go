package tray

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/png"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"

	"smtpwatch/icons"
	"smtpwatch/monitor/api"
	"smtpwatch/monitor/health"
	"smtpwatch/monitor/smtptest"
)

// The integration test runs `smtpwatch run` as a subprocess on a private
// session bus where the test plays the desktop: it owns the tray host's
// org.kde.StatusNotifierWatcher and the notification server, and reads
// what the tray item shows. See TestTrayOnASessionBus.

const (
	testUser     = "me@charter.net"
	testPassword = "correct horse"
)

func inCI() bool { return os.Getenv("CI") == "true" }

// needTool skips the test without the program, or fails it under CI=true
// (scripts/test installs it).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if inCI() {
			t.Fatalf("CI=true: %s not found (scripts/test installs package dbus)", name)
		}
		t.Skipf("%s not found; install package dbus", name)
	}
	return p
}

// startBus runs a private session dbus-daemon that activates nothing and
// returns its address; it is killed when the test ends.
func startBus(t *testing.T) string {
	t.Helper()
	daemon := needTool(t, "dbus-daemon")
	dir, err := os.MkdirTemp("", "swbus") // short: a socket path has 108 bytes at most
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	conf := filepath.Join(dir, "bus.conf")
	// No <servicedir>: nothing is activated, the test owns every name.
	err = os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=`+dir+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+conf, "--print-address", "--nofork")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- strings.TrimSpace(line)
		io.Copy(io.Discard, out)
	}()
	select {
	case addr := <-lines:
		if addr == "" {
			t.Fatalf("dbus-daemon printed no address: %s", stderr.String())
		}
		return addr
	case <-time.After(10 * time.Second):
		t.Fatalf("dbus-daemon gave no address within 10 s: %s", stderr.String())
	}
	return ""
}

func connect(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	conn, err := dialBus(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// registration is one RegisterStatusNotifierItem call.
type registration struct {
	sender string // the unique name of the item's connection
	entry  string // what the watcher lists: "SENDER/PATH"
}

// fakeWatcher is a tray host's org.kde.StatusNotifierWatcher.
type fakeWatcher struct {
	conn  *dbus.Conn
	props *prop.Properties

	mu    sync.Mutex
	items []string
	regs  []registration
}

func (w *fakeWatcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	svc, path := string(sender), service
	if !strings.HasPrefix(service, "/") {
		svc, path = service, string(itemPath)
	}
	entry := svc + path
	w.mu.Lock()
	w.regs = append(w.regs, registration{string(sender), entry})
	found := false
	for _, it := range w.items {
		found = found || it == entry
	}
	if !found {
		w.items = append(w.items, entry)
	}
	items := append([]string(nil), w.items...)
	w.mu.Unlock()
	w.props.SetMust(watcherName, "RegisteredStatusNotifierItems", items)
	w.conn.Emit(watcherPath, watcherName+".StatusNotifierItemRegistered", entry)
	return nil
}

func (w *fakeWatcher) RegisterStatusNotifierHost(dbus.Sender, string) *dbus.Error { return nil }

func (w *fakeWatcher) registrations() []registration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]registration(nil), w.regs...)
}

// restart is a tray host that goes away and comes back: the name is
// released, the list forgotten, the name taken again.
func (w *fakeWatcher) release(t *testing.T) {
	t.Helper()
	if _, err := w.conn.ReleaseName(watcherName); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.items = nil
	w.mu.Unlock()
	w.props.SetMust(watcherName, "RegisteredStatusNotifierItems", []string{})
}

func (w *fakeWatcher) acquire(t *testing.T) {
	t.Helper()
	reply, err := w.conn.RequestName(watcherName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s: %v %v", watcherName, reply, err)
	}
}

// startWatcher exports the watcher; it owns the name after acquire.
func startWatcher(t *testing.T, addr string) *fakeWatcher {
	t.Helper()
	w := &fakeWatcher{conn: connect(t, addr)}
	if err := w.conn.Export(w, watcherPath, watcherName); err != nil {
		t.Fatal(err)
	}
	var err error
	w.props, err = prop.Export(w.conn, watcherPath, map[string]map[string]*prop.Prop{watcherName: {
		"RegisteredStatusNotifierItems":  {Value: []string{}, Emit: prop.EmitTrue},
		"IsStatusNotifierHostRegistered": {Value: true, Emit: prop.EmitTrue},
		"ProtocolVersion":                {Value: int32(0), Emit: prop.EmitTrue},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// notifyCall is one Notify call as the notification server saw it.
type notifyCall struct {
	app, icon, summary, body string
	replaces, id             uint32
	hints                    map[string]dbus.Variant
}

// fakeNotifications is org.freedesktop.Notifications. After every Notify
// it sends NotificationClosed, as a real server does when the bubble
// times out — broadcast, and also straight to every registered tray item's
// connection, which is what stopped fyne.io/systray's re-registration loop
// when notifications shared its connection (RECIPES.md).
type fakeNotifications struct {
	conn    *dbus.Conn
	watcher *fakeWatcher // nil: no tray items to tell
	caps    []string     // nil: just "body"

	mu    sync.Mutex
	calls []notifyCall
	next  uint32
}

func (n *fakeNotifications) Notify(app string, replaces uint32, icon, summary, body string, actions []string, hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	n.mu.Lock()
	n.next++
	id := n.next
	if replaces != 0 {
		id = replaces
	}
	n.calls = append(n.calls, notifyCall{app: app, icon: icon, summary: summary, body: body, replaces: replaces, id: id, hints: hints})
	n.mu.Unlock()
	go n.closed(id)
	return id, nil
}

func (n *fakeNotifications) closed(id uint32) {
	n.conn.Emit(notifyPath, notifyIface+".NotificationClosed", id, uint32(1))
	if n.watcher == nil {
		return
	}
	for _, r := range n.watcher.registrations() {
		msg := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldPath:        dbus.MakeVariant(notifyPath),
			dbus.FieldInterface:   dbus.MakeVariant(notifyIface),
			dbus.FieldMember:      dbus.MakeVariant("NotificationClosed"),
			dbus.FieldDestination: dbus.MakeVariant(r.sender),
			dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf(id, uint32(1))),
		}, Body: []any{id, uint32(1)}}
		n.conn.Send(msg, nil)
	}
}

func (n *fakeNotifications) GetCapabilities() ([]string, *dbus.Error) {
	if n.caps != nil {
		return n.caps, nil
	}
	return []string{"body"}, nil
}

func (n *fakeNotifications) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "fake", "smtpwatch tests", "1", "1.2", nil
}

func (n *fakeNotifications) CloseNotification(uint32) *dbus.Error { return nil }

func (n *fakeNotifications) recorded() []notifyCall {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]notifyCall(nil), n.calls...)
}

func startNotifications(t *testing.T, addr string, w *fakeWatcher, caps ...string) *fakeNotifications {
	t.Helper()
	n := &fakeNotifications{conn: connect(t, addr), watcher: w, caps: caps}
	if err := n.conn.Export(n, notifyPath, notifyIface); err != nil {
		t.Fatal(err)
	}
	if reply, err := n.conn.RequestName(notifyName, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("owning %s: %v %v", notifyName, reply, err)
	}
	return n
}

// proxy forwards a fixed loopback port to the SMTP server; down closes the
// port (connections are refused), up opens it again.
type proxy struct {
	addr, target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{addr: "127.0.0.1:0", target: target, conns: map[net.Conn]struct{}{}}
	p.up(t)
	p.addr = p.ln.Addr().String()
	t.Cleanup(p.down)
	return p
}

func (p *proxy) up(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
}

func (p *proxy) serve(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[s] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(s, c); done <- struct{}{} }()
	go func() { io.Copy(c, s); done <- struct{}{} }()
	<-done
	c.Close()
	s.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binary != "" {
		os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(code)
}

// smtpwatchBinary builds ./cmd/smtpwatch once per test binary.
func smtpwatchBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "smtpwatch-tray-bin")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "smtpwatch")
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = "/usr/local/go/bin/go"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", binary, "../cmd/smtpwatch")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/smtpwatch: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// lockedBuffer collects the daemon's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// eventually polls cond every 50 ms until it holds or timeout passes; then
// it fails the test with cond's last word and the daemon's log.
func eventually(t *testing.T, timeout time.Duration, log *lockedBuffer, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, detail := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last: %s\n--- smtpwatch log:\n%s", what, timeout, detail, log.String())
		}
		<-tick.C
	}
}

type pixmap struct {
	W, H int32
	Pix  []byte
}

// expectedPixmap is the state's icon as fyne.io/systray sends it: the PNG
// decoded and written as ARGB bytes, row by row.
func expectedPixmap(t *testing.T, state string) pixmap {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(icons.PNG(state)))
	if err != nil {
		t.Fatal(err)
	}
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	pix := make([]byte, 0, w*h*4)
	for y := range h {
		for x := range w {
			r, g, b, a := img.At(img.Bounds().Min.X+x, img.Bounds().Min.Y+y).RGBA()
			pix = append(pix, byte(a), byte(r), byte(g), byte(b))
		}
	}
	return pixmap{int32(w), int32(h), pix}
}

// item reads the tray item's properties.
type item struct {
	obj dbus.BusObject
}

func (it item) icon() (pixmap, error) {
	v, err := it.obj.GetProperty(itemIface + ".IconPixmap")
	if err != nil {
		return pixmap{}, err
	}
	var ps []pixmap
	if err := dbus.Store([]any{v.Value()}, &ps); err != nil {
		return pixmap{}, err
	}
	if len(ps) != 1 {
		return pixmap{}, fmt.Errorf("%d pixmaps", len(ps))
	}
	return ps[0], nil
}

func (it item) tooltip() (string, error) {
	v, err := it.obj.GetProperty(itemIface + ".ToolTip")
	if err != nil {
		return "", err
	}
	var tip struct {
		Name  string
		Icons []pixmap
		Title string
		Body  string
	}
	if err := dbus.Store([]any{v.Value()}, &tip); err != nil {
		return "", err
	}
	return tip.Title, nil
}

func samePixmap(got, want pixmap) (bool, string) {
	if got.W != want.W || got.H != want.H {
		return false, fmt.Sprintf("%dx%d icon, want %dx%d", got.W, got.H, want.W, want.H)
	}
	if !bytes.Equal(got.Pix, want.Pix) {
		return false, "same size, other pixels"
	}
	return true, ""
}

// menuItemID finds a top-level menu entry by label through
// com.canonical.dbusmenu.GetLayout.
func menuItemID(conn *dbus.Conn, dest, label string) (int32, error) {
	var revision uint32
	var layout struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	menu := conn.Object(dest, "/StatusNotifierItem/menu")
	if err := menu.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&revision, &layout); err != nil {
		return 0, err
	}
	var labels []string
	for _, c := range layout.Children {
		var child struct {
			ID       int32
			Props    map[string]dbus.Variant
			Children []dbus.Variant
		}
		if err := dbus.Store([]any{c.Value()}, &child); err != nil {
			return 0, err
		}
		l, _ := child.Props["label"].Value().(string)
		if l == label {
			return child.ID, nil
		}
		labels = append(labels, l)
	}
	return 0, fmt.Errorf("no %q in the menu %q", label, labels)
}

// TestTrayOnASessionBus runs `smtpwatch run` on a private session bus
// against a loopback SMTP server behind a proxy the test opens and closes,
// and checks what a desktop would show:
//   - the daemon starts before there is a tray host; when one appears, the
//     item registers with it, showing the ok icon;
//   - the server goes down: the failing icon, a tooltip naming the account
//     and the cause, a notification with the daemon's own words;
//   - the server comes back: a recovery notification replacing it;
//   - "Check now" through com.canonical.dbusmenu.Event makes a check that
//     logs in (the periodic ones do not, with auth_interval = "1h");
//   - the tray host restarts — after notification servers' NotificationClosed
//     signals reached the item's connection — and the item registers again;
//   - "Quit" from the menu stops the daemon cleanly.
func TestTrayOnASessionBus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs smtpwatch")
	}
	addr := startBus(t)
	watcher := startWatcher(t, addr)
	notes := startNotifications(t, addr, watcher)
	me := connect(t, addr)

	ca := smtptest.NewCA(t, "smtpwatch test CA", "smtpwatch tests")
	cert := ca.Issue(t, smtptest.Leaf{})
	srv := smtptest.Start(t, smtptest.Options{Cert: &cert, Users: map[string]string{testUser: testPassword}})
	px := startProxy(t, srv.Addr)
	d := runTrayDaemon(t, addr, ca, px.addr, `interval = "2s"
auth_interval = "1h"
failure_threshold = 0
success_threshold = 1
`)
	log, state, exited, socket := d.log, d.state, d.exited, d.socket
	client := api.NewClient(socket)
	defer client.Close()

	// 1. No tray host yet: the daemon runs. Then one appears, and the item
	// registers and shows the ok icon.
	eventually(t, 20*time.Second, log, "the daemon's API", func() (bool, string) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		st, err := client.Status(ctx)
		if err != nil {
			return false, err.Error()
		}
		return st.State == health.OK, string(st.State)
	})
	if regs := watcher.registrations(); len(regs) != 0 {
		t.Fatalf("registered without a tray host: %+v", regs)
	}
	watcher.acquire(t)
	var sender string
	eventually(t, 20*time.Second, log, "the item registers with the tray host", func() (bool, string) {
		regs := watcher.registrations()
		if len(regs) == 0 {
			return false, "no registration"
		}
		sender = regs[0].sender
		return true, ""
	})
	it := item{me.Object(sender, itemPath)}
	okIcon, failingIcon := expectedPixmap(t, "ok"), expectedPixmap(t, "failing")
	if same, _ := samePixmap(okIcon, failingIcon); same {
		t.Fatal("the ok and failing icons are the same")
	}
	eventually(t, 20*time.Second, log, "the ok icon", func() (bool, string) {
		got, err := it.icon()
		if err != nil {
			return false, err.Error()
		}
		return samePixmap(got, okIcon)
	})
	if tip, err := it.tooltip(); err != nil || !strings.HasPrefix(tip, "smtpwatch — sending works\nCharter: OK") {
		t.Errorf("tooltip %q, %v", tip, err)
	}
	if n := notes.recorded(); len(n) != 0 {
		t.Errorf("notified at a start where all is well: %+v", n)
	}

	// The daemon's own events, to compare the notifications with.
	events, err := client.Events(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	firstFailure := make(chan health.Event, 1)
	go func() {
		for e := range events {
			if e.To == health.Failing {
				select {
				case firstFailure <- e:
				default:
				}
			}
		}
	}()

	// 2. The server goes away.
	px.down()
	eventually(t, 20*time.Second, log, "the failing icon", func() (bool, string) {
		got, err := it.icon()
		if err != nil {
			return false, err.Error()
		}
		return samePixmap(got, failingIcon)
	})
	eventually(t, 10*time.Second, log, "the tooltip names the account and the cause", func() (bool, string) {
		tip, err := it.tooltip()
		if err != nil {
			return false, err.Error()
		}
		return strings.HasPrefix(tip, "smtpwatch — sending would fail\nCharter: connection refused"), tip
	})
	var failure health.Event
	select {
	case failure = <-firstFailure:
	case <-time.After(10 * time.Second):
		t.Fatal("no failing event from the daemon's API")
	}
	if len(failure.Advice) == 0 {
		t.Fatalf("failing event without advice: %+v", failure)
	}
	wantBody := failure.Message + " " + failure.Advice[0]
	var failed notifyCall
	eventually(t, 10*time.Second, log, "a notification that sending fails", func() (bool, string) {
		calls := notes.recorded()
		if len(calls) == 0 {
			return false, "none"
		}
		failed = calls[0]
		return true, ""
	})
	if failed.app != "smtpwatch" || failed.summary != "Mail from Charter can't be sent" || failed.body != wantBody {
		t.Errorf("notification %q %q\n%q\nwant summary %q body\n%q", failed.app, failed.summary, failed.body, "Mail from Charter can't be sent", wantBody)
	}
	if u, _ := failed.hints["urgency"].Value().(byte); u != byte(urgencyNormal) {
		t.Errorf("urgency %v", failed.hints["urgency"])
	}
	if p, _ := failed.hints["image-path"].Value().(string); p != failed.icon || !strings.HasPrefix(p, state) {
		t.Errorf("icon %q, image-path %q, want a file in %s", failed.icon, p, state)
	} else if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, icons.PNG("failing")) {
		t.Errorf("icon file %s is not the failing icon (%v)", p, err)
	}

	// 3. It comes back.
	px.up(t)
	eventually(t, 20*time.Second, log, "a recovery notification", func() (bool, string) {
		calls := notes.recorded()
		return len(calls) >= 2, fmt.Sprintf("%d notifications", len(calls))
	})
	calls := notes.recorded()
	if len(calls) != 2 {
		t.Errorf("notifications: %+v", calls)
	}
	back := calls[1]
	if back.summary != "Mail from Charter works again" || !strings.HasPrefix(back.body, "Sending has worked since ") {
		t.Errorf("recovery notification %q %q", back.summary, back.body)
	}
	if back.replaces != failed.id {
		t.Errorf("the recovery replaces notification %d, want %d", back.replaces, failed.id)
	}
	if u, _ := back.hints["urgency"].Value().(byte); u != byte(urgencyLow) {
		t.Errorf("recovery urgency %v", back.hints["urgency"])
	}
	eventually(t, 10*time.Second, log, "the ok icon again", func() (bool, string) {
		got, err := it.icon()
		if err != nil {
			return false, err.Error()
		}
		return samePixmap(got, okIcon)
	})

	// 4. "Check now" from the menu logs in; the periodic checks do not.
	logins := srv.AuthAttempts.Load()
	accepted := srv.Accepted.Load()
	var id int32
	eventually(t, 10*time.Second, log, "a \"Check now\" entry", func() (bool, string) {
		id, err = menuItemID(me, sender, "Check now")
		if err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	if err := me.Object(sender, "/StatusNotifierItem/menu").Call("com.canonical.dbusmenu.Event", 0,
		id, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, log, "the check made by \"Check now\"", func() (bool, string) {
		n := srv.AuthAttempts.Load()
		return n > logins, fmt.Sprintf("%d logins (was %d)", n, logins)
	})
	if srv.Accepted.Load() <= accepted {
		t.Error("no connection for the check")
	}

	// 5. The tray host restarts: the item registers again.
	before := len(watcher.registrations())
	watcher.release(t)
	watcher.acquire(t)
	eventually(t, 15*time.Second, log, "the item registers with the restarted tray host", func() (bool, string) {
		regs := watcher.registrations()
		if len(regs) <= before {
			return false, fmt.Sprintf("%d registrations, %d before", len(regs), before)
		}
		if regs[len(regs)-1].sender != sender {
			return false, "registered by " + regs[len(regs)-1].sender
		}
		return true, ""
	})
	eventually(t, 10*time.Second, log, "the registered item still shows the ok icon", func() (bool, string) {
		got, err := it.icon()
		if err != nil {
			return false, err.Error()
		}
		return samePixmap(got, okIcon)
	})

	// 6. Quit from the menu stops the daemon, cleanly.
	quit, err := menuItemID(me, sender, "Quit")
	if err != nil {
		t.Fatal(err)
	}
	if err := me.Object(sender, "/StatusNotifierItem/menu").Call("com.canonical.dbusmenu.Event", 0,
		quit, "clicked", dbus.MakeVariant(""), uint32(time.Now().Unix())).Err; err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("smtpwatch after Quit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("smtpwatch still running 10 s after Quit\n--- smtpwatch log:\n%s", log.String())
	}
	for _, want := range []string{"tray: quit from the menu", "smtpwatch stopped"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("smtpwatch log:\n%s", log.String())
	}
}

// trayDaemon is a `smtpwatch run` with its tray on a private session bus.
type trayDaemon struct {
	log    *lockedBuffer
	state  string // its state directory
	socket string
	env    []string // its environment, for CLI processes that talk to it
	exited chan error
}

// runTrayDaemon starts `smtpwatch run --log-level debug` on the session bus
// at busAddr, watching one account ("charter", testUser with testPassword
// from SMTPWATCH_TEST_PASSWORD) on the STARTTLS server at server, whose
// certificate ca signed; schedule holds the account's interval and
// threshold lines. The "am I online" reference is a loopback port that
// accepts. The process gets SIGTERM (then SIGKILL) when the test ends.
func runTrayDaemon(t *testing.T, busAddr string, ca *smtptest.CA, server, schedule string) *trayDaemon {
	t.Helper()
	online := smtptest.Online(t)
	dir := t.TempDir()
	home, runtime, state := filepath.Join(dir, "home"), filepath.Join(dir, "run"), filepath.Join(dir, "state")
	for _, d := range []string{home, runtime} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	err := os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir = %q
[online]
targets = [%q]
[[account]]
name = "charter"
preset = "charter"
server = "127.0.0.1"
port = %d
security = "starttls"
username = %q
password_env = "SMTPWATCH_TEST_PASSWORD"
ca_file = %q
`, state, online, smtptest.Port(t, server), testUser, caFile)+schedule), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	d := &trayDaemon{log: &lockedBuffer{}, state: state, socket: filepath.Join(runtime, "smtpwatch.sock"), exited: make(chan error, 1)}
	d.env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_RUNTIME_DIR=" + runtime,
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_STATE_HOME=" + filepath.Join(home, ".local", "state"),
		"DBUS_SESSION_BUS_ADDRESS=" + busAddr, "SMTPWATCH_TEST_PASSWORD=" + testPassword, "TZ=UTC",
	}
	cmd := exec.Command(smtpwatchBinary(t), "run", "--config", cfg, "--socket", d.socket, "--log-level", "debug")
	cmd.Env = d.env
	cmd.Stdout, cmd.Stderr = d.log, d.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-d.exited
		}
	})
	return d
}
