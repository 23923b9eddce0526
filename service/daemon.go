package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"smtpwatch/monitor/api"
	"smtpwatch/monitor/human"
	"smtpwatch/monitor/instance"
)

// The operating system's side of each platform file:
//
//	installed(o) (Installation, error)     how smtpwatch is installed
//	remove(o) error                        remove what Install made, without stopping anything
//	managerStart(o), managerStop(o) error  through the service manager
//	managerState(o) string                 the manager's word on the service
//	managerLog(o) (string, []string)       where the daemon's output goes, and its last lines
//	startDetached(o) (*exec.Cmd, string, error)
//	                                        start `smtpwatch run` without a manager (autostart)

// poll is how often Start and Stop look at the daemon while they wait.
const poll = 100 * time.Millisecond

// logLines is how many of the daemon's last lines a failure shows.
const logLines = 8

// answers reports whether a daemon answers on socket within a second.
func answers(ctx context.Context, socket string) bool {
	if socket == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	c := api.NewClient(socket)
	defer c.Close()
	_, err := c.Status(ctx)
	return err == nil
}

// lockHolder is the process holding the instance lock of o.StateDir.
func lockHolder(o Options) (int, bool) {
	if o.StateDir == "" {
		return 0, false
	}
	pid, held, err := instance.Holder(o.StateDir)
	return pid, err == nil && held
}

// Running reports whether a daemon runs for o, and its process id (0 when
// the system does not tell): the process answering on o.Socket, else the
// one holding the instance lock of o.StateDir. It asks the socket first:
// looking at the lock takes it for an instant when it is free, and a
// daemon starting at that instant would find it taken.
func Running(ctx context.Context, o Options) (pid int, running bool) {
	if answers(ctx, o.Socket) {
		return daemonPID(o), true
	}
	return lockHolder(o)
}

// daemonPID is the process id of a daemon that answers on o.Socket: the
// socket's peer where the system tells it (Linux), else the lock's holder.
func daemonPID(o Options) int {
	if pid := peerPID(o.Socket); pid > 0 {
		return pid
	}
	pid, _ := lockHolder(o)
	return pid
}

// ended reports whether the daemon pid (0: unknown) is gone: it no longer
// answers, holds no lock, and the process has ended.
func ended(ctx context.Context, o Options, pid int) bool {
	if answers(ctx, o.Socket) {
		return false
	}
	if _, held := lockHolder(o); held {
		return false
	}
	return pid <= 0 || !alive(pid)
}

// waitEnded waits, bounded by o.StopWait, until ended.
func waitEnded(ctx context.Context, o Options, pid int) bool {
	deadline := time.Now().Add(o.stopWait())
	for {
		if ended(ctx, o, pid) {
			return true
		}
		if time.Now().After(deadline) || !sleep(ctx, poll) {
			return false
		}
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// StartError says why a daemon that was started does not run. Lines are
// the last lines of its output (from Log) when there are any.
type StartError struct {
	Reason string
	Log    string
	Lines  []string
}

func (e *StartError) Error() string {
	return "service: the daemon did not start: " + e.Reason
}

// Status says how smtpwatch is installed, whether a daemon runs and which
// process it is.
func Status(ctx context.Context, o Options) (State, error) {
	inst, err := installed(o)
	if err != nil {
		return State{}, err
	}
	st := State{Installation: inst}
	st.PID, st.Running = Running(ctx, o)
	if inst.Managed {
		st.Manager = managerState(o)
	}
	return st, nil
}

// Start starts the installed daemon and waits, bounded by o.StartWait,
// until it answers on o.Socket (or, without a socket, holds the lock of
// o.StateDir). It returns the daemon's process id (0 when the system does
// not tell), and already = true when one ran before, which it leaves
// alone. A daemon that exits, or does not answer in time, is a
// *StartError with the reason and its last lines of output. Nothing
// installed is ErrNotInstalled.
func Start(ctx context.Context, o Options) (pid int, already bool, err error) {
	inst, err := installed(o)
	if err != nil {
		return 0, false, err
	}
	if !inst.Installed() {
		return 0, false, ErrNotInstalled
	}
	if pid, running := Running(ctx, o); running {
		return pid, true, nil
	}
	var child *exec.Cmd
	var exited chan error
	output := ""
	if inst.Managed {
		if err := managerStart(o); err != nil {
			where, lines := managerLog(o)
			return 0, false, &StartError{Reason: startFailure(err, managerState(o)), Log: where, Lines: lines}
		}
	} else {
		child, output, err = startDetached(o)
		if err != nil {
			return 0, false, err
		}
		exited = make(chan error, 1)
		go func() { exited <- child.Wait() }()
	}
	deadline := time.Now().Add(o.startWait())
	nextManagerLook := time.Now().Add(time.Second)
	for {
		if answers(ctx, o.Socket) {
			pid := daemonPID(o)
			if pid == 0 && child != nil {
				pid = child.Process.Pid
			}
			return pid, false, nil
		}
		if o.Socket == "" {
			if pid, held := lockHolder(o); held {
				return pid, false, nil
			}
		}
		select {
		case err := <-exited:
			return 0, false, &StartError{Reason: "it exited at once (" + exitWords(err) + ")", Log: output, Lines: tail(output, logLines)}
		default:
		}
		if inst.Managed && time.Now().After(nextManagerLook) {
			nextManagerLook = time.Now().Add(time.Second)
			if s := managerState(o); s == "stopped" || s == "failed" {
				where, lines := managerLog(o)
				return 0, false, &StartError{Reason: "the service manager says it is " + s, Log: where, Lines: lines}
			}
		}
		if time.Now().After(deadline) {
			e := &StartError{Reason: fmt.Sprintf("it did not answer on %s within %s", o.Socket, human.Duration(o.startWait()))}
			switch {
			case child != nil:
				e.Reason += fmt.Sprintf(" (process %d still runs: stop it with kill %d)", child.Process.Pid, child.Process.Pid)
				e.Log, e.Lines = output, tail(output, logLines)
			default:
				if s := managerState(o); s != "" {
					e.Reason += "; the service manager says it is " + s
				}
				e.Log, e.Lines = managerLog(o)
			}
			return 0, false, e
		}
		if !sleep(ctx, poll) {
			return 0, false, ctx.Err()
		}
	}
}

// startFailure is the reason a service manager gave for not starting.
func startFailure(err error, state string) string {
	s := "the service manager could not start it: " + strings.TrimSpace(permission(err).Error())
	if state != "" {
		s += "; it says the service is " + state
	}
	return s
}

// exitWords says how a process ended: "exit status 3".
func exitWords(err error) string {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &ee):
		return ee.ProcessState.String()
	}
	return err.Error()
}

// Stop stops the daemon of o and waits, bounded by o.StopWait, until it
// has ended. A service manager stops the daemon it runs; without one (an
// autostart entry, or a daemon started by hand) Stop ends the process
// holding the instance lock or answering on the socket (SIGTERM on Unix)
// — never any other. It returns the process id stopped, 0 when none ran.
func Stop(ctx context.Context, o Options) (pid int, err error) {
	inst, err := installed(o)
	if err != nil {
		return 0, err
	}
	pid, running := Running(ctx, o)
	if inst.Managed {
		if err := managerStop(o); err != nil {
			return 0, permission(fmt.Errorf("service: stopping: %w", err))
		}
		if !waitEnded(ctx, o, pid) {
			if now, still := Running(ctx, o); still {
				return 0, fmt.Errorf("service: the daemon still runs after the service manager stopped the service: %s", stopHint(now))
			}
		}
		if !running {
			return 0, nil
		}
		return pid, nil
	}
	if !running {
		return 0, nil
	}
	if pid <= 0 {
		return 0, fmt.Errorf("service: a daemon answers on %s but the system does not tell which process it is: quit it from its tray menu", o.Socket)
	}
	if err := terminate(pid); err != nil {
		return 0, fmt.Errorf("service: stopping process %d: %w", pid, err)
	}
	if !waitEnded(ctx, o, pid) {
		return 0, fmt.Errorf("service: process %d did not end within %s of SIGTERM: end it with kill -9 %d", pid, human.Duration(o.stopWait()), pid)
	}
	return pid, nil
}

// stopHint says how to stop the daemon pid by hand.
func stopHint(pid int) string {
	if pid > 0 {
		return fmt.Sprintf("process %d; stop it with kill %d, or Quit in its tray menu", pid, pid)
	}
	return "quit it from its tray menu"
}

// Removal is what Uninstall did.
type Removal struct {
	// What was removed, in words; "" when nothing was installed.
	What string
	// Stopped is the process id of the daemon Uninstall stopped; 0 when
	// none ran (or the system did not tell).
	Stopped int
	// StillRuns is set when a daemon runs afterwards (started by hand, or
	// it would not stop); StillRunning is its process id when known.
	StillRuns    bool
	StillRunning int
}

// Uninstall stops the installed daemon and removes what Install made. It
// does nothing, and no error, when nothing is installed. A daemon that
// runs afterwards is in the Removal; when Uninstall had tried to stop it,
// that is an error too.
func Uninstall(ctx context.Context, o Options) (Removal, error) {
	inst, err := installed(o)
	if err != nil {
		return Removal{}, err
	}
	var r Removal
	var stopErr error
	if inst.Installed() {
		r.Stopped, stopErr = Stop(ctx, o)
		if err := remove(o); err != nil {
			return r, err
		}
		r.What = inst.What
	}
	r.StillRunning, r.StillRuns = Running(ctx, o)
	switch {
	case stopErr != nil:
		return r, stopErr
	case r.StillRuns && inst.Installed():
		return r, fmt.Errorf("service: a daemon still runs: %s", stopHint(r.StillRunning))
	}
	return r, nil
}

// tail is the last n lines of the file at path (nil when unreadable).
func tail(path string, n int) []string {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	const window = 16 << 10
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	off := max(fi.Size()-window, 0)
	b := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(b, off); err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(bytes.ToValidUTF8(b, []byte("?"))), "\n"), "\n")
	if off > 0 && len(lines) > 1 {
		lines = lines[1:] // a partial first line
	}
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return lines[max(len(lines)-n, 0):]
}

// outputFile is where a daemon started without a manager writes its
// output, truncated at each start: DaemonOutput in its state directory.
func (o Options) outputFile() (*os.File, string, error) {
	if o.StateDir == "" {
		f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		return f, "", err
	}
	if err := os.MkdirAll(o.StateDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("service: %w", err)
	}
	p := filepath.Join(o.StateDir, DaemonOutput)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("service: %w", err)
	}
	return f, p, nil
}

// DaemonOutput is the file, in the state directory, that holds what a
// daemon started without a service manager printed since its start.
const DaemonOutput = "daemon-output.log"
