package credential

import (
	"fmt"
	"log/slog"
)

// Secret holds a credential. Every way of printing it — fmt verbs, JSON,
// text marshalling, slog — yields "[redacted]"; only Reveal gives the value,
// and only the AUTH phase calls it.
type Secret struct{ v string }

const redacted = "[redacted]"

// NewSecret wraps a credential value.
func NewSecret(v string) Secret { return Secret{v} }

// Reveal returns the credential. Callers must not log or store the result.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether no credential is held.
func (s Secret) IsZero() bool { return s.v == "" }

// Equal reports whether two secrets hold the same value.
func (s Secret) Equal(o Secret) bool { return s.v == o.v }

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// Format makes every fmt verb, %#v and %x included, print "[redacted]".
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// MarshalText makes encoders that honour encoding.TextMarshaler redact.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON redacts in JSON.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// LogValue redacts in slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }
