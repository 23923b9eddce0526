package main

import (
	"os"

	kservice "github.com/kardianos/service"
)

// underServiceManager reports whether the Service Control Manager started
// this process.
func underServiceManager() bool { return !kservice.Interactive() }

// exitProcess ends the service's process with the daemon's exit status.
func exitProcess(code int) { os.Exit(code) }
