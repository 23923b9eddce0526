package config

import (
	"errors"
	"unicode/utf8"

	"fmt"
	"golang.org/x/net/idna"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
)

// DefaultPath is the config file's usual place:
// os.UserConfigDir()/smtpwatch/config.toml (~/.config on Linux,
// ~/Library/Application Support on macOS, %AppData% on Windows).
func DefaultPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("config path: %w", err)
	}
	return filepath.Join(dir, "smtpwatch", "config.toml"), nil
}

// ParseServer splits a --server HOST[:PORT] argument. IPv6 addresses with
// a port go in brackets ("[2001:db8::25]:587"); a bare IPv6 address
// ("2001:db8::25") or a bracketed one without a port is accepted too. port
// is 0 when absent. The host comes back without brackets.
func ParseServer(s string) (host string, port int, err error) {
	bad := func(why string) (string, int, error) {
		return "", 0, fmt.Errorf("invalid server %q: %s", s, why)
	}
	if s == "" {
		return bad("empty")
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return bad("it contains a space or a control character")
	}
	if a, err := netip.ParseAddr(s); err == nil { // an IPv4 or bare IPv6 address
		return a.String(), 0, nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		a, err := netip.ParseAddr(s[1 : len(s)-1])
		if err != nil || !a.Is6() {
			return bad("want an IPv6 address inside [ ]")
		}
		return a.String(), 0, nil
	}
	if !strings.Contains(s, ":") {
		if !validHost(s) {
			return bad("want a host name or IP address, like smtp.example.com")
		}
		if err := checkIDNA(s); err != nil {
			return bad(err.Error())
		}
		return s, 0, nil
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return bad("want HOST or HOST:PORT, with an IPv6 address in brackets: [2001:db8::25]:587")
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || strings.HasPrefix(p, "+") {
		return bad("the port must be a number from 1 to 65535")
	}
	if h == "" {
		return bad("the host is missing")
	}
	bracketed := strings.HasPrefix(s, "[")
	if a, err := netip.ParseAddr(h); err == nil {
		switch {
		case a.Is6() && !bracketed:
			return bad("put an IPv6 address in brackets: [" + h + "]:" + p)
		case !a.Is6() && bracketed:
			return bad("only IPv6 addresses go in brackets")
		}
		return a.String(), n, nil
	}
	if bracketed {
		return bad("only IPv6 addresses go in brackets")
	}
	if strings.Contains(h, ":") || !validHost(h) {
		return bad("want a host name or IP address, like smtp.example.com")
	}
	if err := checkIDNA(h); err != nil {
		return bad(err.Error())
	}
	return h, n, nil
}

// checkIDNA checks an internationalised host name ("mäil.exämple.de", or
// its "xn--" form) the way a lookup will convert it: with IDNA's Lookup
// profile. Plain ASCII names are left to validHost, which also allows the
// '_' some mail hosts have.
func checkIDNA(h string) error {
	ascii := true
	for i := 0; i < len(h); i++ {
		ascii = ascii && h[i] < utf8.RuneSelf
	}
	if ascii && !strings.HasPrefix(strings.ToLower(h), "xn--") && !strings.Contains(strings.ToLower(h), ".xn--") {
		return nil
	}
	a, err := idna.Lookup.ToASCII(h)
	if err != nil {
		return fmt.Errorf("not a valid international domain name (%v)", strings.TrimPrefix(err.Error(), "idna: "))
	}
	if len(a) > 253 {
		return errors.New("longer than 253 characters once converted for DNS")
	}
	return nil
}

// validHost accepts host names (letters, digits, '-', '.', '_' and
// non-ASCII letters for internationalised names) and IP addresses.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "" || len(h) > 253 || strings.HasPrefix(h, ".") || strings.HasPrefix(h, "-") || strings.Contains(h, "..") {
		return false
	}
	for _, r := range h {
		if !(r == '.' || r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}
