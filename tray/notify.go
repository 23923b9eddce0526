package tray

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"smtpwatch/icons"
	"smtpwatch/monitor/health"
)

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
