package daemon

import (
	"context"
	"runtime/debug"
	"testing"
)

// Once settled, the collector runs at idleGCPercent; a $GOGC the user set
// is left as it is.
func TestSettleGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)

	t.Setenv("GOGC", "")
	settle(context.Background(), 0)
	if got := debug.SetGCPercent(100); got != idleGCPercent {
		t.Errorf("GC percent after settle: %d, want %d", got, idleGCPercent)
	}

	t.Setenv("GOGC", "200")
	debug.SetGCPercent(200)
	settle(context.Background(), 0)
	if got := debug.SetGCPercent(100); got != 200 {
		t.Errorf("GC percent with GOGC=200: %d, want it kept", got)
	}

	// A daemon told to stop before it settled changes nothing.
	t.Setenv("GOGC", "")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	settle(ctx, 1<<40)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent after a cancelled settle: %d", got)
	}
}
