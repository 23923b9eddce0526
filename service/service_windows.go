package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	kservice "github.com/kardianos/service"
	"golang.org/x/sys/windows"
)

// Per user (the default), smtpwatch is a logon task of the user, started
// in their desktop session where the tray shows; a Windows service runs in
// session 0, where no tray icon can. Build it with
// `go build -ldflags -H=windowsgui` (smtpwatchw.exe in the packages) so no
// console window opens.
//
// System (--system): a Windows service (windowsService in windows.go)
// runs the headless daemon as LocalService, and a logon task starts
// `smtpwatch tray` for every member of the group allowed to reach its API.
// What is handed to Windows here — task XML, the service's configuration,
// the directories' security descriptors — is built by the functions of
// windows.go, which the Linux tests read.

func schtasks(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "schtasks.exe", args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("service: schtasks %s: %w: %s", args[0], err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// createTask registers the task under name from its XML.
func createTask(name string, t logonTask) error {
	f, err := os.CreateTemp("", "smtpwatch-task-*.xml")
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(t.xml())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	_, err = schtasks("/Create", "/TN", name, "/XML", f.Name())
	return err
}

func taskExists(name string) bool {
	_, err := schtasks("/Query", "/TN", name)
	return err == nil
}

// Install creates the logon task (per user), or the Windows service and
// the tray's logon task for the group (system).
func Install(o Options) (string, error) {
	if err := o.check(); err != nil {
		return "", err
	}
	if o.System {
		return installSystem(o)
	}
	if taskExists(o.name()) {
		return "", fmt.Errorf("service: already installed (task %q); uninstall first", o.name())
	}
	u, err := user.Current()
	if err != nil {
		return "", fmt.Errorf("service: %w", err)
	}
	if err := createTask(o.name(), o.userTask(u.Username)); err != nil {
		return "", err
	}
	return "logon task " + o.name(), nil
}

// groupSID is the SID of the group named name ("Users", `DOMAIN\Mail
// watchers`).
func groupSID(name string) (string, error) {
	sid, _, typ, err := windows.LookupSID("", name)
	if err != nil {
		return "", fmt.Errorf("service: group %q: %w", name, err)
	}
	if typ != windows.SidTypeGroup && typ != windows.SidTypeWellKnownGroup && typ != windows.SidTypeAlias {
		return "", fmt.Errorf("service: %q is not a group", name)
	}
	return sid.String(), nil
}

// secureDir makes dir (or takes the one there) with the descriptor sddl.
func secureDir(dir, sddl string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("service: %w", permission(err))
	}
	sd, err := windows.SecurityDescriptorFromString(sddl)
	if err != nil {
		return fmt.Errorf("service: %s: %w", sddl, err)
	}
	dacl, _, err := sd.DACL()
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	owner, _, err := sd.Owner()
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	err = windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION|windows.PROTECTED_DACL_SECURITY_INFORMATION,
		owner, nil, dacl, nil)
	if err != nil {
		return fmt.Errorf("service: securing %s: %w", dir, permission(err))
	}
	return nil
}

// installSystem secures the config, state and socket directories,
// creates the Windows service and the tray's logon task.
func installSystem(o Options) (string, error) {
	sid, err := groupSID(o.Group)
	if err != nil {
		return "", err
	}
	for _, d := range []struct{ dir, sddl string }{
		{filepath.Dir(o.ConfigPath), windowsBaseSDDL(sid)},
		{o.StateDir, windowsStateSDDL()},
		{filepath.Dir(o.Socket), windowsSocketDirSDDL(sid)},
	} {
		if err := secureDir(d.dir, d.sddl); err != nil {
			return "", err
		}
	}
	s, err := kservice.New(noop{}, o.windowsService())
	if err != nil {
		return "", fmt.Errorf("service: %w", err)
	}
	if err := s.Install(); err != nil {
		return "", permission(fmt.Errorf("service: %w (run it from an administrator's prompt)", err))
	}
	if !taskExists(o.trayTaskName()) {
		if err := createTask(o.trayTaskName(), o.trayTask(sid)); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("Windows service %q (as LocalService, started with a delay after boot, restarted on failure, logging to the Event Log) and the tray at the logons of group %s (task %s)",
		o.name(), o.Group, o.trayTaskName()), nil
}

// systemService is the installed Windows service, for control.
func (o Options) systemService() (kservice.Service, error) {
	s, err := kservice.New(noop{}, o.windowsService())
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	return s, nil
}

// installed asks the Service Control Manager (system) or the Task
// Scheduler (per user).
func installed(o Options) (Installation, error) {
	if o.System {
		s, err := o.systemService()
		if err != nil {
			return Installation{}, err
		}
		if _, err := s.Status(); errors.Is(err, kservice.ErrNotInstalled) {
			return Installation{}, nil
		}
		return Installation{What: fmt.Sprintf("Windows service %q (as LocalService)", o.name()), Managed: true}, nil
	}
	if !taskExists(o.name()) {
		return Installation{}, nil
	}
	return Installation{What: "logon task " + o.name(), Managed: true}, nil
}

// remove deletes the tasks and the service; what is missing is no error.
// The config and the state stay; the socket's directory goes once empty.
func remove(o Options) error {
	if !o.System {
		if !taskExists(o.name()) {
			return nil
		}
		_, err := schtasks("/Delete", "/F", "/TN", o.name())
		return err
	}
	if taskExists(o.trayTaskName()) {
		if _, err := schtasks("/Delete", "/F", "/TN", o.trayTaskName()); err != nil {
			return err
		}
	}
	s, err := o.systemService()
	if err != nil {
		return err
	}
	if err := s.Uninstall(); err != nil && !strings.Contains(err.Error(), "not installed") {
		return permission(fmt.Errorf("service: %w", err))
	}
	_ = os.Remove(filepath.Dir(o.Socket))
	return nil
}

// managerStart starts the service, or runs the task now.
func managerStart(o Options) error {
	if o.System {
		s, err := o.systemService()
		if err != nil {
			return err
		}
		return s.Start()
	}
	_, err := schtasks("/Run", "/TN", o.name())
	return err
}

// managerStop stops the service, or ends the task's process.
func managerStop(o Options) error {
	if o.System {
		s, err := o.systemService()
		if err != nil {
			return err
		}
		return s.Stop()
	}
	_, err := schtasks("/End", "/TN", o.name())
	return err
}

// managerState is the Service Control Manager's or the Task Scheduler's
// word on it ("running", "stopped", "ready"...).
func managerState(o Options) string {
	if o.System {
		return kardianosState(o.systemService())
	}
	out, err := schtasks("/Query", "/TN", o.name(), "/FO", "LIST")
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "Status" {
			return strings.ToLower(strings.TrimSpace(v))
		}
	}
	return ""
}

// managerLog: the daemon's own log in its state directory (the service
// also writes to the Event Log).
func managerLog(o Options) (string, []string) {
	if o.StateDir == "" {
		return "", nil
	}
	p := filepath.Join(o.StateDir, "smtpwatch.log")
	return p, tail(p, logLines)
}

// startDetached is not used on Windows: the Task Scheduler or the Service
// Control Manager starts it.
func startDetached(Options) (*exec.Cmd, string, error) {
	return nil, "", errors.New("service: the Task Scheduler starts smtpwatch on Windows")
}
