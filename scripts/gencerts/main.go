// Command gencerts writes the test certificates that scripts/postfix-e2e
// gives to Postfix and that the end-to-end tests trust through SSL_CERT_FILE.
//
//	go run ./scripts/gencerts -out DIR
//
// It writes, in DIR, ca.pem (the test CA, "smtpwatch test CA"),
// eset-ca.pem (a CA named like an antivirus product's TLS filter),
// other-ca.pem (a CA that is not trusted), bundle.pem (the trusted CAs: the
// test CA and the ESET-named one) and, for each leaf NAME, NAME.pem (leaf
// then issuing CA) and NAME-key.pem (mode 0600):
//
//	good         SAN localhost, 127.0.0.1; valid now-1d .. now+200d
//	expired      ended 10 days ago
//	notyet       starts in 30 days
//	wronghost    SAN only wrong.example.test
//	unknownca    signed by other-ca, which bundle.pem does not hold
//	expiring     valid, ends in 5 days
//	intercepted  signed by "ESET SSL Filter CA", which bundle.pem holds
//	loopback2    SAN 127.0.0.2 only
//
// All keys are ECDSA P-256. Running it again replaces every file.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

func main() { os.Exit(run()) }

func run() int {
	out := flag.String("out", "", "directory to write the PEM files into (created if missing)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "gencerts: -out DIR is required")
		return 2
	}
	if err := generate(*out, time.Now()); err != nil {
		fmt.Fprintln(os.Stderr, "gencerts:", err)
		return 1
	}
	return 0
}

// authority is a CA that can sign leaves.
type authority struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

// leaf describes one server certificate to issue.
type leaf struct {
	name      string
	ca        *authority
	notBefore time.Time
	notAfter  time.Time
	dns       []string
	ips       []net.IP
}

func generate(dir string, now time.Time) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	caValid := [2]time.Time{now.Add(-30 * 24 * time.Hour), now.Add(3 * 365 * 24 * time.Hour)}

	testCA, err := newCA(pkix.Name{CommonName: "smtpwatch test CA", Organization: []string{"smtpwatch tests"}}, caValid)
	if err != nil {
		return err
	}
	esetCA, err := newCA(pkix.Name{CommonName: "ESET SSL Filter CA", Organization: []string{"ESET, spol. s r.o."}}, caValid)
	if err != nil {
		return err
	}
	otherCA, err := newCA(pkix.Name{CommonName: "smtpwatch untrusted CA", Organization: []string{"nobody trusts this"}}, caValid)
	if err != nil {
		return err
	}

	day := 24 * time.Hour
	local := []string{"localhost"}
	loop := []net.IP{net.IPv4(127, 0, 0, 1)}
	leaves := []leaf{
		{"good", testCA, now.Add(-day), now.Add(200 * day), local, loop},
		{"expired", testCA, now.Add(-100 * day), now.Add(-10 * day), local, loop},
		{"notyet", testCA, now.Add(30 * day), now.Add(230 * day), local, loop},
		{"wronghost", testCA, now.Add(-day), now.Add(200 * day), []string{"wrong.example.test"}, nil},
		{"unknownca", otherCA, now.Add(-day), now.Add(200 * day), local, loop},
		{"expiring", testCA, now.Add(-100 * day), now.Add(5 * day), local, loop},
		{"intercepted", esetCA, now.Add(-day), now.Add(200 * day), local, loop},
		// A server on 127.0.0.2, which a client on 127.0.0.1 does not see as
		// itself (scripts/dovecot-e2e).
		{"loopback2", testCA, now.Add(-day), now.Add(200 * day), nil, []net.IP{net.IPv4(127, 0, 0, 2)}},
	}

	for name, ca := range map[string]*authority{"ca": testCA, "eset-ca": esetCA, "other-ca": otherCA} {
		if err := writePEM(filepath.Join(dir, name+".pem"), 0o644, certBlock(ca.der)); err != nil {
			return err
		}
	}
	if err := writePEM(filepath.Join(dir, "bundle.pem"), 0o644, certBlock(testCA.der), certBlock(esetCA.der)); err != nil {
		return err
	}
	for _, l := range leaves {
		if err := issue(dir, l); err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
	}
	return nil
}

func newCA(subject pkix.Name, valid [2]time.Time) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ca key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             valid[0],
		NotAfter:              valid[1],
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("ca %q: %w", subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("ca %q: %w", subject.CommonName, err)
	}
	return &authority{cert: cert, der: der, key: key}, nil
}

func issue(dir string, l leaf) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return err
	}
	cn := "localhost"
	if len(l.dns) > 0 {
		cn = l.dns[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"smtpwatch tests (" + l.name + ")"}},
		NotBefore:    l.notBefore,
		NotAfter:     l.notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     l.dns,
		IPAddresses:  l.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, l.ca.cert, &key.PublicKey, l.ca.key)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("marshal key: %w", err)
	}
	if err := writePEM(filepath.Join(dir, l.name+".pem"), 0o644, certBlock(der), certBlock(l.ca.der)); err != nil {
		return err
	}
	return writePEM(filepath.Join(dir, l.name+"-key.pem"), 0o600, &pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func certBlock(der []byte) *pem.Block { return &pem.Block{Type: "CERTIFICATE", Bytes: der} }

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// writePEM replaces path atomically with the blocks, at the given mode (a
// key file is never readable by others, not even for a moment).
func writePEM(path string, mode os.FileMode, blocks ...*pem.Block) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gencerts-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	for _, b := range blocks {
		if err := pem.Encode(tmp, b); err != nil {
			tmp.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
