package main

// `smtpwatch open [--print-url]`: the dashboard in the browser. The link
// comes from the running daemon over its socket (POST /v1/ui/token), so
// only the user the daemon runs as can get one; it opens the dashboard
// once, within a few minutes (web.TokenLifetime).

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"time"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/web"
)

func (a *app) open(ctx context.Context, args []string) int {
	var socket string
	var printURL bool
	fl := a.flags("open", "open [--print-url] [--socket PATH]")
	fl.BoolVar(&printURL, "print-url", false, "print the link instead of opening a browser (for scripts, or a browser that reaches this computer through ssh -L)")
	fl.StringVar(&socket, "socket", "", "`path` of the running daemon's API socket (default: smtpwatch.sock in the per-user runtime directory)")
	if code, ok := parse(fl, args); !ok {
		return code
	}
	c, err := daemonClient(socket)
	if err != nil {
		return a.fail("%v", err)
	}
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	link, err := c.DashboardURL(cctx)
	var ae *api.Error
	switch {
	case errors.As(err, &ae):
		return a.fail("%s", ae.Message)
	case err != nil:
		return a.daemonFail(err)
	}
	if printURL {
		fmt.Fprintln(a.stdout, link)
		return exitOK
	}
	openURL := a.openURL
	if openURL == nil {
		openURL = systemOpen
	}
	if err := openURL(link); err != nil {
		fmt.Fprintf(a.stderr, "smtpwatch: could not start a browser (%v). Open this link in one — it works once, within %d minutes:\n", err, int(web.TokenLifetime/time.Minute))
		fmt.Fprintln(a.stdout, link)
		return exitUnknown
	}
	fmt.Fprintf(a.stderr, "Opened the dashboard in your browser.\n")
	return exitOK
}

// systemOpen opens url in the desktop's browser and does not wait for it.
func systemOpen(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
