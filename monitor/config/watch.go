package config

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch calls changed after the file at path is written, created, renamed
// into place or removed, once things settle (editors save in several
// steps). It watches the file's folder, so a file that does not exist yet
// or is replaced by rename is still seen. It blocks until ctx ends.
func Watch(ctx context.Context, path string, changed func()) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch config: %w", err)
	}
	defer w.Close()
	dir, name := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("watch config: %w", err)
	}
	const settle = 300 * time.Millisecond
	t := time.NewTimer(settle)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if filepath.Base(ev.Name) == name {
				t.Reset(settle)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			return fmt.Errorf("watch config: %w", err)
		case <-t.C:
			changed()
		}
	}
}
