//go:build unix

package service

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"strconv"
	"syscall"
)

// terminate asks the process pid to end (SIGTERM): the daemon stops its
// checks, flushes its history and exits.
func terminate(pid int) error {
	return syscall.Kill(pid, syscall.SIGTERM)
}

// alive reports whether the process pid still runs. A zombie (ended, not
// yet reaped by its parent) has ended; Linux tells it in /proc.
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if runtime.GOOS == "linux" {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		// pid (comm) STATE ...; comm may hold spaces and parentheses.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X') {
			return false
		}
	}
	return true
}
