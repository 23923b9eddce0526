package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Editing the config file for `smtpwatch add`, `import` and `remove`. The
// file is a person's: the editor changes only the lines of the accounts it
// adds or removes and keeps every other byte (comments, order, spacing). An
// edit is all or nothing: the new contents are written to a temporary file
// beside the config, checked as Load checks a file, and renamed over it; a
// copy of the old contents stays in FILE.bak; a file that changed while
// the edit was made (an editor saved it) is not replaced. A daemon that
// watches the file (Watch) sees the rename and reloads.

// NewAccount is an account to add to a config file.
type NewAccount struct {
	Name     string
	Settings Settings
	// Comment is written above the [[account]] header, a "# " line per
	// line; "" for none.
	Comment string
}

// Edit errors, wrapped by the *Error that AddAccounts and RemoveAccount
// return.
var (
	// ErrChanged: the file changed on disk while the edit was made; nothing
	// was written. Run the command again.
	ErrChanged = errors.New("the file changed while smtpwatch was editing it")
	// ErrAccountExists: the file already has an account of that name
	// (names ignore case).
	ErrAccountExists = errors.New("account already exists")
	// ErrNoAccount: the file has no account of that name.
	ErrNoAccount = errors.New("no such account")
)

// BackupPath is where AddAccounts and RemoveAccount keep the contents the
// file had before their edit.
func BackupPath(path string) string { return path + ".bak" }

// AddAccounts appends an [[account]] table for each account to the config
// file at path, after everything the file holds. A missing file is created
// from Template (and its folder, mode 0700), mode 0600. It returns the
// config as Load reads the new file.
//
// Nothing is written when an account's name is invalid or already in the
// file (ErrAccountExists), when the existing file does not load (its
// *Error), when the new contents would not load (the *Error names the
// account's key), or when the file changed meanwhile (ErrChanged). The
// replaced contents are kept in BackupPath(path). Every error is an
// *Error naming the file.
func AddAccounts(path string, accounts []NewAccount) (*Config, error) {
	return edit(path, true, func(old []byte, cfg *Config) ([]byte, error) {
		seen := map[string]bool{}
		var b bytes.Buffer
		b.Write(old)
		if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
			b.WriteByte('\n')
		}
		for _, a := range accounts {
			if !validName(a.Name) {
				return nil, &Error{File: path, Key: "name", Msg: fmt.Sprintf("invalid account name %q: use letters, digits, '.', '_' and '-' (at most 64)", a.Name)}
			}
			if _, dup := cfg.Account(a.Name); dup || seen[strings.ToLower(a.Name)] {
				return nil, &Error{File: path, Account: a.Name, Msg: "the file already has an account of that name (names ignore case)", Err: ErrAccountExists}
			}
			seen[strings.ToLower(a.Name)] = true
			b.WriteString("\n")
			b.WriteString(AccountTOML(a))
		}
		return b.Bytes(), nil
	})
}

// RemoveAccount removes the [[account]] table named name (ignoring case)
// from the config file at path, with the comment right above its header
// when `smtpwatch add` or `import` wrote it ("# Added by smtpwatch...",
// "# Imported by smtpwatch..."), and returns the account as it was and the config as Load reads
// the new file. The rest of the file is kept as it was; the old contents
// are kept in BackupPath(path). A missing account is an *Error wrapping
// ErrNoAccount; ErrChanged as for AddAccounts.
func RemoveAccount(path, name string) (Account, *Config, error) {
	var removed Account
	cfg, err := edit(path, false, func(old []byte, cfg *Config) ([]byte, error) {
		a, ok := cfg.Account(name)
		if !ok {
			var names []string
			for _, x := range cfg.Accounts {
				names = append(names, x.Name)
			}
			list := "it has none"
			if len(names) > 0 {
				list = "its accounts: " + strings.Join(names, ", ")
			}
			return nil, &Error{File: path, Msg: fmt.Sprintf("no account named %q (%s)", name, list), Err: ErrNoAccount}
		}
		removed = a
		return removeTable(path, old, a)
	})
	return removed, cfg, err
}

// removeTable cuts the table of a out of src: from its header (or the
// comment smtpwatch wrote right above it) to the line before the next
// table header (comment lines right above that header stay with it), and
// one blank line before it.
func removeTable(path string, src []byte, a Account) ([]byte, error) {
	lines := strings.SplitAfter(string(src), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	h := a.Line - 1 // 0-based
	if h < 0 || h >= len(lines) || !strings.HasPrefix(strings.TrimSpace(lines[h]), "[[") {
		return nil, &Error{File: path, Line: a.Line, Account: a.Name,
			Msg: "the account is not written as an [[account]] table; remove it from the file by hand"}
	}
	end := len(lines) // exclusive
	for _, ln := range tableHeaders(string(src)) {
		if ln-1 > h {
			end = ln - 1
			break
		}
	}
	comment := func(i int) bool { return strings.HasPrefix(strings.TrimSpace(lines[i]), "#") }
	blank := func(i int) bool { return strings.TrimSpace(lines[i]) == "" }
	if end < len(lines) {
		for end-1 > h && comment(end-1) {
			end--
		}
	}
	// The comment right above the header goes with it when smtpwatch
	// wrote it; a person's comment there may be about the whole file.
	start := h
	for start > 0 && comment(start-1) {
		start--
	}
	if first := strings.TrimSpace(lines[min(start, h)]); start < h && !strings.HasPrefix(first, "# Added by smtpwatch") && !strings.HasPrefix(first, "# Imported by smtpwatch") {
		start = h
	}
	if start > 0 && blank(start-1) && (end == len(lines) || blank(end)) {
		start--
	}
	out := strings.Join(lines[:start], "") + strings.Join(lines[end:], "")
	return []byte(out), nil
}

// tableHeaders lists the lines of src's table headers, in order.
func tableHeaders(src string) []int { return scan(src).headers }

// edit reads the file at path (the Template when it is missing and create
// is set), lets change make the new contents, checks them as Load would,
// and replaces the file atomically. See AddAccounts.
func edit(path string, create bool, change func(old []byte, cfg *Config) ([]byte, error)) (*Config, error) {
	real := path
	if r, err := filepath.EvalSymlinks(path); err == nil {
		real = r // edit the file a link points to, keep the link
	}
	old, info, err := readBounded(real)
	exists := err == nil
	switch {
	case errors.Is(err, fs.ErrNotExist) && create:
		old = []byte(Template)
	case err != nil:
		return nil, fileError(path, "cannot read the file", err)
	}
	var cfg *Config
	if exists {
		if cfg, err = parse(path, old, info); err != nil {
			return nil, err
		}
	} else if cfg, err = Parse(path, old); err != nil {
		return nil, err
	}
	data, err := change(old, cfg)
	if err != nil {
		return nil, err
	}

	dir := filepath.Dir(real)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fileError(path, "cannot create its folder", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(real)+".*.tmp")
	if err != nil {
		return nil, fileError(path, "cannot write beside the file", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	mode := fs.FileMode(0o600)
	if exists {
		mode = info.Mode().Perm()
	}
	if err := tmp.Chmod(mode); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return nil, fileError(path, "cannot set the new file's mode", err)
	}
	if exists {
		if err := chownLike(tmp, info); err != nil {
			return nil, fileError(path, "cannot give the new file its owner", err)
		}
	}
	if _, err := tmp.Write(data); err != nil {
		return nil, fileError(path, "cannot write the new file", err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fileError(path, "cannot write the new file", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fileError(path, "cannot write the new file", err)
	}
	tinfo, err := os.Stat(tmp.Name())
	if err != nil {
		return nil, fileError(path, "cannot read the new file", err)
	}
	// The new file as Load reads it, with the config's name in messages.
	newCfg, err := parse(path, data, tinfo)
	if err != nil {
		return nil, err
	}

	if exists {
		if err := writeBackup(BackupPath(real), old); err != nil {
			return nil, fileError(path, "cannot keep a backup", err)
		}
		now, _, err := readBounded(real)
		if err != nil || !bytes.Equal(now, old) {
			return nil, &Error{File: path, Msg: ErrChanged.Error() + "; nothing was written: run the command again", Err: ErrChanged}
		}
		if err := os.Rename(tmp.Name(), real); err != nil {
			return nil, fileError(path, "cannot replace the file", err)
		}
	} else {
		// A hard link fails when a file appeared meanwhile, where a rename
		// would replace it.
		if err := os.Link(tmp.Name(), real); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return nil, &Error{File: path, Msg: ErrChanged.Error() + "; nothing was written: run the command again", Err: ErrChanged}
			}
			if _, serr := os.Lstat(real); serr == nil {
				return nil, &Error{File: path, Msg: ErrChanged.Error() + "; nothing was written: run the command again", Err: ErrChanged}
			}
			if err := os.Rename(tmp.Name(), real); err != nil { // no hard links here
				return nil, fileError(path, "cannot create the file", err)
			}
		} else {
			os.Remove(tmp.Name())
		}
	}
	done = true
	syncDir(dir)
	newCfg.File = path
	return newCfg, nil
}

// readBounded reads a config file of at most MaxFileSize bytes.
func readBounded(path string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(data) > MaxFileSize {
		return nil, nil, fmt.Errorf("the file is larger than %d bytes", MaxFileSize)
	}
	return data, info, nil
}

// writeBackup writes data to path, mode 0600, replacing what was there.
func writeBackup(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// syncDir makes a rename in dir durable where the OS allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// AccountTOML is the [[account]] table of a, as AddAccounts appends it:
// its comment, the header, then name and every setting a gives, in the
// order of the Template.
func AccountTOML(a NewAccount) string {
	var b strings.Builder
	if a.Comment != "" {
		for _, l := range strings.Split(strings.TrimRight(a.Comment, "\n"), "\n") {
			b.WriteString(strings.TrimRight("# "+oneLine(l), " ") + "\n")
		}
	}
	b.WriteString("[[account]]\n")
	str := func(key string, v *string) {
		if v != nil {
			fmt.Fprintf(&b, "%s = %s\n", key, tomlQuote(*v))
		}
	}
	num := func(key string, v *int) {
		if v != nil {
			fmt.Fprintf(&b, "%s = %d\n", key, *v)
		}
	}
	boolean := func(key string, v *bool) {
		if v != nil {
			fmt.Fprintf(&b, "%s = %t\n", key, *v)
		}
	}
	dur := func(key string, v *time.Duration) {
		if v != nil {
			fmt.Fprintf(&b, "%s = %s\n", key, tomlQuote(shortDuration(*v)))
		}
	}
	s := a.Settings
	name := a.Name
	str("name", &name)
	str("preset", s.Preset)
	str("server", s.Server)
	num("port", s.Port)
	str("security", s.Security)
	str("username", s.Username)
	boolean("password_keyring", s.PasswordKeyring)
	str("password_env", s.PasswordEnv)
	str("password_command", s.PasswordCommand)
	str("auth", s.Auth)
	str("oauth_provider", s.OAuthSettings.Provider)
	str("oauth_client_id", s.ClientID)
	str("oauth_tenant", s.Tenant)
	str("oauth_token_command", s.TokenCommand)
	str("from", s.From)
	str("rcpt", s.Rcpt)
	str("ca_file", s.CAFile)
	str("ehlo_name", s.EHLOName)
	boolean("tls_skip_verify", s.TLSSkipVerify)
	boolean("allow_plaintext_auth", s.AllowPlaintextAuth)
	boolean("enabled", s.Enabled)
	dur("interval", s.Interval)
	dur("auth_interval", s.AuthInterval)
	dur("timeout", s.Timeout)
	num("cert_warn_days", s.CertWarnDays)
	dur("slow_threshold", s.SlowThreshold)
	num("failure_threshold", s.FailureThreshold)
	num("success_threshold", s.SuccessThreshold)
	return b.String()
}

// oneLine replaces control characters (line breaks) with spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// tomlQuote writes s as a TOML basic string. Bytes that are not UTF-8
// cannot be written in TOML and become U+FFFD.
func tomlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
