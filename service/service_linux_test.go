package service

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/instance"
)

func TestDesktopQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/smtpwatch":           "/usr/bin/smtpwatch",
		"run":                          "run",
		"/home/me/My Mail/config.toml": `"/home/me/My Mail/config.toml"`,
		`a"b$c\d` + "`":                `"a\"b\$c\\d\` + "`" + `"`,
		"100%":                         `"100%%"`,
		"":                             `""`,
	} {
		if got := desktopQuote(in); got != want {
			t.Errorf("desktopQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// The Exec line reads back into the words it was written from.
func TestDesktopExecRoundTrip(t *testing.T) {
	for _, args := range [][]string{
		{"/usr/bin/smtpwatch", "run", "--config", "/home/me/.config/smtpwatch/config.toml"},
		{"/opt/smtp watch/smtpwatch", "run", "--config", `/home/me/My "Mail"/100% $HOME\config.toml`, "", "a`b"},
	} {
		p := filepath.Join(t.TempDir(), "x.desktop")
		if err := os.WriteFile(p, []byte(desktopEntry("x", args[0], args[1:])), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := desktopExec(p)
		if err != nil || strings.Join(got, "\x00") != strings.Join(args, "\x00") {
			t.Errorf("desktopExec = %q, %v; want %q", got, err, args)
		}
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// daemonBinary builds ./cmd/smtpwatch once per test run.
func daemonBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "smtpwatch-service-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "smtpwatch")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", binPath, "smtpwatch/cmd/smtpwatch").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	if dir := os.Getenv("SERVICE_TEST_HOLD_LOCK"); dir != "" {
		holdLock(dir)
		return
	}
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// holdLock is a process that holds the instance lock of dir, as a daemon
// does, until it is signalled (the default action of SIGTERM ends it).
func holdLock(dir string) {
	if _, err := instance.Acquire(dir); err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("held")
	select {}
}

// privateSession points the daemon's per-user directories at temporary
// ones (a child inherits them) and returns options for a per-user install
// into them.
func privateSession(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	home, runtime := filepath.Join(dir, "home"), filepath.Join(dir, "run")
	for _, d := range []string{home, runtime} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", home)
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, ".local", "state"))
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:") // no tray: headless
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("state_dir = \""+state+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return Options{Name: "smtpwatch-test", Executable: daemonBinary(t), ConfigPath: cfg, Home: home,
		Socket: filepath.Join(runtime, "smtpwatch", "smtpwatch.sock"), StateDir: state}
}

// stopAtEnd makes sure no daemon of o outlives the test.
func stopAtEnd(t *testing.T, o Options) {
	t.Cleanup(func() {
		if pid, running := Running(context.Background(), o); running && pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// Without a systemd user manager (as on this machine), a per-user install
// is an XDG autostart entry, which has no manager: smtpwatch starts the
// daemon itself and stops it through its process. This runs the real
// binary in a private session: install, start (and start again), status,
// stop, uninstall, each saying what is true. What cannot run here: systemd
// user units (no /run/systemd/system), launchd, the Windows Task Scheduler.
func TestUserAutostart(t *testing.T) {
	if systemdUser() {
		t.Skip("a systemd user manager runs here: install would make a real unit")
	}
	ctx := t.Context()
	o := privateSession(t)
	stopAtEnd(t, o)
	if st, err := Status(ctx, o); err != nil || st.Installed() || st.Running {
		t.Fatalf("Status before install: %+v, %v", st, err)
	}
	if _, _, err := Start(ctx, o); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Start before install: %v", err)
	}
	what, err := Install(o)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(o.Home, ".config", "autostart", "smtpwatch-test.desktop")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%s: %v (Install said %q)", p, err, what)
	}
	if want := "Exec=" + o.Executable + " run --config " + o.ConfigPath + "\n"; !strings.Contains(string(b), want) {
		t.Errorf("entry:\n%s\nlacks %q", b, want)
	}
	if _, err := Install(o); err == nil || !strings.Contains(err.Error(), "already installed") {
		t.Errorf("second Install = %v", err)
	}
	st, err := Status(ctx, o)
	if err != nil || !st.Installed() || st.Managed || st.Running || !strings.Contains(st.What, p) {
		t.Fatalf("Status after install: %+v, %v", st, err)
	}

	pid, already, err := Start(ctx, o)
	if err != nil || already || pid <= 0 {
		t.Fatalf("Start = %d, %v, %v", pid, already, err)
	}
	if !alive(pid) || !answers(ctx, o.Socket) {
		t.Fatalf("process %d alive %v, answers %v", pid, alive(pid), answers(ctx, o.Socket))
	}
	if again, already, err := Start(ctx, o); err != nil || !already || again != pid {
		t.Errorf("second Start = %d, %v, %v; want %d, already", again, already, err, pid)
	}
	if st, err := Status(ctx, o); err != nil || !st.Running || st.PID != pid {
		t.Errorf("Status while running: %+v, %v; want process %d", st, err, pid)
	}
	stopped, err := Stop(ctx, o)
	if err != nil || stopped != pid {
		t.Fatalf("Stop = %d, %v; want %d", stopped, err, pid)
	}
	if alive(pid) || answers(ctx, o.Socket) {
		t.Errorf("process %d still there after Stop", pid)
	}
	if st, err := Status(ctx, o); err != nil || st.Running || !st.Installed() {
		t.Errorf("Status after Stop: %+v, %v", st, err)
	}
	if n, err := Stop(ctx, o); n != 0 || err != nil {
		t.Errorf("Stop with nothing running = %d, %v", n, err)
	}

	// Uninstall stops the daemon and says which.
	pid, _, err = Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Uninstall(ctx, o)
	if err != nil || r.Stopped != pid || !strings.Contains(r.What, p) || r.StillRuns {
		t.Fatalf("Uninstall = %+v, %v; want process %d stopped", r, err, pid)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("entry left behind: %v", err)
	}
	if alive(pid) {
		t.Errorf("process %d still runs after Uninstall", pid)
	}
	if r, err := Uninstall(ctx, o); err != nil || r.What != "" || r.Stopped != 0 {
		t.Errorf("Uninstall of nothing = %+v, %v", r, err)
	}
}

// A daemon that exits at once (here: the config file it was installed with
// is gone) is a failure with the reason and its last words, not
// "Started."; one that does not answer in time is one too.
func TestUserAutostartStartFails(t *testing.T) {
	if systemdUser() {
		t.Skip("a systemd user manager runs here")
	}
	ctx := t.Context()
	o := privateSession(t)
	stopAtEnd(t, o)
	missing := o
	missing.ConfigPath = filepath.Join(t.TempDir(), "gone.toml")
	if _, err := Install(missing); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { Uninstall(context.Background(), o) })
	_, _, err := Start(ctx, missing)
	var se *StartError
	if !errors.As(err, &se) || !strings.Contains(se.Reason, "exited at once (exit status 3)") {
		t.Fatalf("Start = %v, want a StartError saying it exited", err)
	}
	if !strings.Contains(strings.Join(se.Lines, "\n"), "gone.toml") || se.Log != filepath.Join(o.StateDir, DaemonOutput) {
		t.Errorf("last lines %q from %s; want the daemon's complaint about gone.toml", se.Lines, se.Log)
	}
	if st, _ := Status(ctx, o); st.Running {
		t.Errorf("something runs: %+v", st)
	}

	// A daemon listening elsewhere than where Start looks never answers.
	wrong := o
	wrong.Socket = filepath.Join(t.TempDir(), "elsewhere.sock")
	wrong.StartWait = time.Second
	wrong.StateDir = ""
	if _, err := Uninstall(ctx, o); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(o); err != nil {
		t.Fatal(err)
	}
	_, _, err = Start(ctx, wrong)
	if !errors.As(err, &se) || !strings.Contains(se.Reason, "did not answer on "+wrong.Socket+" within 1 s") || !strings.Contains(se.Reason, "still runs") {
		t.Fatalf("Start = %v, want a StartError saying it does not answer", err)
	}
}

// Without a socket to ask, the instance lock tells which process is the
// daemon, and Stop ends that process (SIGTERM) and checks that it ended —
// here before anyone reaped it, as happens to a daemon whose parent is
// gone.
func TestStopThroughTheLock(t *testing.T) {
	ctx := t.Context()
	state := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "SERVICE_TEST_HOLD_LOCK="+state)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "held" {
		t.Fatalf("the helper did not take the lock: %q", line)
	}
	o := Options{Name: "smtpwatch-test-lock", Executable: "/bin/false", ConfigPath: "/nonexistent", Home: t.TempDir(), StateDir: state}
	if pid, running := Running(ctx, o); !running || pid != cmd.Process.Pid {
		t.Fatalf("Running = %d, %v; want process %d", pid, running, cmd.Process.Pid)
	}
	pid, err := Stop(ctx, o)
	if err != nil || pid != cmd.Process.Pid {
		t.Fatalf("Stop = %d, %v; want %d", pid, err, cmd.Process.Pid)
	}
	if _, running := Running(ctx, o); running {
		t.Error("still running after Stop")
	}
	if alive(cmd.Process.Pid) {
		t.Error("alive(zombie) = true")
	}
}

func TestOptionsCheck(t *testing.T) {
	for _, o := range []Options{
		{Executable: "smtpwatch", ConfigPath: "/c"},
		{Executable: "/bin/smtpwatch"},
		{Executable: "/bin/smtpwatch", ConfigPath: "/c", System: true},
	} {
		if _, err := Install(o); err == nil {
			t.Errorf("Install(%+v) accepted", o)
		}
	}
}

// A system install, for real, as root: the OS's service (systemd, or SysV
// init scripts on machines without systemd — as here) runs the daemon
// headless as the user with the shared socket, and the tray starts at the
// user's logins. Status says whether it is installed and runs (not
// "unknown: exit status 1"), Start waits until it answers and says which
// process it is or why it did not start, Stop checks that it ended, and
// Uninstall removes all of it, SysV runlevel links included, saying what
// it stopped. What cannot run here: systemd units (no systemd), launchd.
func TestSystemInstall(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root")
		}
		t.Skip("needs root")
	}
	ctx := t.Context()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	name := "smtpwatch-test-" + strings.ReplaceAll(t.Name(), "/", "-")
	o := Options{Name: name, System: true, Executable: "/usr/local/bin/smtpwatch", ConfigPath: "/etc/smtpwatch/config.toml",
		Socket: "/var/lib/smtpwatch/smtpwatch.sock", StateDir: filepath.Join(home, "state"), UserName: u.Username, Home: home}
	bin := daemonBinary(t)
	t.Cleanup(func() { _, _ = Uninstall(context.Background(), o) })
	if st, err := Status(ctx, o); err != nil || st.Installed() || st.Running {
		t.Fatalf("Status before install: %+v, %v", st, err)
	}
	what, err := Install(o)
	if err != nil {
		t.Fatal(err)
	}
	script := "/etc/init.d/" + name
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		script = "/etc/systemd/system/" + name + ".service"
	}
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatalf("%v (Install said %q)", err, what)
	}
	body := strings.NewReplacer(`"`, "", "'", "").Replace(string(b))
	if !strings.Contains(body, "/usr/local/bin/smtpwatch run --config /etc/smtpwatch/config.toml --headless --socket /var/lib/smtpwatch/smtpwatch.sock") {
		t.Errorf("%s does not run the headless daemon:\n%s", script, b)
	}
	if !strings.Contains(body, "User="+u.Username) && !(strings.Contains(body, "\nuser="+u.Username+"\n") && strings.Contains(body, "--reuid=$user")) {
		t.Errorf("%s does not run as %s:\n%s", script, u.Username, b)
	}
	tray, err := os.ReadFile(filepath.Join(home, ".config", "autostart", name+"-tray.desktop"))
	if err != nil || !strings.Contains(string(tray), "Exec=/usr/local/bin/smtpwatch tray --config /etc/smtpwatch/config.toml --socket /var/lib/smtpwatch/smtpwatch.sock") {
		t.Errorf("tray entry %v:\n%s", err, tray)
	}
	if st, err := Status(ctx, o); err != nil || !st.Installed() || !st.Managed || st.Running || !strings.Contains(st.What, script) {
		t.Errorf("Status after install: %+v, %v", st, err)
	}
	r, err := Uninstall(ctx, o)
	if err != nil || !strings.Contains(r.What, script) || r.Stopped != 0 || r.StillRuns {
		t.Fatalf("Uninstall = %+v, %v", r, err)
	}
	if _, err := os.Stat(script); !os.IsNotExist(err) {
		t.Errorf("%s left behind", script)
	}
	links, _ := filepath.Glob("/etc/rc?.d/*" + name)
	if len(links) > 0 {
		t.Errorf("runlevel links left behind: %v", links)
	}
	if r, err := Uninstall(ctx, o); err != nil || r.What != "" {
		t.Errorf("Uninstall of nothing = %+v, %v", r, err)
	}

	// Installed for real and started by the OS tool, the daemon answers on
	// its socket; started again, it is already running; stopped, it no
	// longer answers.
	dir := t.TempDir()
	// The socket in /run, as by default: the init script makes its
	// directory for the user at start and removes it at stop, as
	// systemd's RuntimeDirectory= does.
	o.Executable, o.ConfigPath, o.Socket = bin, filepath.Join(dir, "config.toml"), "/run/"+name+"/smtpwatch.sock"
	o.StateDir = filepath.Join(dir, "state")
	if err := os.WriteFile(o.ConfigPath, []byte("state_dir = \""+o.StateDir+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(o); err != nil {
		t.Fatal(err)
	}
	pid, already, err := Start(ctx, o)
	if err != nil || already || pid <= 0 {
		log, _ := os.ReadFile("/var/log/" + name + ".log")
		t.Fatalf("Start = %d, %v, %v\n%s", pid, already, err, log)
	}
	c := api.NewClient(o.Socket)
	defer c.Close()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := c.Status(sctx); err != nil {
		t.Errorf("the started service does not answer: %v", err)
	}
	// It runs as the user, hardened as the systemd unit is: no new
	// privileges, an empty capability bounding set, none effective.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nUid:\t" + u.Uid + "\t", "\nNoNewPrivs:\t1\n", "\nCapBnd:\t0000000000000000\n", "\nCapEff:\t0000000000000000\n"} {
		if !strings.Contains(string(status), want) {
			t.Errorf("/proc/%d/status lacks %q:\n%s", pid, want, status)
		}
	}
	if fi, err := os.Stat(filepath.Dir(o.Socket)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the socket's directory: %v, %v", fi.Mode(), err)
	}
	if again, already, err := Start(ctx, o); err != nil || !already || again != pid {
		t.Errorf("second Start = %d, %v, %v; want %d, already", again, already, err, pid)
	}
	if st, err := Status(ctx, o); err != nil || !st.Running || st.PID != pid || st.Manager != "running" {
		t.Errorf("Status = %+v, %v; want running as process %d", st, err, pid)
	}
	if stopped, err := Stop(ctx, o); err != nil || stopped != pid {
		t.Fatalf("Stop = %d, %v; want %d", stopped, err, pid)
	}
	if _, err := c.Status(sctx); err == nil {
		t.Error("the stopped service still answers")
	}
	if st, err := Status(ctx, o); err != nil || st.Running || !st.Installed() || st.Manager != "stopped" {
		t.Errorf("Status after Stop = %+v, %v", st, err)
	}

	// A daemon that cannot start (its config is gone) is a failure, with
	// the init script's log.
	if err := os.Remove(o.ConfigPath); err != nil {
		t.Fatal(err)
	}
	_, _, err = Start(ctx, o)
	var se *StartError
	if !errors.As(err, &se) || se.Log != "/var/log/"+name+".log" || !strings.Contains(strings.Join(se.Lines, "\n"), "config.toml") {
		t.Errorf("Start without a config = %v (%+v), want a StartError with the log's lines", err, se)
	}
	os.Remove("/var/log/" + name + ".log")

	// Uninstall stops a running daemon and says so.
	if err := os.WriteFile(o.ConfigPath, []byte("state_dir = \""+o.StateDir+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if pid, _, err = Start(ctx, o); err != nil {
		t.Fatal(err)
	}
	if r, err := Uninstall(ctx, o); err != nil || r.Stopped != pid || r.StillRuns {
		t.Errorf("Uninstall of a running service = %+v, %v; want process %d stopped", r, err, pid)
	}
	// Nothing of the service is left: no script, runlevel link, pid file,
	// log, runtime directory or tray entry. The config and the state stay.
	left, _ := filepath.Glob("/etc/rc?.d/*" + name)
	for _, p := range []string{script, "/var/run/" + name + ".pid", "/var/log/" + name + ".log", filepath.Dir(o.Socket),
		filepath.Join(home, ".config", "autostart", name+"-tray.desktop")} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			left = append(left, p)
		}
	}
	if len(left) > 0 {
		t.Errorf("left behind after Uninstall: %v", left)
	}
	for _, p := range []string{o.ConfigPath, filepath.Join(o.StateDir, "history.db")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("the user's %s is gone: %v", p, err)
		}
	}
}
