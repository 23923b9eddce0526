package e2e

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

// secretForms are the ways a password can show up in output: itself, and the
// base64 a SASL PLAIN or LOGIN transcript carries.
func secretForms(user, password string) map[string]string {
	forms := map[string]string{"password": password}
	for name, enc := range map[string]*base64.Encoding{"std": base64.StdEncoding, "raw": base64.RawStdEncoding} {
		forms["base64 "+name+" LOGIN password"] = enc.EncodeToString([]byte(password))
		forms["base64 "+name+" PLAIN response"] = enc.EncodeToString([]byte("\x00" + user + "\x00" + password))
		forms["base64 "+name+" PLAIN response with authzid"] = enc.EncodeToString([]byte(user + "\x00" + user + "\x00" + password))
	}
	return forms
}

// verboseFlag returns the verbose/transcript flag `smtpwatch check` offers,
// or "" when it has none.
func verboseFlag(t *testing.T, e *env) string {
	r := smtpwatch(t, e, "", nil, "check", "--help")
	help := r.Stdout + r.Stderr
	for _, f := range []string{"--verbose", "-verbose", "-v"} {
		if strings.Contains(help, " "+f+" ") || strings.Contains(help, " "+f+"\n") ||
			strings.Contains(help, " "+f+",") || strings.Contains(help, " "+f+"\t") {
			return f
		}
	}
	return ""
}

// TestPasswordNeverPrinted runs checks in every output format, with a wrong
// and a right password, on the healthy, implicit TLS and plaintext ports, and
// requires that the password (or its SASL base64) never appears on stdout or
// stderr.
func TestPasswordNeverPrinted(t *testing.T) {
	e := needEnv(t)
	formats := [][]string{{"--json"}, {}, {"--format", "nagios"}}
	if v := verboseFlag(t, e); v != "" {
		formats = append(formats, []string{v}, []string{v, "--json"}, []string{v, "--format", "nagios"})
	} else {
		t.Log("check has no --verbose/-v flag; transcripts not covered")
	}
	servers := []struct {
		name, port, security string
		extra                []string
	}{
		{"starttls", "STARTTLS", "starttls", nil},
		{"tls", "TLS", "tls", nil},
		{"plaintext refused", "PLAIN", "none", nil},
		// The password goes over the wire here, on purpose; it still must
		// not be printed.
		{"plaintext allowed", "PLAIN", "none", []string{"--allow-plaintext-auth"}},
	}
	passwords := map[string]string{
		"right": e.Password,
		"wrong": "Wr0ng-" + e.Password[len(e.Password)/2:] + "-pw",
	}

	runs := 0
	for pwName, pw := range passwords {
		forms := secretForms(e.User, pw)
		for _, srv := range servers {
			for _, format := range formats {
				name := fmt.Sprintf("%s password/%s/%s", pwName, srv.name, strings.Join(format, " "))
				t.Run(name, func(t *testing.T) {
					args := []string{"check",
						"--server", e.Addr(t, srv.port),
						"--security", srv.security,
						"--username", e.User,
						"--timeout", "10s",
						"--online-targets", e.Addr(t, "STARTTLS"),
						"--alternatives", fmt.Sprintf("%d/tls,%d/starttls", e.Port(t, "TLS"), e.Port(t, "STARTTLS")),
					}
					args = append(append(args, srv.extra...), format...)
					r := smtpwatch(t, e, pw, nil, args...)
					runs++
					if r.Exit < 0 || r.Exit > 3 {
						t.Errorf("exit status %d, want 0..3", r.Exit)
					}
					if strings.TrimSpace(r.Stdout) == "" {
						t.Errorf("no report on stdout")
					}
					for what, s := range forms {
						if strings.Contains(r.Stdout, s) {
							t.Errorf("stdout contains the %s", what)
						}
						if strings.Contains(r.Stderr, s) {
							t.Errorf("stderr contains the %s", what)
						}
					}
					if t.Failed() {
						// Log the run with the secret masked: the log is output too.
						masked := r.String()
						for _, s := range forms {
							masked = strings.ReplaceAll(masked, s, "[SECRET]")
						}
						t.Logf("%s", masked)
					}
				})
			}
		}
	}
	if runs == 0 {
		t.Fatal("no check ran")
	}
}
