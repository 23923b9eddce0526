//go:build linux

// Command trayshots serves the loopback SMTP servers and writes the
// configs that put `smtpwatch run` in each tray state, for
// scripts/tray-screenshots. It is a helper for pictures, not a test:
//
//	go run ./scripts/trayshots -dir DIR
//
// writes DIR/ca.pem and DIR/<state>.toml for starting, ok, degraded,
// failing, offline, two (one account failing, one working) and recover
// (a server that is down until the helper gets SIGUSR1), then DIR/ready,
// and serves until interrupted. The right password is "secret"; the
// accounts read theirs from $MAIL_PASSWORD, $WORK_PASSWORD or, where the
// password is to be rejected, $CHARTER_PASSWORD. Everything listens on
// 127.0.0.1.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"smtpwatch/monitor/smtptest"
)

const user = "me@charter.net"

// tb lets smtptest, made for tests, run in a program: it calls only
// Helper, Fatal and Cleanup. The embedded testing.TB is nil and never used.
type tb struct {
	testing.TB
	cleanups []func()
}

func (t *tb) Helper()           {}
func (t *tb) Fatal(args ...any) { log.Fatal(args...) }
func (t *tb) Cleanup(f func())  { t.cleanups = append(t.cleanups, f) }
func (t *tb) Skip(args ...any)  { log.Fatal(args...) }

func main() {
	dir := flag.String("dir", "", "where to write the configs")
	flag.Parse()
	if *dir == "" {
		log.Fatal("-dir is required")
	}
	t := &tb{}
	defer func() {
		for i := len(t.cleanups) - 1; i >= 0; i-- {
			t.cleanups[i]()
		}
	}()

	ca := smtptest.NewCA(t, "smtpwatch demo CA", "smtpwatch")
	caFile := filepath.Join(*dir, "ca.pem")
	must(os.WriteFile(caFile, ca.PEM, 0o600))
	users := map[string]string{user: "secret"}
	good := ca.Issue(t, smtptest.Leaf{})
	expiring := ca.Issue(t, smtptest.Leaf{NotAfter: time.Now().Add(5*24*time.Hour + time.Hour)})
	okSrv := smtptest.Start(t, smtptest.Options{Cert: &good, Users: users})
	workSrv := smtptest.Start(t, smtptest.Options{Cert: &good, Users: map[string]string{"me@work.example": "secret"}})
	expSrv := smtptest.Start(t, smtptest.Options{Cert: &expiring, Users: users})
	silent := smtptest.Start(t, smtptest.Options{Handler: smtptest.Silent})
	online := smtptest.Start(t, smtptest.Options{}) // any loopback listener will do
	dropped := smtptest.Blackhole(t)                // SYNs dropped: a blocked port
	nowhere := smtptest.Blackhole(t)

	// recover's server: a port that refuses until SIGUSR1, then forwards
	// to the working server.
	hold, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	downAddr := hold.Addr().String()
	hold.Close()

	account := func(name, preset, addr, username, env, extra string) string {
		s := fmt.Sprintf("\n[[account]]\nname = %q\n", name)
		if preset != "" {
			s += fmt.Sprintf("preset = %q\n", preset)
		}
		return s + fmt.Sprintf("server = \"127.0.0.1\"\nport = %d\nsecurity = \"starttls\"\nusername = %q\npassword_env = %q\nca_file = %q\ninterval = \"5s\"\nfailure_threshold = 0\nsuccess_threshold = 1\n%s",
			smtptest.Port(t, addr), username, env, caFile, extra)
	}
	header := func(state, online string) string {
		return fmt.Sprintf("state_dir = %q\n[online]\ntargets = [%q]\n", filepath.Join(*dir, "state-"+state), online)
	}
	configs := map[string]string{
		"starting": header("starting", online.Addr) + account("charter", "charter", silent.Addr, user, "MAIL_PASSWORD", "timeout = \"60s\"\n"),
		"ok":       header("ok", online.Addr) + account("charter", "charter", okSrv.Addr, user, "MAIL_PASSWORD", ""),
		"degraded": header("degraded", online.Addr) + account("charter", "charter", expSrv.Addr, user, "MAIL_PASSWORD", ""),
		"failing":  header("failing", online.Addr) + account("charter", "charter", okSrv.Addr, user, "CHARTER_PASSWORD", ""),
		"offline":  header("offline", nowhere) + account("charter", "charter", dropped, user, "MAIL_PASSWORD", "timeout = \"4s\"\n"),
		"two": header("two", online.Addr) + account("charter", "charter", okSrv.Addr, user, "CHARTER_PASSWORD", "") +
			account("Work", "", workSrv.Addr, "me@work.example", "WORK_PASSWORD", ""),
		"recover": header("recover", online.Addr) + account("charter", "charter", downAddr, user, "MAIL_PASSWORD", ""),
	}
	for name, c := range configs {
		must(os.WriteFile(filepath.Join(*dir, name+".toml"), []byte(c), 0o600))
	}
	must(os.WriteFile(filepath.Join(*dir, "ready"), nil, 0o600))
	log.Printf("trayshots: serving; configs in %s", *dir)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	for s := range sig {
		if s != syscall.SIGUSR1 {
			return
		}
		ln, err := net.Listen("tcp", downAddr)
		if err != nil {
			log.Printf("trayshots: %v", err)
			continue
		}
		defer ln.Close()
		go forward(ln, okSrv.Addr)
		log.Printf("trayshots: %s is up", downAddr)
	}
}

// forward copies every connection to ln to and from target.
func forward(ln net.Listener, target string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			s, err := net.Dial("tcp", target)
			if err != nil {
				return
			}
			defer s.Close()
			go io.Copy(s, c)
			io.Copy(c, s)
		}()
	}
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
