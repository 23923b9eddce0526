package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"smtpwatch/monitor/config"
)

// presets lists the built-in provider settings.
func (a *app) presets(args []string) int {
	var asJSON bool
	fl := a.flags("presets", "presets [--json]")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	if code, ok := parse(fl, args); !ok {
		return code
	}
	ps := config.Presets()
	if asJSON {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(ps); err != nil {
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
	fmt.Fprintln(a.stdout, "\nUse one with: smtpwatch check --preset charter --username you@charter.net")
	return exitOK
}
