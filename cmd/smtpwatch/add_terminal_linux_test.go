//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/keyringtest"
	"smtpwatch/monitor/smtptest"
)

// terminal is a real pseudo-terminal and everything it has shown.
type terminal struct {
	t         *testing.T
	ptmx, tty *os.File
	mu        sync.Mutex
	screen    bytes.Buffer
	done      chan struct{}
}

func newTerminal(t *testing.T) *terminal {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	term := &terminal{t: t, ptmx: ptmx, tty: tty, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		buf := make([]byte, 1024)
		for {
			n, err := ptmx.Read(buf)
			term.mu.Lock()
			term.screen.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { ptmx.Close(); tty.Close() })
	return term
}

func (term *terminal) shown() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.screen.String()
}

// after waits until the screen shows want after position from, and
// returns the position after it.
func (term *terminal) after(ctx context.Context, from int, want string) int {
	term.t.Helper()
	var at int
	waitFor(term.t, ctx, fmt.Sprintf("%q on the terminal", want), func() bool {
		s := term.shown()
		if from > len(s) {
			return false
		}
		i := strings.Index(s[from:], want)
		at = from + i + len(want)
		return i >= 0
	})
	return at
}

func (term *terminal) echoOff() bool {
	tio, err := unix.IoctlGetTermios(int(term.tty.Fd()), unix.TCGETS)
	return err == nil && tio.Lflag&unix.ECHO == 0
}

func (term *terminal) typeIn(s string) {
	term.t.Helper()
	if _, err := term.ptmx.Write([]byte(s)); err != nil {
		term.t.Fatal(err)
	}
}

// TestAddInteractiveKeyring: the whole interactive flow in a real
// terminal, with a real gnome-keyring: choose among the servers found,
// accept the name, type a wrong password (echo off), see the report, type
// the right one, decline the service; the password is in the keyring and
// never on the screen. Then `remove` takes the account and its password
// away.
func TestAddInteractiveKeyring(t *testing.T) {
	if !keyringtest.InChild(t, "TestAddInteractiveKeyring") {
		return
	}
	b := newAddBed(t)
	b.autoconfig(
		server("mail.example.test", b.srv.Port, "STARTTLS", "password-cleartext"),
		server("closed.example.test", smtptest.Port(t, smtptest.ClosedPort(t)), "SSL", "password-cleartext"),
	)
	term := newTerminal(t)
	var stdout bytes.Buffer
	a := &app{stdin: term.tty, stdout: &stdout, stderr: term.tty, getenv: func(string) string { return "" },
		logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- a.addWith(ctx, []string{"--config", b.cfg, "--ca-file", b.caFile, "--socket", b.socket, addUser}, b.env())
	}()

	at := term.after(ctx, 0, "2. Example: closed.example.test")
	at = term.after(ctx, at, "Use which [1]: ")
	term.typeIn("\r")
	at = term.after(ctx, at, "Name for this account [example]: ")
	term.typeIn("\r")
	at = term.after(ctx, at, "Password for "+addUser+": ")
	waitFor(t, ctx, "echo off", term.echoOff)
	term.typeIn("wrong-" + addPass + "\r")
	at = term.after(ctx, at, "Password for "+addUser+": ")
	waitFor(t, ctx, "echo off", term.echoOff)
	term.typeIn(addPass + "\r")
	term.after(ctx, at, "Start it now, and at every login? (Y/n): ")
	term.typeIn("n\r")
	var code int
	select {
	case code = <-done:
	case <-ctx.Done():
		t.Fatalf("add did not finish; terminal shows %q", term.shown())
	}
	if code != exitOK {
		t.Fatalf("exit %d\n%s\nterminal: %q", code, stdout.String(), term.shown())
	}
	if !strings.Contains(stdout.String(), "password was rejected") || !strings.Contains(stdout.String(), "the password is in the OS keyring") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	if n := b.srv.AuthAttempts.Load(); n != 2 {
		t.Errorf("%d sign-ins, want 2", n)
	}
	if strings.Contains(term.shown()+stdout.String(), addPass) {
		t.Errorf("the password was shown: %q", term.shown())
	}
	acct, ok := b.load().Account("example")
	if !ok || acct.Credential.Source != config.CredentialKeyring || acct.Server != "mail.example.test" {
		t.Fatalf("account %+v", acct)
	}
	if s, err := acct.Password(ctx); err != nil || s.Reveal() != addPass {
		t.Fatalf("the keyring holds %v, %v", s, err)
	}

	// remove: the account and its keyring entry.
	var out, errOut bytes.Buffer
	r := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }, logger: a.logger}
	if code := r.main(ctx, []string{"remove", "--config", b.cfg, "example"}); code != exitOK {
		t.Fatalf("remove: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "Removed its password from the OS keyring.") {
		t.Errorf("remove said:\n%s", out.String())
	}
	if _, err := credential.FromKeyring(ctx, "example"); !errors.Is(err, credential.ErrNotFound) {
		t.Errorf("after remove the keyring gives %v", err)
	}
	if _, ok := b.load().Account("example"); ok {
		t.Error("the account is still in the config")
	}
}

// TestAddOffersService: in a terminal, with no daemon running, add offers
// to start watching in the background, and does so when told yes.
func TestAddOffersService(t *testing.T) {
	b := newAddBed(t)
	b.autoconfig(
		server("mail.example.test", b.srv.Port, "STARTTLS", "password-cleartext"),
		server("closed.example.test", smtptest.Port(t, smtptest.ClosedPort(t)), "SSL", "password-cleartext"),
	)
	term := newTerminal(t)
	var stdout bytes.Buffer
	a := &app{stdin: term.tty, stdout: &stdout, stderr: term.tty, getenv: func(string) string { return "" },
		logger: slog.New(slog.DiscardHandler)}
	env := b.env()
	var installed []string
	env.service = func(_ context.Context, _ *app, path string) int {
		installed = append(installed, path)
		return exitOK
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- a.addWith(ctx, []string{"--config", b.cfg, "--ca-file", b.caFile, "--socket", b.socket,
			"--password-command", passwordCommand(), addUser}, env)
	}()
	at := term.after(ctx, 0, "Use which [1]: ")
	term.typeIn("\r")
	at = term.after(ctx, at, "Name for this account [example]: ")
	term.typeIn("home\r")
	term.after(ctx, at, "Start it now, and at every login? (Y/n): ")
	term.typeIn("\r")
	select {
	case code := <-done:
		if code != exitOK || len(installed) != 1 || installed[0] != b.cfg {
			t.Fatalf("exit %d, installed %v\n%s\nterminal: %q", code, installed, stdout.String(), term.shown())
		}
	case <-ctx.Done():
		t.Fatalf("add did not finish; terminal shows %q", term.shown())
	}
	if _, ok := b.load().Account("home"); !ok {
		t.Error("no account home")
	}
}

// TestAddSaysAppPassword: for a provider that wants an app password, the
// terminal says so, with the page to make one, before asking.
func TestAddSaysAppPassword(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "never-dialled"))
	b := newAddBed(t)
	term := newTerminal(t)
	a := &app{stdin: term.tty, stdout: io.Discard, stderr: term.tty, getenv: func(string) string { return "" },
		logger: slog.New(slog.DiscardHandler)}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stop, stopNow := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		done <- a.addWith(stop, []string{"--config", b.cfg, "--socket", b.socket, "me@gmail.com"}, b.env())
	}()
	at := term.after(ctx, 0, "2. Gmail: smtp.gmail.com, port 465 (SSL/TLS)\r\nUse which [1]: ")
	term.typeIn("\r")
	at = term.after(ctx, at, "Name for this account [gmail]: ")
	term.typeIn("\r")
	at = term.after(ctx, at, "Gmail wants an app password for mail programs, not your account's password: create one at https://myaccount.google.com/apppasswords")
	term.after(ctx, at, "Password for me@gmail.com: ")
	stopNow()
	if code := <-done; code != exitUnknown {
		t.Errorf("exit %d", code)
	}
	b.noConfig()
}

// mainChildEnv makes the test binary run smtpwatch's main instead of the
// tests (see TestMain), to run it as its own process in a terminal.
const mainChildEnv = "SMTPWATCH_TEST_RUN_MAIN"

// TestAddCtrlC: Ctrl-C at any question of `smtpwatch add`, in a real
// terminal whose process group gets the SIGINT, ends it at once with
// exit status 3; the terminal has its echo back; nothing is written.
func TestAddCtrlC(t *testing.T) {
	for _, at := range []string{"Name for this account [example]: ", "Password for " + addUser + ": "} {
		t.Run(strings.Fields(at)[0], func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config.toml")
			term := newTerminal(t)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "add", "--config", cfg, "--server", "mail.example.test:1", addUser)
			// A bus address that is never dialled: the keyring is only
			// touched after the check, which Ctrl-C prevents.
			cmd.Env = append(os.Environ(), mainChildEnv+"=1", "DBUS_SESSION_BUS_ADDRESS=unix:path="+filepath.Join(dir, "no-bus"))
			cmd.Stdin, cmd.Stdout, cmd.Stderr = term.tty, term.tty, term.tty
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(at, "Password") {
				term.after(ctx, 0, "Name for this account [example]: ")
				term.typeIn("work\r")
				term.after(ctx, 0, at)
				waitFor(t, ctx, "echo off", term.echoOff)
			} else {
				term.after(ctx, 0, at)
			}
			start := time.Now()
			term.typeIn("\x03")
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitUnknown {
				t.Fatalf("exit %v, want status %d\nterminal: %q", err, exitUnknown, term.shown())
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %v to stop", took)
			}
			if term.echoOff() {
				t.Error("the terminal was left without echo")
			}
			waitFor(t, ctx, "the message", func() bool { return strings.Contains(term.shown(), "nothing was written") })
			if _, err := os.Stat(cfg); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a config was written")
			}
			if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) > 0 {
				t.Errorf("files left: %v", m)
			}
		})
	}
}

func TestMain(m *testing.M) {
	if os.Getenv(mainChildEnv) == "1" {
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}
