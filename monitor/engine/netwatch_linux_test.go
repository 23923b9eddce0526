package engine

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// A real network change — a veth pair appearing and going up, made with
// iproute2 and removed afterwards — is reported once it settles.
func TestWatchNetwork(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to add a network interface")
		}
		t.Skip("needs root to add a network interface")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no iproute2")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	changed := make(chan struct{}, 4)
	done := make(chan error, 1)
	go func() { done <- WatchNetwork(ctx, func() { changed <- struct{}{} }) }()

	name := "smtpw" + time.Now().Format("150405")
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	// The watcher binds asynchronously; poke until it reports, boundedly.
	seen := false
	for i := 0; i < 5 && !seen; i++ {
		run("link", "add", name+"a", "type", "veth", "peer", "name", name+"b")
		run("link", "set", name+"a", "up")
		select {
		case <-changed:
			seen = true
		case <-time.After(netSettle + 2*time.Second):
		}
		_ = exec.Command("ip", "link", "del", name+"a").Run()
	}
	if !seen {
		t.Fatal("a new interface was never reported")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("WatchNetwork did not return after ctx ended")
	}
}
