package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: Parse never panics; every error is a one-line *Error with a
// line number; a config it accepts holds only checked values; and the line
// scan agrees with the TOML decoder on every document the decoder accepts.
//
// Large seeds make input minimisation slow; run it with
// -fuzzminimizetime=1s or the fuzzer spends minutes minimising.
func FuzzParse(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte(Template))
	f.Add([]byte(uncomment(Template)))
	files, _ := filepath.Glob("testdata/*.toml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, c := range locateCases() {
		f.Add([]byte(c.src))
	}
	f.Add([]byte("account = [{name = \"a\", server = \"x\"}, {name = \"b\", preset = \"gmail\", rcpt = 'a@b'}]\n"))
	f.Add([]byte("[[account]]\nname = \"a\"\n[[account.x]]\ny = 1\n[account.z]\n\"q\\u0041\" = \"\"\"\nm\n\"\"\"\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("f.toml", data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *config.Error: %v", err, err)
			}
			if ce.Line < 1 || ce.File != "f.toml" {
				t.Fatalf("error without a line: %+v", ce)
			}
			if strings.ContainsAny(ce.Error(), "\n\r") {
				t.Fatalf("error is not one line: %q", ce.Error())
			}
			return
		}
		for _, a := range c.Accounts {
			if !validName(a.Name) || a.Server == "" || a.Port < 1 || a.Port > 65535 ||
				a.Interval < MinInterval || a.AuthInterval < MinAuthInterval || a.Timeout <= 0 ||
				a.FailureThreshold < 0 || a.SuccessThreshold < 1 || a.CertWarnDays < 1 ||
				(a.From == "") != (a.Rcpt == "") || (a.Credential.Source != CredentialNone && a.Username == "") {
				t.Fatalf("accepted an invalid account: %+v", a)
			}
		}
		if c.MaxConcurrency < 1 || c.Retention <= 0 {
			t.Fatalf("accepted invalid globals: %+v", c)
		}
		checkLocateMatchesDecoder(t, string(data))
	})
}
