package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A real network change is reported once it settles. It happens in a
// network namespace of the test's own — the watcher's socket is opened
// there — so no other program on the machine sees an interface come and go.
func TestWatchNetwork(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to make a network namespace")
		}
		t.Skip("needs root to make a network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no iproute2")
	}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	ns := fmt.Sprintf("smtpw-watch-%d", os.Getpid())
	ip("netns", "add", ns)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })

	f := inNetns(t, ns, func() (*os.File, error) { return openNetlink() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	changed := make(chan struct{}, 4)
	done := make(chan error, 1)
	go func() { done <- watchNetlink(ctx, f, func() { changed <- struct{}{} }) }()

	ip("-n", ns, "link", "add", "w0", "type", "veth", "peer", "name", "w1")
	ip("-n", ns, "link", "set", "w0", "up")
	select {
	case <-changed:
	case <-time.After(netSettle + 3*time.Second):
		t.Fatal("a new interface was not reported")
	}
	select {
	case <-changed:
		t.Fatal("one burst of changes was reported twice")
	case <-time.After(netSettle + time.Second):
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Second):
		t.Fatal("the watch did not end with its context")
	}
}

// inNetns runs open on a thread moved into the named namespace, then moves
// the thread back; sockets stay in the namespace they were made in.
func inNetns(t *testing.T, ns string, open func() (*os.File, error)) *os.File {
	t.Helper()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	f, openErr := open()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: the runtime discards it with this
		// goroutine rather than reuse a thread in the wrong namespace.
		t.Fatal(err)
	}
	runtime.UnlockOSThread()
	if openErr != nil {
		t.Fatal(openErr)
	}
	return f
}
