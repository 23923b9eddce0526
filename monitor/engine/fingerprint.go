package engine

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"smtpwatch/monitor/credential"
)

// FingerprintKeyFile is the name of the fingerprint key in the state
// directory.
const FingerprintKeyFile = "fingerprint.key"

// fingerprintKeySize is the key's length in bytes.
const fingerprintKeySize = 32

// FingerprintIterations is the PBKDF2-HMAC-SHA256 cost of one fingerprint
// (about 0.1 s of one core): a fingerprint that leaks together with its key
// costs that much per guessed password.
const FingerprintIterations = 600_000

// Fingerprinter identifies a credential without keeping it, so that the
// daemon can tell after a restart whether the password the server rejected
// is still the one configured, and not send it again.
//
// A fingerprint is PBKDF2-HMAC-SHA256 of the password, salted with a
// random key and the account's name and user name. The key lives in a file
// of its own in the state directory (mode 0600), never in the history
// database that holds the fingerprints: a database attached to a bug
// report cannot be searched for the password without it, and with it
// every guess still costs FingerprintIterations rounds. Fingerprints are
// made only when a server rejects a credential and when a restarted daemon
// compares the configured one with it.
//
// A Fingerprinter is safe for concurrent use.
type Fingerprinter struct {
	key  []byte
	iter int
}

// LoadFingerprinter reads the key in stateDir (which must exist), making a
// random one when there is none. A key file of the wrong size (damaged) is
// replaced, and the error says so: fingerprints made with the old key no
// longer match, so a rejected password may be tried once more. Other
// errors are the file system's; the Fingerprinter is nil then.
func LoadFingerprinter(stateDir string) (*Fingerprinter, error) {
	path := filepath.Join(stateDir, FingerprintKeyFile)
	f, err := os.Open(path)
	switch {
	case err == nil:
		defer f.Close()
		key, err := io.ReadAll(io.LimitReader(f, fingerprintKeySize+1))
		if err != nil {
			return nil, fmt.Errorf("fingerprint key: %w", err)
		}
		if len(key) == fingerprintKeySize {
			return &Fingerprinter{key: key, iter: FingerprintIterations}, nil
		}
		fp, werr := writeKey(path, true)
		if werr != nil {
			return nil, werr
		}
		return fp, fmt.Errorf("fingerprint key %s was damaged (%d bytes) and is replaced: a rejected password may be tried once more", path, len(key))
	case errors.Is(err, fs.ErrNotExist):
		return writeKey(path, false)
	}
	return nil, fmt.Errorf("fingerprint key: %w", err)
}

// writeKey makes a new random key at path, replacing a damaged one.
func writeKey(path string, replace bool) (*Fingerprinter, error) {
	key := make([]byte, fingerprintKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("fingerprint key: %w", err)
	}
	if replace {
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("fingerprint key: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("fingerprint key: %w", err)
	}
	_, err = f.Write(key)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("fingerprint key: %w", err)
	}
	return &Fingerprinter{key: key, iter: FingerprintIterations}, nil
}

// processFingerprinter has a key that lives only as long as the process,
// for an engine without a state directory: nothing it makes matches after
// a restart.
func processFingerprinter() *Fingerprinter {
	key := make([]byte, fingerprintKeySize)
	_, _ = rand.Read(key)
	return &Fingerprinter{key: key, iter: FingerprintIterations}
}

// Fingerprint is the fingerprint of the account's credential s for the
// user name. It takes about 0.1 s of CPU.
func (f *Fingerprinter) Fingerprint(account, username string, s credential.Secret) []byte {
	salt := make([]byte, 0, len(f.key)+len(account)+len(username)+2)
	salt = append(salt, f.key...)
	salt = append(salt, 0)
	salt = append(salt, strings.ToLower(account)...)
	salt = append(salt, 0)
	salt = append(salt, username...)
	out, err := pbkdf2.Key(sha256.New, s.Reveal(), salt, f.iter, sha256.Size)
	if err != nil {
		// Only a key length beyond what PBKDF2 allows errs, or FIPS 140-3
		// mode for a short password; a fingerprint that matches nothing
		// then means "try the credential", never "lock it out".
		return nil
	}
	return out
}
