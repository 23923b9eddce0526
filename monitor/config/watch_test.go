package config

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Saving the file, in place or by rename as editors do, is seen; other
// files in the folder are not.
func TestWatch(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.toml")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changed := make(chan struct{}, 10)
	done := make(chan error, 1)
	go func() { done <- Watch(ctx, p, func() { changed <- struct{}{} }) }()
	wait := func(what string, want bool) {
		t.Helper()
		select {
		case <-changed:
			if !want {
				t.Fatalf("%s: reported a change", what)
			}
		case <-time.After(2 * time.Second):
			if want {
				t.Fatalf("%s: no change reported within 2 s", what)
			}
		}
	}
	// The watch starts asynchronously; write until the first change is
	// seen, a bounded number of times.
	seen := false
	for i := 0; i < 20 && !seen; i++ {
		if err := os.WriteFile(p, []byte("# v1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		select {
		case <-changed:
			seen = true
		case <-time.After(500 * time.Millisecond):
		}
	}
	if !seen {
		t.Fatal("writing the file was never reported")
	}
	tmp := filepath.Join(dir, ".config.toml.swp")
	if err := os.WriteFile(tmp, []byte("# v2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	wait("rename into place", true)
	if err := os.WriteFile(filepath.Join(dir, "other.toml"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	wait("another file", false)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
