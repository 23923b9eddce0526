package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Editing the keys of one account, for a form that shows the file as it
// was when it was opened (the dashboard's settings). The form carries the
// file's Version; an edit made on another version — the file was saved by
// hand, or by another page, meanwhile — is refused with ErrChanged and
// nothing is written, so that the person can compare and decide. The
// edit changes only the lines of the keys it sets or removes: every other
// byte, comments included, stays; the new contents go through the same
// checks as Load (an invalid value is refused with the file, line and
// key), and are written as AddAccounts writes, atomically with a backup.

// Version identifies the contents of a config file: a hash of its bytes.
func Version(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// ReadForEdit loads the config file at path as Load does, and returns its
// bytes and their Version too, so that an edit can be made against what
// was read. A missing file wraps fs.ErrNotExist; errors are *Error.
func ReadForEdit(path string) (cfg *Config, data []byte, version string, err error) {
	data, info, err := readBounded(path)
	if err != nil {
		return nil, nil, "", fileError(path, "cannot read the file", err)
	}
	cfg, err = parse(path, data, info)
	if err != nil {
		return nil, nil, "", err
	}
	return cfg, data, Version(data), nil
}

// KeyEdit sets or removes one key of an [[account]] table.
type KeyEdit struct {
	// Key is an account key ("server", "port", "interval"...); not "name".
	Key string
	// Value is the new value as a person types it in a form: text, a
	// number, true or false, a duration such as "90s". A number or a
	// boolean that does not read as one is written as text, so that the
	// file's own check says what is wrong with it. nil removes the key.
	Value *string
}

// AccountValues returns, by lower-case account name, the keys of each
// [[account]] table as data (the contents of the config file path, as
// ReadForEdit read them into cfg) writes them, each value in the form
// KeyEdit takes: text unquoted, numbers in decimal, booleans as true or
// false, durations as written.
func AccountValues(path string, cfg *Config, data []byte) (map[string]map[string]string, error) {
	return accountValues(path, cfg, data)
}

func accountValues(path string, cfg *Config, data []byte) (map[string]map[string]string, error) {
	var doc struct {
		Account []map[string]any `toml:"account"`
	}
	if _, err := toml.Decode(string(data), &doc); err != nil {
		return nil, &Error{File: path, Msg: "cannot read the accounts' keys: " + err.Error()}
	}
	out := map[string]map[string]string{}
	for i, t := range doc.Account {
		if i >= len(cfg.Accounts) {
			break
		}
		vals := map[string]string{}
		for k, v := range t {
			switch x := v.(type) {
			case string:
				vals[k] = x
			case int64:
				vals[k] = strconv.FormatInt(x, 10)
			case bool:
				vals[k] = strconv.FormatBool(x)
			default:
				vals[k] = fmt.Sprint(x)
			}
		}
		out[strings.ToLower(cfg.Accounts[i].Name)] = vals
	}
	return out, nil
}

// EditAccount applies edits to the [[account]] table named name (ignoring
// case) in the config file at path, if the file is still at version (see
// Version; "" skips the comparison), and returns the config as Load reads
// the new file.
//
// Nothing is written when the file is at another version, or changes
// while the edit is made (an *Error wrapping ErrChanged), when it has no
// such account (ErrNoAccount), when a key is not an account key or is
// written over several lines (the *Error names it), or when the new
// contents do not load: that *Error is Load's, naming the file, the line
// and the key in the new contents. The old contents are kept in
// BackupPath(path).
func EditAccount(path, name, version string, edits []KeyEdit) (*Config, error) {
	return edit(path, false, func(old []byte, cfg *Config) ([]byte, error) {
		if err := checkVersion(path, old, version); err != nil {
			return nil, err
		}
		i, a, err := findAccount(path, cfg, name)
		if err != nil {
			return nil, err
		}
		return editTable(path, old, i, a, edits)
	})
}

// RemoveAccountAt is RemoveAccount if the file is still at version (""
// skips the comparison); otherwise nothing is written and the *Error
// wraps ErrChanged.
func RemoveAccountAt(path, name, version string) (Account, *Config, error) {
	var removed Account
	cfg, err := edit(path, false, func(old []byte, cfg *Config) ([]byte, error) {
		if err := checkVersion(path, old, version); err != nil {
			return nil, err
		}
		_, a, err := findAccount(path, cfg, name)
		if err != nil {
			return nil, err
		}
		removed = a
		return removeTable(path, old, a)
	})
	return removed, cfg, err
}

func checkVersion(path string, old []byte, version string) error {
	if version != "" && Version(old) != version {
		return &Error{File: path, Msg: "the file changed since it was read; nothing was written", Err: ErrChanged}
	}
	return nil
}

// findAccount returns the account named name and its index among the
// [[account]] tables.
func findAccount(path string, cfg *Config, name string) (int, Account, error) {
	for i, a := range cfg.Accounts {
		if strings.EqualFold(a.Name, name) {
			return i, a, nil
		}
	}
	var names []string
	for _, x := range cfg.Accounts {
		names = append(names, x.Name)
	}
	list := "it has none"
	if len(names) > 0 {
		list = "its accounts: " + strings.Join(names, ", ")
	}
	return 0, Account{}, &Error{File: path, Msg: fmt.Sprintf("no account named %q (%s)", name, list), Err: ErrNoAccount}
}

// keyKind is how a form's text is written for an account key: "string",
// "int", "bool" or "duration"; "" for a key accounts do not have.
func keyKind(key string) string {
	for _, kf := range fieldsOf(&accountTable{}) {
		if kf.key != key {
			continue
		}
		switch kf.f.(type) {
		case *tomlString:
			return "string"
		case *tomlInt:
			return "int"
		case *tomlBool:
			return "bool"
		case *tomlDuration:
			return "duration"
		}
	}
	return ""
}

// tomlValue writes a form's text for key as a TOML value.
func tomlValue(key, v string) string {
	switch keyKind(key) {
	case "int":
		if _, err := strconv.Atoi(v); err == nil && !strings.HasPrefix(v, "+") {
			return v
		}
	case "bool":
		if v == "true" || v == "false" {
			return v
		}
	}
	return tomlQuote(v)
}

// editTable applies edits to the i-th [[account]] table, a, of src.
func editTable(file string, src []byte, i int, a Account, edits []KeyEdit) ([]byte, error) {
	lines := strings.SplitAfter(string(src), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	h := a.Line - 1
	if h < 0 || h >= len(lines) || !strings.HasPrefix(strings.TrimSpace(lines[h]), "[[") {
		return nil, &Error{File: file, Line: a.Line, Account: a.Name,
			Msg: "the account is not written as an [[account]] table; edit it in the file by hand"}
	}
	ln, _, _ := locate(string(src))
	end := len(lines) // exclusive, 0-based
	for _, hl := range tableHeaders(string(src)) {
		if hl-1 > h {
			end = hl - 1
			break
		}
	}
	// The line of each key written in the table, and the last of them.
	keyLine := func(key string) (int, bool) {
		l, ok := ln[path{"account", index(i), key}.key()]
		return l - 1, ok
	}
	last := h
	for _, k := range accountKeys() {
		if l, ok := keyLine(k); ok && l > last && l < end {
			last = l
		}
	}

	replace := map[int]string{} // line → new line; "" deletes it
	var inserts []string
	seen := map[string]bool{}
	for _, e := range edits {
		if e.Key == "name" || keyKind(e.Key) == "" {
			return nil, &Error{File: file, Account: a.Name, Key: e.Key, Msg: "not a key this editor changes"}
		}
		if seen[e.Key] {
			return nil, &Error{File: file, Account: a.Name, Key: e.Key, Msg: "given twice"}
		}
		seen[e.Key] = true
		l, written := keyLine(e.Key)
		switch {
		case !written && e.Value == nil:
			// Nothing to remove.
		case !written:
			inserts = append(inserts, e.Key+" = "+tomlValue(e.Key, *e.Value)+"\n")
		case e.Value == nil:
			replace[l] = ""
		default:
			nl, ok := replaceValue(lines[l], tomlValue(e.Key, *e.Value))
			if !ok {
				return nil, &Error{File: file, Line: l + 1, Account: a.Name, Key: e.Key,
					Msg: "written over several lines; change it in the file by hand"}
			}
			replace[l] = nl
		}
	}
	var b strings.Builder
	for n, line := range lines {
		if nl, ok := replace[n]; ok {
			line = nl
		}
		b.WriteString(line)
		if n == last && len(inserts) > 0 {
			if line != "" && !strings.HasSuffix(line, "\n") {
				b.WriteString("\n")
			}
			for _, ins := range inserts {
				b.WriteString(ins)
			}
		}
	}
	return []byte(b.String()), nil
}

// replaceValue puts value in place of the value of the one-line
// "key = value  # comment" line, keeping the key, the spacing and the
// comment; false for a value that goes on past the line (a multi-line
// string, an array).
func replaceValue(line, value string) (string, bool) {
	eq := -1
	for j := 0; j < len(line); j++ {
		c := line[j]
		if c == '"' || c == '\'' { // a quoted key
			k := strings.IndexByte(line[j+1:], c)
			if k < 0 {
				return "", false
			}
			j += k + 1
			continue
		}
		if c == '=' {
			eq = j
			break
		}
	}
	if eq < 0 {
		return "", false
	}
	start := eq + 1
	for start < len(line) && (line[start] == ' ' || line[start] == '\t') {
		start++
	}
	rest := line[start:]
	var n int // the value's length in rest
	switch {
	case strings.HasPrefix(rest, `"""`), strings.HasPrefix(rest, "'''"), strings.HasPrefix(rest, "["), strings.HasPrefix(rest, "{"):
		return "", false
	case strings.HasPrefix(rest, `"`):
		j := 1
		for ; j < len(rest) && rest[j] != '"' && rest[j] != '\n'; j++ {
			if rest[j] == '\\' {
				j++
			}
		}
		if j >= len(rest) || rest[j] != '"' {
			return "", false
		}
		n = j + 1
	case strings.HasPrefix(rest, "'"):
		k := strings.IndexAny(rest[1:], "'\n")
		if k < 0 || rest[1+k] != '\'' {
			return "", false
		}
		n = k + 2
	default:
		n = len(rest)
		if k := strings.IndexAny(rest, "#\r\n"); k >= 0 {
			n = k
		}
		n = len(strings.TrimRight(rest[:n], " \t"))
	}
	return line[:start] + value + rest[n:], true
}
