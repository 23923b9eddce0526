package main

import "os/exec"

// openBrowser opens url in the default browser, without waiting for it.
func openBrowser(url string) error { return startDetached(exec.Command("open", url)) }
