package config

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/BurntSushi/toml"
)

// describe names a TOML value's type, with the value when short. It never
// shows the text of a password_* key: people put passwords there by mistake.
func describe(key string, v any) string {
	switch v := v.(type) {
	case string:
		if len(v) > 40 || strings.HasPrefix(key, "password") {
			return "a string"
		}
		return fmt.Sprintf("string %q", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("float %v", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case []map[string]any:
		return "[[tables]]"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case time.Time, toml.Primitive:
		return "a date or time"
	}
	return fmt.Sprintf("%T", v)
}

// displayKey quotes a key that is not plain, so that an error stays one
// readable line.
func displayKey(k string) string {
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return strconv.Quote(k)
		}
	}
	return k
}

// shortDuration prints 1m0s as 1m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// hostPort checks a host:port address; the host may be empty when
// emptyHost.
func hostPort(addr string, emptyHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q: want host:port, like \"1.1.1.1:443\" or \"[2606:4700::1111]:443\"", addr)
	}
	if host == "" && !emptyHost {
		return fmt.Errorf("invalid address %q: the host is missing", addr)
	}
	if host != "" && !validHost(host) {
		return fmt.Errorf("invalid address %q: bad host %q", addr, host)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strings.HasPrefix(port, "+") {
		return fmt.Errorf("invalid address %q: the port must be a number from 1 to 65535", addr)
	}
	return nil
}

func validName(n string) bool {
	if n == "" || len(n) > 64 {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// checkAddress accepts what can go in MAIL FROM:<...> or RCPT TO:<...>.
func checkAddress(a string, o Origin) error {
	if a == "" {
		return fmt.Errorf("empty; leave both %s and %s out to skip the envelope check", o.name("from"), o.name("rcpt"))
	}
	if strings.IndexFunc(a, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("invalid address %q: it contains a space or a line break", a)
	}
	if strings.ContainsAny(a, "<>") {
		return fmt.Errorf("invalid address %q: write the bare address, without < >", a)
	}
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return fmt.Errorf("invalid address %q: want name@domain", a)
	}
	if len(a) > 254 {
		return fmt.Errorf("invalid address: longer than 254 characters")
	}
	return nil
}

// shellQuote quotes a file name for a command the user can paste.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// maxCAFile bounds the CA file read; system bundles are about 200 KiB.
const maxCAFile = 4 << 20

// LoadCAFile reads a PEM file of CA certificates into a pool of its own,
// for --ca-file. Errors say what is wrong with the file.
func LoadCAFile(path string) (*x509.CertPool, error) {
	pool, _, err := ReadCAFile(path)
	return pool, err
}

// ReadCAFile reads a PEM file of CA certificates into a pool of its own and
// returns the SHA-256 of the contents read, so that callers can tell a
// changed file (see Account.CADigest). Errors say what is wrong with the
// file.
func ReadCAFile(p string) (*x509.CertPool, [32]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("cannot read %s: %v", p, unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCAFile+1))
	if err != nil {
		return nil, [32]byte{}, fmt.Errorf("cannot read %s: %v", p, unwrapPath(err))
	}
	if len(data) > maxCAFile {
		return nil, [32]byte{}, fmt.Errorf("%s is larger than %d bytes; want a PEM file of CA certificates", p, maxCAFile)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, [32]byte{}, fmt.Errorf("no PEM certificate in %s: want a file with -----BEGIN CERTIFICATE----- blocks", p)
	}
	return pool, sha256.Sum256(data), nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ReloadCA reads the account's ca_file again, so that a check made now (a
// manual check, status --refresh) trusts what the file holds now rather
// than what it held at Load. It returns the account with RootCAs and
// CADigest from the file as it is, and whether its contents changed; an
// account without ca_file comes back as it is. On error (the file is gone
// or no longer PEM) it returns the account unchanged and an *Error at the
// account's table, key ca_file. It only reads the file: the caller decides
// what a change means (Key() differs, as after a reload).
func (a Account) ReloadCA() (Account, bool, error) {
	if a.CAFile == "" {
		return a, false, nil
	}
	pool, digest, err := ReadCAFile(a.CAFile)
	if err != nil {
		return a, false, &Error{File: a.File, Line: a.Line, Account: a.Name, Key: "ca_file", Msg: err.Error()}
	}
	changed := digest != a.CADigest
	a.RootCAs, a.CADigest = pool, digest
	return a, changed, nil
}
