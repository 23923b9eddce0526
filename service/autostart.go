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

// desktopExec reads the Exec line of the entry at path back into the
// program and its arguments, undoing desktopQuote.
func desktopExec(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("service: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		exec, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), "Exec=")
		if !ok {
			continue
		}
		var words []string
		var w strings.Builder
		inWord, quoted := false, false
		for i := 0; i < len(exec); i++ {
			c := exec[i]
			switch {
			case quoted && c == '\\' && i+1 < len(exec):
				i++
				w.WriteByte(exec[i])
			case c == '"':
				quoted, inWord = !quoted, true
			case !quoted && (c == ' ' || c == '\t'):
				if inWord {
					words = append(words, w.String())
					w.Reset()
					inWord = false
				}
			case c == '%' && i+1 < len(exec) && exec[i+1] == '%':
				i++
				w.WriteByte('%')
				inWord = true
			default:
				w.WriteByte(c)
				inWord = true
			}
		}
		if quoted {
			return nil, fmt.Errorf("service: %s: unbalanced quotes in Exec", path)
		}
		if inWord {
			words = append(words, w.String())
		}
		if len(words) == 0 {
			break
		}
		return words, nil
	}
	return nil, fmt.Errorf("service: %s has no Exec line", path)
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
