package main

import "os"

// notifyHangup: Windows has no SIGHUP; the config file watch reloads.
func notifyHangup(chan<- os.Signal) {}
