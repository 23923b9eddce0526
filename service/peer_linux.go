package service

import (
	"net"
	"syscall"
	"time"
)

// peerPID is the process id of the daemon listening on the Unix socket
// path, as the kernel tells it (SO_PEERCRED); 0 when it cannot be asked.
func peerPID(path string) int {
	if path == "" {
		return 0
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return 0
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return 0
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return 0
	}
	return int(cred.Pid)
}
