//go:build !linux

package engine

import "context"

// WatchNetwork is Linux-only for now; elsewhere the sleep watch and the
// regular checks notice a changed network. It blocks until ctx ends.
func WatchNetwork(ctx context.Context, _ func()) error {
	<-ctx.Done()
	return nil
}
