//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/engine"
	"smtpwatch/monitor/probe"
)

const (
	benchUser   = "bench@example.test"
	benchPWEnv  = "SMTPWATCH_BENCH_PASSWORD"
	benchPW     = "bench-Passw0rd"
	lagBudget   = time.Second
	settleLimit = 10 * time.Second // for goroutines and fds to come back
)

// probeRecord is one check: when it was planned and started (OnProbe), and
// how it ended (the probe's result).
type probeRecord struct {
	planned, started time.Time
}

type scaleRun struct {
	mu      sync.Mutex
	starts  map[string][]probeRecord
	results map[probe.Cause]int
	maxDur  time.Duration
	auths   int
}

func scale(args []string) int {
	fl := flag.NewFlagSet("scale", flag.ContinueOnError)
	accounts := fl.Int("accounts", 1000, "accounts to watch")
	interval := fl.Duration("interval", 30*time.Second, "each account's interval")
	duration := fl.Duration("duration", 150*time.Second, "how long the engine runs")
	procs := fl.Int("procs", 2, "GOMAXPROCS: the cores the engine (and the server) may use")
	latency := fl.Duration("latency", 0, "delay each of the server's replies this long (a network round trip)")
	concurrency := fl.Int("max-concurrency", config.DefaultMaxConcurrency, "the config's max_concurrency")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *accounts < 1 || *interval < config.MinInterval || *duration < 2**interval {
		return fail("scale: want --accounts ≥ 1, --interval ≥ %v and --duration ≥ 2 intervals", config.MinInterval)
	}
	runtime.GOMAXPROCS(*procs)
	if err := os.Setenv(benchPWEnv, benchPW); err != nil {
		return fail("%v", err)
	}

	srv, err := startServer(benchUser, benchPW, *latency)
	if err != nil {
		return fail("%v", err)
	}
	defer srv.Close()

	cfg := &config.Config{
		Retention: config.DefaultRetention, Reminder: config.DefaultReminder,
		MaxConcurrency: *concurrency, OnlineTargets: []string{},
	}
	for i := range *accounts {
		cfg.Accounts = append(cfg.Accounts, config.Account{
			Name: fmt.Sprintf("acct%04d", i), Provider: "bench", Server: "127.0.0.1", Port: srv.Port,
			Security: probe.SecurityStartTLS, Username: benchUser,
			Credential: config.Credential{Source: config.CredentialEnv, Env: benchPWEnv},
			RootCAs:    srv.Roots, Enabled: true,
			Interval: *interval, AuthInterval: config.DefaultAuthInterval, Timeout: config.DefaultTimeout,
			CertWarnDays: config.DefaultCertWarnDays, SlowThreshold: config.DefaultSlowThreshold,
			FailureThreshold: config.DefaultFailureThreshold, SuccessThreshold: config.DefaultSuccessThreshold,
		})
	}

	runtime.GC()
	baseG, baseFD := runtime.NumGoroutine(), openFDs()

	sr := &scaleRun{starts: map[string][]probeRecord{}, results: map[probe.Cause]int{}}
	realProbe := func(ctx context.Context, t probe.Target, d probe.Deps) probe.Result {
		r := probe.Probe(ctx, t, d)
		if ctx.Err() != nil {
			return r // cut short by the stop; the engine drops it too
		}
		sr.mu.Lock()
		sr.results[r.Cause]++
		sr.maxDur = max(sr.maxDur, r.Duration)
		if r.AuthVerified {
			sr.auths++
		}
		sr.mu.Unlock()
		return r
	}
	e, err := engine.New(engine.Options{
		Config: cfg, Probe: realProbe,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		OnProbe: func(account string, planned, started time.Time) {
			sr.mu.Lock()
			sr.starts[account] = append(sr.starts[account], probeRecord{planned, started})
			sr.mu.Unlock()
		},
	})
	if err != nil {
		return fail("%v", err)
	}

	fmt.Printf("scale: %d accounts, interval %v, max_concurrency %d, GOMAXPROCS %d (%d CPUs), real probe against go-smtp on %s (STARTTLS, AUTH every %v, reply latency %v)\n",
		*accounts, *interval, cfg.MaxConcurrency, runtime.GOMAXPROCS(0), runtime.NumCPU(), srv.Addr, config.DefaultAuthInterval, *latency)
	fmt.Printf("scale: baseline %d goroutines, %d fds; running %v\n", baseG, baseFD, *duration)
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	begin := time.Now()
	go func() {
		defer close(ran)
		_ = e.Run(ctx)
	}()
	peakG, peakFD := 0, 0
	tick := time.NewTicker(time.Second)
	for time.Since(begin) < *duration {
		<-tick.C
		peakG, peakFD = max(peakG, runtime.NumGoroutine()), max(peakFD, openFDs())
	}
	tick.Stop()
	cancel()
	stopAt := time.Now()
	select {
	case <-ran:
	case <-time.After(settleLimit):
		return fail("scale: the engine did not stop within %v", settleLimit)
	}
	stopTook := time.Since(stopAt)
	wall := time.Since(begin)
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond

	// Goroutines and fds: the probes' connections close with the engine;
	// the server's side of them a moment later.
	afterG, afterFD := 0, 0
	settled := time.Now().Add(settleLimit)
	for {
		runtime.GC()
		afterG, afterFD = runtime.NumGoroutine(), openFDs()
		if (afterG <= baseG && afterFD <= baseFD) || time.Now().After(settled) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	sr.mu.Lock()
	defer sr.mu.Unlock()
	var first, steady, all []time.Duration
	missed, checks, maxGap := 0, 0, time.Duration(0)
	// A check is missed when the gap between two starts of an account (or
	// from the last start to the end) exceeds what the schedule allows:
	// the longest probe, the interval with +10 % jitter, and the lag budget.
	allowed := sr.maxDur + *interval + *interval/10 + lagBudget
	for _, a := range cfg.Accounts {
		recs := sr.starts[a.Name]
		if len(recs) == 0 {
			missed++
			continue
		}
		for i, r := range recs {
			lag := r.started.Sub(r.planned)
			all = append(all, lag)
			if i == 0 {
				first = append(first, lag)
			} else {
				steady = append(steady, lag)
				gap := r.started.Sub(recs[i-1].started)
				maxGap = max(maxGap, gap)
				if gap > allowed {
					missed++
				}
			}
		}
		if tailGap := stopAt.Sub(recs[len(recs)-1].started); tailGap > allowed {
			missed++
		}
		checks += len(recs)
	}
	for _, s := range [][]time.Duration{first, steady, all} {
		slices.Sort(s)
	}
	var causes []string
	for c, n := range sr.results {
		causes = append(causes, fmt.Sprintf("%s %d", c, n))
	}
	slices.Sort(causes)

	fmt.Printf("scale: %d checks in %v (%d logins), results: %v; longest check %v\n",
		checks, wall.Round(time.Millisecond), sr.auths, causes, sr.maxDur.Round(time.Millisecond))
	fmt.Printf("scale: lag of the first checks (all %d at start): p50 %v  p99 %v  max %v\n",
		len(first), pct(first, 50), pct(first, 99), pct(first, 100))
	fmt.Printf("scale: lag of the scheduled checks after them (%d):  p50 %v  p99 %v  max %v\n",
		len(steady), pct(steady, 50), pct(steady, 99), pct(steady, 100))
	fmt.Printf("scale: lag of all checks: p99 %v; longest gap between two checks of an account %v (allowed %v)\n",
		pct(all, 99), maxGap.Round(time.Millisecond), allowed.Round(time.Millisecond))
	fmt.Printf("scale: CPU %v in %v = %.1f %% of one core; engine stopped in %v\n",
		cpu.Round(time.Millisecond), wall.Round(time.Millisecond), 100*cpu.Seconds()/wall.Seconds(), stopTook.Round(time.Millisecond))
	fmt.Printf("scale: goroutines %d → peak %d → %d after; fds %d → peak %d → %d after\n",
		baseG, peakG, afterG, baseFD, peakFD, afterFD)

	var res results
	done := 0
	for _, n := range sr.results {
		done += n
	}
	notOK := done - sr.results[probe.CauseOK]
	res.add("scale: checks that did not pass", fmt.Sprintf("%d of %d", notOK, done), "0", notOK == 0)
	res.add("scale: missed checks", fmt.Sprint(missed), "0", missed == 0)
	res.add("scale: p99 schedule lag, steady", pct(steady, 99).String(), "<= 1s", pct(steady, 99) <= lagBudget)
	res.add("scale: p99 schedule lag, all checks", pct(all, 99).String(), "<= 1s", pct(all, 99) <= lagBudget)
	res.add("scale: max lag of the first checks", pct(first, 100).String(), "", true)
	res.add("scale: CPU (engine + server)", fmt.Sprintf("%.1f %% of a core", 100*cpu.Seconds()/wall.Seconds()), "", true)
	res.add("scale: goroutines after stop", fmt.Sprintf("%d (baseline %d, peak %d)", afterG, baseG, peakG), "baseline", afterG <= baseG)
	res.add("scale: fds after stop", fmt.Sprintf("%d (baseline %d, peak %d)", afterFD, baseFD, peakFD), "baseline", afterFD <= baseFD)
	return res.print()
}

// pct is the nearest-rank percentile of sorted lags, rounded to 0.1 ms.
func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted)+99)/100 - 1
	return sorted[min(max(i, 0), len(sorted)-1)].Round(100 * time.Microsecond)
}

// openFDs counts this process's open file descriptors.
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory read itself
}
