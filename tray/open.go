package tray

import "os/exec"

// startDetached starts cmd (a file opener) and reaps it in the background:
// the viewer it starts may run for as long as the person reads.
func startDetached(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}
