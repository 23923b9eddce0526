package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"smtpwatch/monitor/credential"
)

// The key is made once, 0600, and kept; a damaged one is replaced and
// said so; fingerprints depend on the key, the account, the user name and
// the password, and never contain the password.
func TestFingerprinter(t *testing.T) {
	dir := t.TempDir()
	f1, err := LoadFingerprinter(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FingerprintKeyFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	f1.iter = 1000
	f2, err := LoadFingerprinter(dir)
	if err != nil {
		t.Fatal(err)
	}
	f2.iter = 1000
	pw := credential.NewSecret("hunter2-hunter2")
	a := f1.Fingerprint("Work", "me@example.org", pw)
	if len(a) != 32 || !bytes.Equal(a, f2.Fingerprint("work", "me@example.org", pw)) {
		t.Fatalf("the same key, account and password give %x and %x", a, f2.Fingerprint("work", "me@example.org", pw))
	}
	for name, other := range map[string][]byte{
		"another password":  f1.Fingerprint("work", "me@example.org", credential.NewSecret("hunter3-hunter3")),
		"another user name": f1.Fingerprint("work", "you@example.org", pw),
		"another account":   f1.Fingerprint("home", "me@example.org", pw),
	} {
		if bytes.Equal(a, other) {
			t.Errorf("%s: the same fingerprint", name)
		}
	}
	if bytes.Contains(a, []byte("hunter2")) {
		t.Error("the fingerprint holds the password")
	}

	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	f3, err := LoadFingerprinter(dir)
	if err == nil || f3 == nil {
		t.Fatalf("a damaged key: %v, %v; want a new key and an error saying so", f3, err)
	}
	f3.iter = 1000
	if bytes.Equal(a, f3.Fingerprint("work", "me@example.org", pw)) {
		t.Error("the replaced key makes the same fingerprints")
	}
	if key, _ := os.ReadFile(path); len(key) != fingerprintKeySize {
		t.Errorf("the replaced key file holds %d bytes", len(key))
	}
}
