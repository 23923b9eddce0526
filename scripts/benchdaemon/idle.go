//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"smtpwatch/monitor/api"
)

const (
	rssBudgetKB = 25 * 1024 // 25 MB (MiB, as the kernel counts)
	cpuBudget   = 0.1       // % of one core
	// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on
	// every Linux architecture Go supports.
	clockTicks = 100
)

func idle(args []string) int {
	fl := flag.NewFlagSet("idle", flag.ContinueOnError)
	bin := fl.String("smtpwatch", "", "the smtpwatch binary to measure (required)")
	accounts := fl.Int("accounts", 10, "accounts the daemon watches")
	warmup := fl.Duration("warmup", time.Minute, "wait this long after the start before measuring")
	duration := fl.Duration("duration", 3*time.Minute, "measure this long")
	gctrace := fl.Bool("gctrace", false, "run the daemon with GODEBUG=gctrace=1 and print its GC lines")
	ui := fl.Bool("ui", true, "serve the dashboard (ui = false in the config when not), as a person's daemon does by default")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if *bin == "" || *accounts < 1 || *duration < 10*time.Second {
		return fail("idle: want --smtpwatch BIN, --accounts ≥ 1 and --duration ≥ 10s")
	}
	srv, err := startServer(benchUser, benchPW, 0)
	if err != nil {
		return fail("%v", err)
	}
	defer srv.Close()

	dir, err := os.MkdirTemp("", "swidle-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(dir)
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, srv.CAPEM, 0o600); err != nil {
		return fail("%v", err)
	}
	// Default intervals (60 s, login every 15 min): a person's setup.
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "state_dir = %q\n", filepath.Join(dir, "state"))
	if !*ui {
		cfg.WriteString("ui = false\n") // only then: older builds know no ui key
	}
	fmt.Fprintf(&cfg, "\n[online]\ntargets = [%q]\n", srv.Addr)
	for i := range *accounts {
		fmt.Fprintf(&cfg, "\n[[account]]\nname = \"acct%02d\"\nserver = \"127.0.0.1\"\nport = %d\nsecurity = \"starttls\"\n", i, srv.Port)
		fmt.Fprintf(&cfg, "username = %q\npassword_env = %q\nca_file = %q\n", benchUser, benchPWEnv, ca)
	}
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o600); err != nil {
		return fail("%v", err)
	}
	socket := filepath.Join(dir, "smtpwatch.sock")

	cmd := exec.Command(*bin, "run", "--headless", "--config", cfgPath, "--socket", socket)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "XDG_RUNTIME_DIR=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, ".config"), "XDG_STATE_HOME=" + filepath.Join(dir, ".state"),
		"DBUS_SESSION_BUS_ADDRESS=disabled:", benchPWEnv + "=" + benchPW,
	}
	if *gctrace {
		cmd.Env = append(cmd.Env, "GODEBUG=gctrace=1")
	}
	var out syncBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fail("start %s: %v", *bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	pid := cmd.Process.Pid

	c := api.NewClient(socket)
	defer c.Close()
	if err := waitAnswer(c, exited, 15*time.Second); err != nil {
		return fail("idle: %v\n%s", err, out.tail(20))
	}
	fmt.Printf("idle: smtpwatch run --headless (pid %d), %d accounts at the default intervals against go-smtp on %s; warm-up %v, then measuring %v\n",
		pid, *accounts, srv.Addr, *warmup, *duration)
	uctx, ucancel := context.WithTimeout(context.Background(), 5*time.Second)
	if link, err := c.DashboardURL(uctx); err == nil {
		fmt.Printf("idle: the dashboard listens (%s), closed: no browser has it open\n", strings.SplitN(link, "/login", 2)[0])
	} else {
		fmt.Printf("idle: no dashboard (%v)\n", err)
	}
	ucancel()
	if err := sleepAlive(*warmup, exited); err != nil {
		return fail("idle: %v\n%s", err, out.tail(20))
	}

	ticks0, err := cpuTicks(pid)
	if err != nil {
		return fail("%v", err)
	}
	sessions0 := srv.Sessions.Load()
	start := time.Now()
	var rssSum, rssMax, samples int64
	for time.Since(start) < *duration {
		rss, err := statusKB(pid, "VmRSS")
		if err != nil {
			return fail("%v", err)
		}
		rssSum, rssMax, samples = rssSum+rss, max(rssMax, rss), samples+1
		if err := sleepAlive(min(5*time.Second, *duration-time.Since(start)), exited); err != nil {
			return fail("idle: %v\n%s", err, out.tail(20))
		}
	}
	ticks1, err := cpuTicks(pid)
	if err != nil {
		return fail("%v", err)
	}
	wall := time.Since(start)
	rssEnd, _ := statusKB(pid, "VmRSS")
	rssMax = max(rssMax, rssEnd)
	hwm, _ := statusKB(pid, "VmHWM")
	anon, _ := statusKB(pid, "RssAnon")
	file, _ := statusKB(pid, "RssFile")
	checks := srv.Sessions.Load() - sessions0
	cpuPct := 100 * float64(ticks1-ticks0) / clockTicks / wall.Seconds()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	st, err := c.Status(ctx)
	cancel()
	if err != nil {
		return fail("idle: status: %v", err)
	}
	notOK := 0
	for _, a := range st.Accounts {
		if a.State != "ok" {
			notOK++
		}
	}
	metrics, merr := scrape(socket)

	if err := cmd.Process.Signal(syscall.SIGTERM); err == nil {
		select {
		case <-exited:
			killed = true
		case <-time.After(5 * time.Second):
		}
	}

	fmt.Printf("idle: VmRSS mean %.1f MB, max %.1f MB, at the end %.1f MB; VmHWM (peak since start) %.1f MB\n",
		mb(rssSum/max(samples, 1)), mb(rssMax), mb(rssEnd), mb(hwm))
	fmt.Printf("idle: of the RSS at the end: %.1f MB anonymous (Go heap, stacks, runtime, SQLite's page cache), %.1f MB file-backed (the binary's pages in use)\n",
		mb(anon), mb(file))
	fmt.Printf("idle: CPU %d ticks (%v) in %v = %.3f %% of one core; %d server sessions in the window; combined state %s\n",
		ticks1-ticks0, time.Duration(ticks1-ticks0)*(time.Second/clockTicks), wall.Round(time.Second), cpuPct, checks, st.State)
	if merr != nil {
		fmt.Printf("idle: /metrics: %v\n", merr)
	} else {
		fmt.Println("idle: the daemon's own view (/metrics):")
		for _, m := range []string{
			"process_resident_memory_bytes", "go_memstats_sys_bytes", "go_memstats_heap_sys_bytes",
			"go_memstats_heap_inuse_bytes", "go_memstats_heap_alloc_bytes", "go_memstats_heap_released_bytes",
			"go_memstats_stack_inuse_bytes", "go_memstats_mspan_inuse_bytes", "go_memstats_other_sys_bytes",
			"go_memstats_gc_sys_bytes", "go_memstats_next_gc_bytes", "go_gc_duration_seconds_count",
			"go_goroutines", "go_threads", "process_open_fds",
		} {
			if v, ok := metrics[m]; ok {
				if strings.HasSuffix(m, "_bytes") {
					fmt.Printf("    %-36s %8.1f MB\n", m, v/(1<<20))
				} else {
					fmt.Printf("    %-36s %8.0f\n", m, v)
				}
			}
		}
	}
	if *gctrace {
		fmt.Println("idle: GC trace (last 10 lines):")
		fmt.Println(out.grep("gc ", 10))
	}

	var res results
	res.add("idle: VmRSS, 10 accounts (max over the window)", fmt.Sprintf("%.1f MB", mb(rssMax)), "<= 25 MB", rssMax <= rssBudgetKB)
	res.add("idle: CPU, average over the window", fmt.Sprintf("%.3f %% of a core", cpuPct), "<= 0.1 %", cpuPct <= cpuBudget)
	res.add("idle: accounts not ok at the end", fmt.Sprint(notOK), "0", notOK == 0)
	return res.print()
}

func mb(kb int64) float64 { return float64(kb) / 1024 }

// waitAnswer waits until the daemon answers on its socket.
func waitAnswer(c *api.Client, exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Status(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the daemon did not answer within %v: %w", limit, err)
		}
		if err := sleepAlive(100*time.Millisecond, exited); err != nil {
			return err
		}
	}
}

// sleepAlive waits d, failing if the daemon exits meanwhile.
func sleepAlive(d time.Duration, exited <-chan error) error {
	select {
	case err := <-exited:
		return fmt.Errorf("the daemon exited: %v", err)
	case <-time.After(d):
		return nil
	}
}

// statusKB reads a "Key:   N kB" line of /proc/PID/status.
func statusKB(pid int, key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && k == key {
			f := strings.Fields(v)
			if len(f) >= 1 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, key)
}

// cpuTicks is utime+stime of /proc/PID/stat (all threads), in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, may hold spaces; count from the ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("/proc/PID/stat: unexpected format")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("/proc/PID/stat: too few fields")
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return u + s, nil
}

// scrape reads the daemon's /metrics over its socket: unlabelled series
// only, by name.
func scrape(socket string) (map[string]float64, error) {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	resp, err := hc.Get("http://smtpwatch" + api.PathMetrics)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

// syncBuf collects the daemon's output.
type syncBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuf) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimRight(s.buf.String(), "\n"), "\n")
}

func (s *syncBuf) tail(n int) string {
	l := s.lines()
	return strings.Join(l[max(len(l)-n, 0):], "\n")
}

// grep is the last n lines holding substr.
func (s *syncBuf) grep(substr string, n int) string {
	var hits []string
	for _, l := range s.lines() {
		if strings.Contains(l, substr) {
			hits = append(hits, l)
		}
	}
	return strings.Join(hits[max(len(hits)-n, 0):], "\n")
}
