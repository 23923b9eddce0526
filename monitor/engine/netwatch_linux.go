package engine

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// netSettle lets a burst of netlink messages (an interface coming up brings
// a link, addresses and routes) count as one change.
const netSettle = 2 * time.Second

// WatchNetwork calls changed after the network configuration changes — a
// link going up or down, an address or a default route appearing or
// vanishing — once the burst of changes settles. It listens to rtnetlink
// and blocks until ctx ends.
func WatchNetwork(ctx context.Context, changed func()) error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("watch network: %w", err)
	}
	sa := &unix.SockaddrNetlink{Family: unix.AF_NETLINK,
		Groups: unix.RTMGRP_LINK | unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_IPV6_IFADDR | unix.RTMGRP_IPV4_ROUTE | unix.RTMGRP_IPV6_ROUTE}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return fmt.Errorf("watch network: %w", err)
	}
	// A blocking read ends when ctx does: closing the socket from another
	// goroutine does not wake recvfrom, so shut it down instead.
	stop := context.AfterFunc(ctx, func() { _ = unix.Shutdown(fd, unix.SHUT_RDWR) })
	defer stop()
	defer unix.Close(fd)
	// A 1 s receive timeout lets the loop notice ctx even on kernels where
	// shutdown does not wake a netlink read.
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Sec: 1})

	msgs := make(chan struct{}, 1)
	errs := make(chan error, 1)
	go func() {
		buf := make([]byte, 16<<10)
		for ctx.Err() == nil {
			n, _, err := unix.Recvfrom(fd, buf, 0)
			switch {
			case err == unix.EAGAIN || err == unix.EINTR:
				continue
			case err != nil:
				errs <- err
				return
			case n == 0:
				continue
			}
			select {
			case msgs <- struct{}{}:
			default:
			}
		}
		errs <- nil
	}()
	t := time.NewTimer(netSettle)
	t.Stop()
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			<-errs
			return nil
		case err := <-errs:
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("watch network: %w", err)
			}
			return nil
		case <-msgs:
			t.Reset(netSettle)
		case <-t.C:
			changed()
		}
	}
}
