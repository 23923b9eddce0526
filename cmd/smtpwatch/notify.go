package main

// `smtpwatch notify test [NAME]` sends a test notification through each
// [[notify]] channel of the config (or the one named) and says what
// happened; `smtpwatch notify set-url NAME` stores a channel's URL in the
// OS keyring for url_keyring = true.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/notify"
)

// notifyTestTimeout bounds one channel's test.
const notifyTestTimeout = 30 * time.Second

func (a *app) notifyCmd(ctx context.Context, args []string) int {
	if len(args) == 0 {
		printHelp(a.stderr, "notify", verbCommands["notify"], nil)
		return exitUnknown
	}
	switch args[0] {
	case "test":
		return a.notifyTest(ctx, args[1:])
	case "set-url":
		return a.notifySetURL(args[1:])
	}
	fmt.Fprintf(a.stderr, "smtpwatch notify: unknown action %q\nRun \"smtpwatch notify --help\" for its actions.\n", args[0])
	return exitUnknown
}

// loadForNotify loads the config a notify action names.
func (a *app) loadForNotify(path string) (*config.Config, string, int, bool) {
	if path == "" {
		var err error
		if path, err = config.DefaultPath(); err != nil {
			return nil, "", a.fail("%v", err), false
		}
	}
	cfg, err := config.Load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "", a.fail("no config file at %s: alert channels are [[notify]] tables in it (smtpwatch init writes a commented one)", path), false
	case err != nil:
		return nil, "", a.fail("%v", err), false
	}
	return cfg, path, 0, true
}

// notifyTest sends a test notification through every channel, or the one
// named, one after the other, and prints a line for each. Exit status 0
// when every one got through, 2 when one failed, 3 when none could be
// tried (no config, no such channel).
func (a *app) notifyTest(ctx context.Context, args []string) int {
	var path string
	fl := a.flags("notify test", "notify test [NAME] [--config FILE]")
	fl.StringVar(&path, "config", "", "config `file` with the [[notify]] tables (default: the user config dir's smtpwatch/config.toml)")
	pos, code, ok := parseWithArgs(fl, args)
	if !ok {
		return code
	}
	if len(pos) > 1 {
		return a.fail("notify test: one NAME at most, got %q", pos)
	}
	cfg, path, code, ok := a.loadForNotify(path)
	if !ok {
		return code
	}
	host, _ := os.Hostname()
	chs := notify.Channels(cfg, notify.SenderOptions{Origin: host, Version: version})
	if len(pos) == 1 {
		var names []string
		for _, c := range chs {
			names = append(names, c.Name)
		}
		found := false
		for _, c := range chs {
			if strings.EqualFold(c.Name, pos[0]) {
				chs, found = []notify.Channel{c}, true
				break
			}
		}
		if !found {
			list := "it has none"
			if len(names) > 0 {
				list = "its channels: " + strings.Join(names, ", ")
			}
			return a.fail("%s has no [[notify]] named %q (%s)", path, pos[0], list)
		}
	}
	if len(chs) == 0 {
		return a.fail("%s has no [[notify]] table: nothing to test. Add one, like:\n\n  [[notify]]\n  name = \"phone\"\n  url = \"ntfy://ntfy.example.org/mail-alerts\"", path)
	}
	failed := 0
	for _, c := range chs {
		n := notify.TestNotification(c.Name, time.Now())
		n.ID = uint64(time.Now().UnixNano())
		cctx, cancel := context.WithTimeout(ctx, notifyTestTimeout)
		start := time.Now()
		err := c.Sender.Send(cctx, notify.Event(n, time.Now()))
		cancel()
		took := time.Since(start).Round(time.Millisecond)
		if err != nil {
			failed++
			fmt.Fprintf(a.stdout, "✗ %s (%s): not delivered after %v: %v\n", c.Name, c.Kind, took, err)
			continue
		}
		fmt.Fprintf(a.stdout, "✓ %s (%s): delivered in %v — check that it arrived\n", c.Name, c.Kind, took)
	}
	if failed > 0 {
		return exitFailing
	}
	return exitOK
}

// notifySetURL stores a channel's URL in the OS keyring, read without
// echo (or from a pipe), for url_keyring = true.
func (a *app) notifySetURL(args []string) int {
	var path string
	fl := a.flags("notify set-url", "notify set-url [--config FILE] NAME")
	fl.StringVar(&path, "config", "", "config `file` that names the channel (default: the user config dir's smtpwatch/config.toml)")
	name, code, ok := a.oneName(fl, args)
	if !ok {
		return code
	}
	cfg, path, code, ok := a.loadForNotify(path)
	if !ok {
		return code
	}
	var n *config.Notify
	for i := range cfg.Notify {
		if strings.EqualFold(cfg.Notify[i].Name, name) {
			n = &cfg.Notify[i]
		}
	}
	if n == nil {
		return a.fail("%s has no [[notify]] named %q; nothing stored", path, name)
	}
	if n.URLSource.Source != config.CredentialKeyring {
		fmt.Fprintf(a.stderr, "smtpwatch: warning: [[notify]] %q does not read its URL from the keyring; set url_keyring = true in %s for this URL to be used.\n", n.Name, path)
	}
	if _, ok := credential.SessionBus(); !ok {
		return a.fail("the OS keyring is not available here: there is no D-Bus session bus. Use url_command or url_env for %q in %s instead", n.Name, path)
	}
	raw, err := a.readPassword(fmt.Sprintf("URL for %s: ", n.Name))
	if err != nil {
		return a.fail("reading the URL: %v", err)
	}
	if u, err := url.Parse(raw); err != nil || u.Scheme == "" {
		return a.fail("that is not a service URL (SERVICE://...); nothing stored")
	}
	if err := credential.StoreInKeyring(n.KeyringUser(), credential.NewSecret(raw)); err != nil {
		return a.fail("%v", err)
	}
	fmt.Fprintf(a.stdout, "Stored the URL of %q in the OS keyring.\n", n.Name)
	return exitOK
}
