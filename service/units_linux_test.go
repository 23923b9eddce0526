package service

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needTool is the path of a program the test cannot do without: a
// failure under CI (scripts/test installs it), a skip elsewhere.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (scripts/test installs it)", name)
		}
		t.Skipf("%s is missing", name)
	}
	return p
}

func TestSystemdQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/smtpwatch":           "/usr/bin/smtpwatch",
		"--config":                     "--config",
		"/home/me/My Mail/config.toml": `"/home/me/My Mail/config.toml"`,
		`a"b\c`:                        `"a\"b\\c"`,
		"100%":                         "100%%",
		"$HOME":                        "$$HOME",
		"it's":                         `"it's"`,
		";":                            `";"`,
		"":                             `""`,
	} {
		if got := systemdQuote(in); got != want {
			t.Errorf("systemdQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

// unitFixture is a system install as `service install --system` makes
// it by default, run by bin.
func unitFixture(bin string) Options {
	return Options{Name: "smtpwatch", System: true, Executable: bin, ConfigPath: "/home/me/.config/smtpwatch/config.toml",
		Socket: "/run/smtpwatch/smtpwatch.sock", StateDir: "/home/me/.local/state/smtpwatch", UserName: "me"}
}

// unitLines are the unit's settings as KEY=VALUE lines.
func unitLines(unit string) map[string][]string {
	m := map[string][]string{}
	for _, l := range strings.Split(unit, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = append(m[k], v)
		}
	}
	return m
}

// The system unit holds the hardening the README promises, writes only
// its state and socket directories, and systemd itself (systemd-analyze
// verify, offline: no systemd runs here) finds nothing wrong in it or in
// the user unit.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze := needTool(t, "systemd-analyze")
	bin := daemonBinary(t)
	o := unitFixture(bin)
	sys := systemUnit(o)
	got := unitLines(sys)
	for k, want := range map[string]string{
		"ExecStart":               bin + " run --config /home/me/.config/smtpwatch/config.toml --headless --socket /run/smtpwatch/smtpwatch.sock",
		"User":                    "me",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "read-only",
		"ReadWritePaths":          "/home/me/.local/state/smtpwatch",
		"RuntimeDirectory":        "smtpwatch",
		"RuntimeDirectoryMode":    "0700",
		"PrivateTmp":              "yes",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
		"CapabilityBoundingSet":   "",
		"Restart":                 "on-failure",
		"After":                   "network-online.target",
		"WantedBy":                "multi-user.target",
	} {
		if len(got[k]) != 1 || got[k][0] != want {
			t.Errorf("system unit %s = %q, want %q", k, got[k], want)
		}
	}
	if f := got["SystemCallFilter"]; len(f) == 0 || f[0] != "@system-service" {
		t.Errorf("SystemCallFilter = %q, want @system-service first", f)
	}
	// A state under /var/lib is systemd's StateDirectory=.
	lib := o
	lib.StateDir = "/var/lib/smtpwatch-me"
	if g := unitLines(systemUnit(lib)); len(g["StateDirectory"]) != 1 || g["StateDirectory"][0] != "smtpwatch-me" || len(g["ReadWritePaths"]) != 0 {
		t.Errorf("state under /var/lib: StateDirectory %q, ReadWritePaths %q", g["StateDirectory"], g["ReadWritePaths"])
	}

	user := o
	user.System = false
	uu := unitLines(userUnit(user))
	if uu["After"][0] != "graphical-session.target" || uu["WantedBy"][0] != "default.target" || uu["ExecStart"][0] != bin+" run --config /home/me/.config/smtpwatch/config.toml" {
		t.Errorf("user unit:\n%s", userUnit(user))
	}

	dir := t.TempDir()
	for name, unit := range map[string]string{"smtpwatch.service": sys, "smtpwatch-user.service": userUnit(user)} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		out, err := exec.CommandContext(ctx, analyze, "verify", "--man=no", p).CombinedOutput()
		cancel()
		if err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify %s: %v\n%s\n%s", name, err, out, unit)
		}
	}
	// And a unit it would refuse is refused: the check is not blind.
	bad := filepath.Join(dir, "bad.service")
	os.WriteFile(bad, []byte(strings.Replace(sys, "ProtectSystem=strict", "ProtectSystem=sideways", 1)), 0o644)
	if out, err := exec.Command(analyze, "verify", "--man=no", bad).CombinedOutput(); !strings.Contains(string(out), "sideways") {
		t.Errorf("systemd-analyze verify took a wrong ProtectSystem= (%v): %s", err, out)
	}
}

// exposure is `systemd-analyze security --offline=true`'s overall
// exposure level of the unit file at path (0 best, 10 worst).
func exposure(t *testing.T, analyze, path string) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "security", "--offline=true", path).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	f, _ := strconv.ParseFloat(string(m[1]), 64)
	return f
}

// The README's exposure figure is what systemd-analyze says of the unit
// `service install --system` writes — not a figure from an older unit.
func TestSystemUnitExposure(t *testing.T) {
	analyze := needTool(t, "systemd-analyze")
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("`systemd-analyze security`\\s+rates it ([0-9.]+)").FindSubmatch(readme)
	if m == nil {
		t.Fatal("the README does not give the system unit's exposure level")
	}
	p := filepath.Join(t.TempDir(), "smtpwatch.service")
	if err := os.WriteFile(p, []byte(systemUnit(unitFixture("/usr/bin/smtpwatch"))), 0o644); err != nil {
		t.Fatal(err)
	}
	got := exposure(t, analyze, p)
	if want, _ := strconv.ParseFloat(string(m[1]), 64); got != want {
		t.Errorf("systemd-analyze security rates the system unit %.1f; the README says %s", got, m[1])
	}
	// The figure moves with the unit: without its sandbox it is far worse.
	bare := regexp.MustCompile(`(?m)^(NoNewPrivileges|Protect\w+|Private\w+|Restrict\w+|CapabilityBoundingSet|SystemCall\w+|MemoryDenyWriteExecute|LockPersonality)=.*\n`).
		ReplaceAllString(systemUnit(unitFixture("/usr/bin/smtpwatch")), "")
	if err := os.WriteFile(p, []byte(bare), 0o644); err != nil {
		t.Fatal(err)
	}
	if worse := exposure(t, analyze, p); worse < got+5 {
		t.Errorf("without its sandbox the unit rates %.1f, with it %.1f", worse, got)
	}
}

// A socket or state directory under /tmp cannot work with the unit's
// private /tmp: install says so rather than install a tray that never
// finds its daemon.
func TestSystemdPathsRefused(t *testing.T) {
	o := unitFixture("/usr/bin/smtpwatch")
	for _, bad := range []Options{{Socket: "/tmp/smtpwatch/s.sock", StateDir: o.StateDir}, {Socket: o.Socket, StateDir: "/var/tmp/state"}} {
		if err := bad.checkSystemdPaths(); err == nil || !strings.Contains(err.Error(), "private to the system service") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	if err := o.checkSystemdPaths(); err != nil {
		t.Errorf("the default paths: %v", err)
	}
}

var updateShipped = flag.Bool("update-shipped", false, "rewrite packaging/linux/smtpwatch.service from userUnit")

// The user unit the packages ship (/usr/lib/systemd/user) is the one
// `service install` writes, for /usr/bin/smtpwatch and the user's default
// config: one text, in userUnit. (go test ./service -run TestShippedUserUnit
// -update-shipped rewrites the file.)
func TestShippedUserUnit(t *testing.T) {
	const shipped = "../packaging/linux/smtpwatch.service"
	want := userUnit(Options{Executable: "/usr/bin/smtpwatch"})
	if *updateShipped {
		if err := os.WriteFile(shipped, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is not userUnit's text (run with -update-shipped):\n%s\nwant\n%s", shipped, got, want)
	}
	if !strings.Contains(want, "\nExecStart=/usr/bin/smtpwatch run\n") {
		t.Errorf("the shipped unit does not run the packaged binary with the user's config:\n%s", want)
	}
}
