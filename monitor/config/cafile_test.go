package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writeTestCA(t *testing.T, path, name string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// TestCAFileChange: when only the CA file's contents change, loading the
// config again gives a different Key (so a reload restarts the account's
// checks with the new CA), and ReloadCA gives a pool that trusts the new
// CA without a reload; a config where nothing changed keeps its Key.
func TestCAFileChange(t *testing.T) {
	dir := t.TempDir()
	caPath := filepath.Join(dir, "ca.pem")
	oldCA := writeTestCA(t, caPath, "Old CA")
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte("[[account]]\nname = \"lab\"\nserver = \"mail.lab.example\"\nca_file = \"ca.pem\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func() Account {
		c, err := Load(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		return c.Accounts[0]
	}
	first := load()
	if again := load(); again.Key() != first.Key() {
		t.Fatal("Key changed although nothing did")
	}
	if _, changed, err := first.ReloadCA(); err != nil || changed {
		t.Fatalf("ReloadCA on an unchanged file: changed %v, %v", changed, err)
	}

	newCA := writeTestCA(t, caPath, "New CA")
	if second := load(); second.Key() == first.Key() {
		t.Error("Key is the same after the CA file's contents changed")
	}
	fresh, changed, err := first.ReloadCA()
	if err != nil || !changed {
		t.Fatalf("ReloadCA: changed %v, %v", changed, err)
	}
	if fresh.Key() == first.Key() || fresh.CADigest == first.CADigest {
		t.Error("ReloadCA did not change the digest")
	}
	if _, err := newCA.Verify(x509.VerifyOptions{Roots: fresh.RootCAs}); err != nil {
		t.Errorf("the fresh pool does not trust the new CA: %v", err)
	}
	if _, err := oldCA.Verify(x509.VerifyOptions{Roots: fresh.RootCAs}); err == nil {
		t.Error("the fresh pool still trusts the old CA")
	}
	if _, err := newCA.Verify(x509.VerifyOptions{Roots: first.RootCAs}); err == nil {
		t.Error("ReloadCA changed the account it was called on")
	}

	if err := os.Remove(caPath); err != nil {
		t.Fatal(err)
	}
	same, _, err := first.ReloadCA()
	var ce *Error
	if !errors.As(err, &ce) || ce.Key != "ca_file" || ce.Line != 1 || same.CADigest != first.CADigest {
		t.Errorf("ReloadCA of a removed file: %v", err)
	}
	if a, changed, err := (Account{Name: "x"}).ReloadCA(); err != nil || changed || a.RootCAs != nil {
		t.Errorf("ReloadCA without ca_file: %v %v", changed, err)
	}
}
