package tray

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"smtpwatch/icons"
	"smtpwatch/monitor/health"
)

// urgency is the freedesktop urgency of a notification.
type urgency byte

// The urgencies.
const (
	urgencyLow    urgency = 0
	urgencyNormal urgency = 1
)

// notification is one desktop notification, in words a person reads once:
// a decision of the daemon's notification policy (monitor/notify), as the
// source's event stream brings it.
type notification struct {
	Title string
	Body  string
	// Icon is the state whose icon goes with it.
	Icon health.State
	// Key names what the notification is about ("account:charter",
	// "offline", "config", "accounts"): a later one with the same key may
	// replace it on screen.
	Key     string
	Urgency urgency
}

// fromDecision is the desktop notification of a decided one.
func fromDecision(n health.Notification) notification {
	u := urgencyNormal
	if n.Urgency == "low" {
		u = urgencyLow
	}
	return notification{Title: n.Title, Body: n.Body, Icon: n.Icon, Key: n.Key, Urgency: u}
}

// signInFailed is the notification of a "Sign in…" that did not complete:
// a person who clicked it waits for the browser, and must hear why not.
// It is the tray's own: the person asked here, so it is said here.
func signInFailed(account string, err error) notification {
	return notification{
		Title: "Signing " + account + " in did not complete",
		Body:  truncate(firstLine(err.Error()), maxSignInBody),
		Icon:  health.Failing, Key: "signin:" + strings.ToLower(account), Urgency: urgencyNormal,
	}
}

// maxSignInBody bounds signInFailed's body, as notify bounds the others.
const maxSignInBody = 360

// shownLimit bounds the notification IDs the tray remembers having shown.
const shownLimit = 256

// shownIDs remembers the IDs of the notifications shown, the newest
// shownLimit, so that a notification the stream gives again (a replay to a
// new subscription, see health.Notification.Replay) is shown once.
type shownIDs struct {
	set   map[uint64]bool
	order []uint64
}

func (s *shownIDs) has(id uint64) bool { return s.set[id] }

func (s *shownIDs) add(id uint64) {
	if s.set == nil {
		s.set = map[uint64]bool{}
	}
	if s.set[id] {
		return
	}
	s.set[id] = true
	s.order = append(s.order, id)
	if len(s.order) > shownLimit {
		delete(s.set, s.order[0])
		s.order = s.order[1:]
	}
}

// notifier shows desktop notifications. Notify blocks until the
// notification server has taken the notification (or ctx ends) and returns
// its error; a notifier is used from one goroutine at a time. On Linux it
// is a private D-Bus connection to org.freedesktop.Notifications; on
// Windows and macOS gen2brain/beeep.
type notifier interface {
	Notify(ctx context.Context, n notification) error
}

// iconFiles writes the state icons as PNG files, once, for notification
// servers that take a file path.
type iconFiles struct {
	dir string // "" writes nothing

	mu    sync.Mutex
	paths map[health.State]string
}

func newIconFiles(stateDir string) *iconFiles {
	dir := ""
	if stateDir != "" {
		dir = filepath.Join(stateDir, "icons")
	}
	return &iconFiles{dir: dir, paths: map[health.State]string{}}
}

// path is the absolute path of the state's icon file, written if missing
// or different; "" when it cannot be written (the notification goes out
// without an icon then).
func (f *iconFiles) path(s health.State) (string, error) {
	if f == nil || f.dir == "" {
		return "", nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.paths[s]; ok {
		return p, nil
	}
	data := icons.PNG(string(s))
	p, err := filepath.Abs(filepath.Join(f.dir, "smtpwatch-"+string(s)+".png"))
	if err != nil {
		return "", fmt.Errorf("notification icon: %w", err)
	}
	if old, err := os.ReadFile(p); err != nil || !bytes.Equal(old, data) {
		if err := os.MkdirAll(f.dir, 0o700); err != nil {
			return "", fmt.Errorf("notification icon: %w", err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return "", fmt.Errorf("notification icon: %w", err)
		}
	}
	f.paths[s] = p
	return p, nil
}
