//go:build !windows && !darwin

package service

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// desktopEntry is an XDG autostart entry that runs exe with args at login.
func desktopEntry(name, exe string, args []string) string {
	words := []string{desktopQuote(exe)}
	for _, a := range args {
		words = append(words, desktopQuote(a))
	}
	return fmt.Sprintf(`[Desktop Entry]
Type=Application
Name=%s
Comment=Tells you when sending mail would fail, and why
Exec=%s
Icon=mail-send
Terminal=false
X-GNOME-Autostart-enabled=true
`, name, strings.Join(words, " "))
}

// desktopQuote quotes one Exec argument as the Desktop Entry spec wants:
// in double quotes when it holds a reserved character, with ", `, $ and \
// escaped by a backslash.
func desktopQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n\"'\\><~|&;$*?#()`%=") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", `$`, `\$`, `%`, `%%`)
	return `"` + r.Replace(s) + `"`
}

func (o Options) autostartPath(name string) (string, error) {
	dir, err := o.configHome()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "autostart", name+".desktop"), nil
}

// writeAutostart writes the entry, owned by uid:gid when they are >= 0 (a
// system install by root writes into the user's home).
func (o Options) writeAutostart(name string, args []string, uid, gid int) (string, error) {
	p, err := o.autostartPath(name)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("service: %w", err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(desktopEntry(name, o.Executable, args)), 0o644); err != nil {
		return "", fmt.Errorf("service: %w", err)
	}
	if uid >= 0 {
		if err := os.Lchown(tmp, uid, gid); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("service: %w", err)
		}
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("service: %w", err)
	}
	return p, nil
}

// removeAutostart removes the entry; a missing one is no error. It reports
// whether there was one.
func (o Options) removeAutostart(name string) (bool, error) {
	p, err := o.autostartPath(name)
	if err != nil {
		return false, err
	}
	err = os.Remove(p)
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("service: %w", err)
	}
	return true, nil
}
