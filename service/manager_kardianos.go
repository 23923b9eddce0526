//go:build linux || darwin

package service

// managerStart asks the service manager kardianos picked (systemd, SysV,
// launchd) to start the installed daemon.
func managerStart(o Options) error {
	s, err := o.kardianos(!o.System, nil)
	if err != nil {
		return err
	}
	return s.Start()
}

// managerStop asks the service manager to stop the installed daemon.
func managerStop(o Options) error {
	s, err := o.kardianos(!o.System, nil)
	if err != nil {
		return err
	}
	return s.Stop()
}
