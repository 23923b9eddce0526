package credential

import (
	"fmt"
	"os"
)

// FromEnv reads a credential from the environment variable name. A
// variable that is unset or empty is an *Error.
func FromEnv(name string) (Secret, error) {
	v, ok := os.LookupEnv(name)
	switch {
	case !ok:
		return Secret{}, &Error{Msg: fmt.Sprintf("environment variable %s is not set", name)}
	case v == "":
		return Secret{}, &Error{Msg: fmt.Sprintf("environment variable %s is empty", name), Err: ErrEmpty}
	}
	return NewSecret(v), nil
}
