//go:build !windows

package main

import "os"

// underServiceManager: systemd, SysV init and launchd need no answer from
// the daemon; they stop it with SIGTERM, which run handles.
func underServiceManager() bool { return false }

// exitProcess is not reached where underServiceManager is false.
func exitProcess(code int) { os.Exit(code) }
