package engine

import (
	"context"
	"time"
)

// WatchSleep calls wake after the computer slept: the wall clock jumped
// ahead of the monotonic one (which stops during suspend on Linux and
// Windows, and runs on on macOS only while awake). It checks every step
// (10 s when 0) until ctx ends; a jump larger than step plus slack counts.
func WatchSleep(ctx context.Context, step time.Duration, wake func()) {
	if step <= 0 {
		step = 10 * time.Second
	}
	const slack = 5 * time.Second
	t := time.NewTicker(step)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		mono := now.Sub(last)                   // monotonic reading
		wall := now.Round(0).Sub(last.Round(0)) // wall clock, monotonic stripped
		last = now
		if wall-mono > slack {
			wake()
		}
	}
}
