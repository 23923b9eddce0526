package importer

import (
	"os"
	"strings"
	"testing"
)

// FuzzParsePrefs: any input ends, without a panic, in preferences and
// notes.
func FuzzParsePrefs(f *testing.F) {
	seed, _ := os.ReadFile("testdata/thunderbird/Profiles/x1y2z3.default-release/prefs.js")
	f.Add(string(seed))
	f.Add(`user_pref("a", "\u12`)
	f.Add(`user_pref('x', 'y\`)
	f.Fuzz(func(t *testing.T, src string) {
		prefs, _, err := ParsePrefs(strings.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		ThunderbirdAccounts(prefs)
	})
}

// FuzzParseMsmtp: any input ends, without a panic, in accounts and notes.
func FuzzParseMsmtp(f *testing.F) {
	seed, _ := os.ReadFile("testdata/msmtprc")
	f.Add(string(seed))
	f.Add("account a : a\nhost \"x\\")
	f.Fuzz(func(t *testing.T, src string) {
		if _, _, err := ParseMsmtp("f", strings.NewReader(src)); err != nil && !strings.Contains(err.Error(), "token too long") {
			t.Fatal(err)
		}
	})
}
