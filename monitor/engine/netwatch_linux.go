package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// netSettle lets a burst of netlink messages (an interface coming up brings
// a link, addresses and routes) count as one change.
const netSettle = 2 * time.Second

// WatchNetwork calls changed after the network configuration changes — a
// link going up or down, an address or a route appearing or vanishing —
// once the burst of changes settles. It listens to rtnetlink in this
// process's network namespace and blocks until ctx ends; it costs nothing
// while nothing changes.
func WatchNetwork(ctx context.Context, changed func()) error {
	f, err := openNetlink()
	if err != nil {
		return err
	}
	return watchNetlink(ctx, f, changed)
}

// openNetlink subscribes to link, address and route changes. The socket is
// non-blocking so that os.NewFile hands it to the runtime poller: a Read
// then parks without a thread and Close wakes it.
func openNetlink() (*os.File, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("watch network: %w", err)
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK,
		Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR | unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watch network: %w", err)
	}
	return os.NewFile(uintptr(fd), "rtnetlink"), nil
}

func watchNetlink(ctx context.Context, f *os.File, changed func()) error {
	stop := context.AfterFunc(ctx, func() { f.Close() })
	defer stop()
	defer f.Close()
	msgs := make(chan struct{}, 1)
	errs := make(chan error, 1)
	go func() {
		buf := make([]byte, 16<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				errs <- err
				return
			}
			if n > 0 {
				select {
				case msgs <- struct{}{}:
				default:
				}
			}
		}
	}()
	t := time.NewTimer(netSettle)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case err := <-errs:
			if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("watch network: %w", err)
		case <-msgs:
			t.Reset(netSettle)
		case <-t.C:
			changed()
		}
	}
}
