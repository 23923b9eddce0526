package main

// `smtpwatch accounts`: the accounts of the config file, with how each is
// doing when a daemon runs (from its API, in the words of `status`).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/health"
)

// accountJSON is one account of `smtpwatch accounts --json`.
type accountJSON struct {
	Name     string `json:"name"`
	Provider string `json:"provider,omitempty"`
	Server   string `json:"server"`
	Port     int    `json:"port"`
	Security string `json:"security"`
	Username string `json:"username,omitempty"`
	Password string `json:"password"` // keyring, command, env, none
	Enabled  bool   `json:"enabled"`
	// State is the daemon's view; null when no daemon runs or it does not
	// watch the account.
	State *health.AccountStatus `json:"state"`
}

func (a *app) accounts(ctx context.Context, args []string) int {
	var path string
	fl := a.flags("accounts", "accounts [--config FILE] [--json] [--socket PATH]")
	fl.StringVar(&path, "config", "", "config `file` (default: the user config dir's smtpwatch/config.toml)")
	asJSON := fl.Bool("json", false, "print the accounts as JSON")
	socket := socketFlag(fl)
	if code, ok := parse(fl, args); !ok {
		return code
	}
	if path == "" {
		var err error
		if path, err = config.DefaultPath(); err != nil {
			return a.fail("%v", err)
		}
	}
	cfg, err := loadConfig(ctx, path)
	switch {
	case ctx.Err() != nil:
		return a.stopped(ctx)
	case errors.Is(err, fs.ErrNotExist):
		cfg = &config.Config{File: path}
	case err != nil:
		return a.fail("%v", err)
	}

	// The daemon's view, when one runs.
	states := map[string]health.AccountStatus{}
	running := false
	if c, err := daemonClient(*socket); err == nil {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		st, err := c.Status(sctx)
		cancel()
		c.Close()
		if err == nil {
			running = true
			for _, s := range st.Accounts {
				states[strings.ToLower(s.Name)] = s
			}
		}
	}

	if *asJSON {
		out := []accountJSON{}
		for _, acc := range cfg.Accounts {
			j := accountJSON{Name: acc.Name, Provider: acc.Provider, Server: acc.Server, Port: acc.Port, Security: string(acc.Security),
				Username: acc.Username, Password: string(acc.Credential.Source), Enabled: acc.Enabled}
			if j.Password == "" {
				j.Password = "none"
			}
			if s, ok := states[strings.ToLower(acc.Name)]; ok {
				j.State = &s
			}
			out = append(out, j)
		}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return a.fail("%v", err)
		}
		return exitOK
	}

	if len(cfg.Accounts) == 0 {
		fmt.Fprintf(a.stdout, "No accounts in %s yet. Add one with: smtpwatch add you@example.com\n", path)
		return exitOK
	}
	now := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "Accounts in %s:\n", path)
	for _, acc := range cfg.Accounts {
		s, watched := states[strings.ToLower(acc.Name)]
		switch {
		case !acc.Enabled:
			fmt.Fprintf(&b, "- %s — disabled (enabled = false)\n", acc.Name)
		case watched:
			b.WriteString(accountLine(s, acc.Name, now) + "\n")
		case running:
			fmt.Fprintf(&b, "… %s — not watched by the running daemon yet\n", acc.Name)
		default:
			fmt.Fprintf(&b, "· %s\n", acc.Name)
		}
		fmt.Fprintf(&b, "    %s as %s; password: %s\n", describe(acc), orEmpty(acc.Username, acc.Username != "")+orEmpty("(no sign-in)", acc.Username == ""), passwordWords(acc))
	}
	if !running {
		b.WriteString("No smtpwatch daemon is running: \"smtpwatch check\" checks them now, \"smtpwatch service install\" watches them.\n")
	}
	fmt.Fprint(a.stdout, b.String())
	return exitOK
}

// passwordWords says where an account's password comes from.
func passwordWords(acc config.Account) string { return acc.PasswordWords() }
