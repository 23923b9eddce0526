//go:build !windows

package api

import "os"

// makeSocketDir makes the socket's directory, mode 0700, when missing.
func makeSocketDir(dir string) error { return os.MkdirAll(dir, 0o700) }
