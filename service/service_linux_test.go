package service

import (
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smtpwatch/monitor/api"
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

// Without a systemd user manager (as on this machine), a per-user install
// is an XDG autostart entry; it cannot be installed twice and uninstalls
// cleanly.
func TestUserAutostart(t *testing.T) {
	if systemdUser() {
		t.Skip("a systemd user manager runs here: install would make a real unit")
	}
	home := t.TempDir()
	o := Options{Name: "smtpwatch-test", Executable: "/opt/smtp watch/smtpwatch", ConfigPath: "/home/me/.config/smtpwatch/config.toml", Home: home}
	what, err := Install(o)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(home, ".config", "autostart", "smtpwatch-test.desktop")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%s: %v (Install said %q)", p, err, what)
	}
	if want := `Exec="/opt/smtp watch/smtpwatch" run --config /home/me/.config/smtpwatch/config.toml` + "\n"; !strings.Contains(string(b), want) {
		t.Errorf("entry:\n%s\nlacks %q", b, want)
	}
	if !strings.Contains(what, p) || !strings.Contains(Status(o), "autostart entry") {
		t.Errorf("Install said %q, Status %q", what, Status(o))
	}
	if _, err := Install(o); err == nil || !strings.Contains(err.Error(), "already installed") {
		t.Errorf("second Install = %v", err)
	}
	if err := Stop(o); err == nil || !strings.Contains(err.Error(), "tray menu") {
		t.Errorf("Stop = %v: an autostart daemon has no manager", err)
	}
	if err := Uninstall(o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("entry left behind: %v", err)
	}
	if st := Status(o); st != "not installed" {
		t.Errorf("Status after uninstall = %q", st)
	}
	if err := Uninstall(o); err != nil {
		t.Errorf("second Uninstall = %v", err)
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
// init scripts on machines without systemd) runs the daemon headless as the
// user with the shared socket, and the tray starts at the user's logins.
// Uninstall removes all of it, SysV runlevel links included.
func TestSystemInstall(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root")
		}
		t.Skip("needs root")
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	name := "smtpwatch-test-" + strings.ReplaceAll(t.Name(), "/", "-")
	o := Options{Name: name, System: true, Executable: "/usr/local/bin/smtpwatch", ConfigPath: "/etc/smtpwatch/config.toml",
		Socket: "/var/lib/smtpwatch/smtpwatch.sock", UserName: u.Username, Home: home}
	// The second half installs the real binary and starts it.
	bin := filepath.Join(t.TempDir(), "smtpwatch")
	if out, err := exec.Command("go", "build", "-o", bin, "smtpwatch/cmd/smtpwatch").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = Uninstall(o) })
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
	body := strings.ReplaceAll(string(b), `"`, "")
	if !strings.Contains(body, "/usr/local/bin/smtpwatch run --config /etc/smtpwatch/config.toml --headless --socket /var/lib/smtpwatch/smtpwatch.sock") {
		t.Errorf("%s does not run the headless daemon:\n%s", script, b)
	}
	if !strings.Contains(body, "User="+u.Username) && !strings.Contains(body, "--reuid="+u.Username) {
		t.Errorf("%s does not run as %s:\n%s", script, u.Username, b)
	}
	tray, err := os.ReadFile(filepath.Join(home, ".config", "autostart", name+"-tray.desktop"))
	if err != nil || !strings.Contains(string(tray), "Exec=/usr/local/bin/smtpwatch tray --config /etc/smtpwatch/config.toml --socket /var/lib/smtpwatch/smtpwatch.sock") {
		t.Errorf("tray entry %v:\n%s", err, tray)
	}
	if err := Uninstall(o); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); !os.IsNotExist(err) {
		t.Errorf("%s left behind", script)
	}
	links, _ := filepath.Glob("/etc/rc?.d/*" + name)
	if len(links) > 0 {
		t.Errorf("runlevel links left behind: %v", links)
	}

	// Installed for real and started by the OS tool, the daemon answers on
	// its socket; stopped, it no longer does.
	dir := t.TempDir()
	o.Executable, o.ConfigPath, o.Socket = bin, filepath.Join(dir, "config.toml"), filepath.Join(dir, "smtpwatch.sock")
	if err := os.WriteFile(o.ConfigPath, []byte("state_dir = \""+filepath.Join(dir, "state")+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Install(o); err != nil {
		t.Fatal(err)
	}
	if err := Start(o); err != nil {
		t.Fatalf("Start: %v", err)
	}
	c := api.NewClient(o.Socket)
	defer c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Status(ctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile("/var/log/" + name + ".log")
			t.Fatalf("the started service never answered: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st := Status(o); st != "installed, running" {
		t.Errorf("Status = %q", st)
	}
	if err := Stop(o); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := c.Status(ctx); err == nil {
		t.Error("the stopped service still answers")
	}
	if err := Uninstall(o); err != nil {
		t.Fatal(err)
	}
}
