package smtptest

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Blackhole returns a loopback address whose connection attempts time out,
// as behind a firewall that drops packets. It is a real kernel behaviour: a
// socket listening with a backlog of 0 whose accept queue is already full
// makes Linux drop further SYNs. Linux only.
func Blackhole(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	// Fill the accept queue; the kernel counts a backlog of 0 as one.
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr // queue full: SYNs are dropped from here on
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatal("smtptest: the accept queue never filled; cannot make a blackhole")
	return ""
}
