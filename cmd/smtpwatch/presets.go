package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"smtpwatch/monitor/config"
)

// presetJSON is a preset in `presets --json`, snake_case like every other
// JSON smtpwatch prints.
type presetJSON struct {
	Key            string           `json:"key"`
	Name           string           `json:"name"`
	Server         string           `json:"server"`
	Port           int              `json:"port"`
	Security       string           `json:"security"`
	Alternative    *alternativeJSON `json:"alternative,omitempty"`
	AppPasswordURL string           `json:"app_password_url,omitempty"`
	// Auth is how the preset's accounts sign in by default: "password" or
	// "oauth2"; OAuthProvider the OAuth2 provider they can use.
	Auth          string `json:"auth"`
	OAuthProvider string `json:"oauth_provider,omitempty"`
	Notes         string `json:"notes,omitempty"`
}

type alternativeJSON struct {
	Port     int    `json:"port"`
	Security string `json:"security"`
}

// presets lists the built-in provider settings, with each provider's notes
// (app passwords, switches to turn on) in text as in JSON.
func (a *app) presets(args []string) int {
	var asJSON bool
	fl := a.flags("presets", "presets [--json]")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	if code, ok := parse(fl, args); !ok {
		return code
	}
	ps := config.Presets()
	if asJSON {
		out := make([]presetJSON, 0, len(ps))
		for _, p := range ps {
			j := presetJSON{
				Key: p.Key, Name: p.Name, Server: p.Server, Port: p.Port, Security: string(p.Security),
				AppPasswordURL: p.AppPasswordURL, Notes: p.Notes, Auth: string(config.AuthPassword), OAuthProvider: p.OAuthProvider,
			}
			if p.DefaultAuth != "" {
				j.Auth = string(p.DefaultAuth)
			}
			if p.Alternative.Port != 0 {
				j.Alternative = &alternativeJSON{Port: p.Alternative.Port, Security: string(p.Alternative.Security)}
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
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PRESET\tPROVIDER\tSERVER\tPORT\tSECURITY\tALSO")
	for _, p := range ps {
		also := ""
		if p.Alternative.Port != 0 {
			also = fmt.Sprintf("%d %s", p.Alternative.Port, p.Alternative.Security.Label())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", p.Key, p.Name, p.Server, p.Port, p.Security.Label(), also)
	}
	if err := tw.Flush(); err != nil {
		return a.fail("%v", err)
	}
	fmt.Fprintln(a.stdout, "\nWhat each provider asks of mail programs:")
	for _, p := range ps {
		if p.Notes == "" && p.AppPasswordURL == "" {
			continue
		}
		fmt.Fprintf(a.stdout, "  %s: %s\n", p.Name, p.Notes)
		if p.AppPasswordURL != "" {
			fmt.Fprintf(a.stdout, "    App passwords: %s\n", p.AppPasswordURL)
		}
	}
	fmt.Fprintln(a.stdout, "\nUse one with: smtpwatch check --preset charter --username you@charter.net")
	return exitOK
}
