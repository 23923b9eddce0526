//go:build linux

// Command benchdaemon measures the daemon against the budgets of issue 3,
// on this machine, against a go-smtp submission server it runs on
// 127.0.0.1 (STARTTLS with a certificate made in memory, AUTH PLAIN/LOGIN).
// scripts/bench-daemon runs it. Linux only: it reads /proc.
//
//	go run ./scripts/benchdaemon idle --smtpwatch BIN [--accounts 10] [--warmup 1m] [--duration 3m]
//	go run ./scripts/benchdaemon scale [--accounts 1000] [--interval 30s] [--duration 2m30s] [--procs 2]
//	                                   [--latency 0] [--max-concurrency 4]
//
// idle runs `smtpwatch run --headless` (the binary given) with 10 accounts
// at the default intervals and, after a warm-up, reads its VmRSS from
// /proc/PID/status and its CPU time from /proc/PID/stat: budget RSS ≤ 25 MB
// and CPU ≤ 0.1 % of a core on average.
//
// scale runs the engine in this process with the real probe (probe.Probe)
// for 1,000 accounts at a 30 s interval on 2 cores (GOMAXPROCS), measures
// schedule lag with engine.Options.OnProbe (planned vs started), and checks
// that goroutines and file descriptors come back to their baseline once the
// engine stops: budget p99 lag ≤ 1 s, no missed check.
//
// Each mode prints a report, then one machine-readable line per figure:
//
//	RESULT<TAB>figure<TAB>measured<TAB>budget<TAB>verdict
//
// verdict is "ok", "OVER" or "-" (no budget). The exit status is 0 when
// every figure is within its budget, 1 when one is over, 2 on errors.
package main

import (
	"fmt"
	"os"
	"strings"
)

func main() { os.Exit(run(os.Args[1:])) }

const usage = `usage: benchdaemon idle --smtpwatch BIN [--accounts N] [--warmup D] [--duration D] [--gctrace]
       benchdaemon scale [--accounts N] [--interval D] [--duration D] [--procs N] [--latency D] [--max-concurrency N]
`

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	switch args[0] {
	case "idle":
		return idle(args[1:])
	case "scale":
		return scale(args[1:])
	case "-h", "--help", "help":
		fmt.Print(usage)
		return 0
	}
	fmt.Fprint(os.Stderr, usage)
	return 2
}

// results collects the figures a mode reports.
type results struct {
	over bool
	rows [][4]string
}

// add records a figure; budget "" means none.
func (r *results) add(name, measured, budget string, within bool) {
	verdict := "-"
	if budget != "" {
		verdict = "ok"
		if !within {
			verdict = "OVER"
			r.over = true
		}
	}
	r.rows = append(r.rows, [4]string{name, measured, budget, verdict})
}

// print writes the RESULT lines and returns the exit status.
func (r *results) print() int {
	for _, row := range r.rows {
		fmt.Println("RESULT\t" + strings.Join(row[:], "\t"))
	}
	if r.over {
		return 1
	}
	return 0
}

func fail(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "benchdaemon: "+format+"\n", args...)
	return 2
}
