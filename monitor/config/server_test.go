package config

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParseServer(t *testing.T) {
	tests := []struct {
		name, in string
		host     string
		port     int
		ok       bool
	}{
		{"name", "smtp.charter.net", "smtp.charter.net", 0, true},
		{"name and port", "smtp.charter.net:465", "smtp.charter.net", 465, true},
		{"IPv4", "192.0.2.25", "192.0.2.25", 0, true},
		{"IPv4 and port", "192.0.2.25:587", "192.0.2.25", 587, true},
		{"bare IPv6", "2001:db8::25", "2001:db8::25", 0, true},
		{"bare IPv6 loopback", "::1", "::1", 0, true},
		{"IPv6 in brackets", "[2001:db8::25]", "2001:db8::25", 0, true},
		{"IPv6 and port", "[2001:db8::25]:587", "2001:db8::25", 587, true},
		{"IPv6 with zone", "[fe80::1%eth0]:25", "fe80::1%eth0", 25, true},
		{"internationalised name", "smtp.bücher.example", "smtp.bücher.example", 0, true},
		{"empty", "", "", 0, false},
		{"empty port", "smtp.example.com:", "", 0, false},
		{"port zero", "smtp.example.com:0", "", 0, false},
		{"port too big", "smtp.example.com:65536", "", 0, false},
		{"named port", "smtp.example.com:smtp", "", 0, false},
		{"signed port", "smtp.example.com:+25", "", 0, false},
		{"no host", ":587", "", 0, false},
		{"IPv4 in brackets", "[192.0.2.1]", "", 0, false},
		{"name in brackets with port", "[smtp.example.com]:25", "", 0, false},
		{"unbalanced bracket", "[2001:db8::25", "", 0, false},
		{"too many colons", "a:b:c", "", 0, false},
		{"space", "smtp example.com", "", 0, false},
		{"URL", "smtp://smtp.example.com", "", 0, false},
		{"leading dot", ".example.com", "", 0, false},
		{"newline", "smtp.example.com\n", "", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host, port, err := ParseServer(tt.in)
			if (err == nil) != tt.ok || host != tt.host || port != tt.port {
				t.Errorf("ParseServer(%q) = %q, %d, %v; want %q, %d, ok %v", tt.in, host, port, err, tt.host, tt.port, tt.ok)
			}
		})
	}
}

func TestDefaultPath(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checks the XDG location")
	}
	t.Setenv("XDG_CONFIG_HOME", "/home/u/.cfg")
	got, err := DefaultPath()
	if want := filepath.FromSlash("/home/u/.cfg/smtpwatch/config.toml"); err != nil || got != want {
		t.Errorf("DefaultPath() = %q, %v; want %q", got, err, want)
	}
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv("HOME", "")
	if _, err := DefaultPath(); err == nil {
		t.Error("DefaultPath() with no home = nil error")
	}
}

// TestUnicodeServer: an internationalised host name is accepted as
// written, in the config and on the command line, and one IDNA refuses is
// an error at its line.
func TestUnicodeServer(t *testing.T) {
	for _, s := range []string{"mäil.exämple.de", "MÄIL.exämple.de", "xn--mil-qla.xn--exmple-cua.de", "smtp.münchen.de:465"} {
		if _, _, err := ParseServer(s); err != nil {
			t.Errorf("ParseServer(%q): %v", s, err)
		}
	}
	c, err := Parse("c.toml", []byte("[[account]]\nname = \"de\"\nserver = \"mäil.exämple.de\"\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if a := c.Accounts[0]; a.Server != "mäil.exämple.de" || a.Target().Server != "mäil.exämple.de" {
		t.Errorf("server %q", a.Server)
	}
	for _, tc := range []struct{ server, want string }{
		{"xn--zz.example", `c.toml:3: account "de": server: invalid server "xn--zz.example": not a valid international domain name`},
		{"aא.example", `c.toml:3: account "de": server: invalid server "aא.example": not a valid international domain name`},
		{"exämple.-de", `c.toml:3: account "de": server: invalid server "exämple.-de": not a valid international domain name`},
	} {
		_, err := Parse("c.toml", []byte("[[account]]\nname = \"de\"\nserver = \""+tc.server+"\"\n"))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("server %q: got %v, want %s...", tc.server, err, tc.want)
		}
	}
}
