// Command benchphases prints the median duration of each probe phase over
// the `smtpwatch check --json` reports named on the command line (one report
// per file). scripts/bench-probe uses it.
//
//	go run ./scripts/benchphases run1.json run2.json ...
//
// Phases are printed in the order they first appear; "total" is the median
// of each account's duration_ms. Only the first account of a report counts.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"text/tabwriter"
)

type report struct {
	Accounts []struct {
		Cause      string `json:"cause"`
		DurationMS int64  `json:"duration_ms"`
		Phases     []struct {
			Name       string `json:"name"`
			OK         bool   `json:"ok"`
			DurationMS int64  `json:"duration_ms"`
		} `json:"phases"`
	} `json:"accounts"`
}

func main() { os.Exit(run(os.Args[1:])) }

func run(files []string) int {
	if len(files) == 0 {
		fmt.Fprintln(os.Stderr, "usage: benchphases REPORT.json...")
		return 2
	}
	var order []string
	samples := map[string][]int64{}
	add := func(name string, ms int64) {
		if _, seen := samples[name]; !seen {
			order = append(order, name)
		}
		samples[name] = append(samples[name], ms)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "benchphases:", err)
			return 1
		}
		var r report
		if err := json.Unmarshal(b, &r); err != nil {
			fmt.Fprintf(os.Stderr, "benchphases: %s: %v\n", f, err)
			return 1
		}
		if len(r.Accounts) == 0 {
			fmt.Fprintf(os.Stderr, "benchphases: %s: no accounts\n", f)
			return 1
		}
		a := r.Accounts[0]
		for _, p := range a.Phases {
			add(p.Name, p.DurationMS)
		}
		add("total", a.DurationMS)
	}
	// "total" last, whatever order the reports came in.
	order = slices.DeleteFunc(order, func(s string) bool { return s == "total" })
	order = append(order, "total")

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "phase\truns\tmedian ms\tmin ms\tmax ms\t")
	for _, name := range order {
		s := samples[name]
		slices.Sort(s)
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t\n", name, len(s), median(s), s[0], s[len(s)-1])
	}
	w.Flush()
	return 0
}

// median of sorted s; the lower middle for an even count.
func median(s []int64) int64 { return s[(len(s)-1)/2] }
