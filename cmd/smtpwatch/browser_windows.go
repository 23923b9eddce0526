package main

import "os/exec"

// openBrowser opens url in the default browser, without waiting for it.
// rundll32 takes the URL as one argument, where cmd /c start would parse
// its "&".
func openBrowser(url string) error {
	return startDetached(exec.Command("rundll32", "url.dll,FileProtocolHandler", url))
}
