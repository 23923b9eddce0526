package credential

import (
	"context"
	"errors"
	"fmt"

	"github.com/zalando/go-keyring"
)

// KeyringService is the service name smtpwatch's passwords are stored under
// in the OS keyring; the user name is the account's name.
const KeyringService = "smtpwatch"

// ErrNotFound is wrapped by FromKeyring's error when the keyring holds no
// entry for the account. It is go-keyring's keyring.ErrNotFound.
var ErrNotFound = keyring.ErrNotFound

// ErrNoSessionBus is wrapped by the keyring functions' errors when the OS
// keyring cannot be reached because there is no D-Bus session bus (Linux
// and the BSDs only).
var ErrNoSessionBus = errors.New("no D-Bus session bus")

// ErrEmpty is wrapped by the errors for a source that holds an empty
// credential (an empty environment variable or keyring entry).
var ErrEmpty = errors.New("empty credential")

// noBus is the error for a keyring call without a session bus.
func noBus() error {
	return &Error{
		Msg: "the OS keyring is not available here: there is no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does not exist)",
		Err: ErrNoSessionBus,
	}
}

// FromKeyring reads the credential stored for user (an account name) under
// KeyringService. It blocks until the keyring answers or ctx ends; go-keyring
// takes no context, so a hung keyring leaves one goroutine behind until it
// answers. A missing entry is an *Error wrapping ErrNotFound, an empty one
// an *Error too; without a session bus it wraps ErrNoSessionBus and starts
// nothing.
func FromKeyring(ctx context.Context, user string) (Secret, error) {
	v, err := keyringGet(ctx, KeyringService, user, "password")
	if err != nil {
		return Secret{}, err
	}
	return NewSecret(v), nil
}

// keyringGet reads the entry for user under service; what names the
// entry's kind in messages ("password"). Errors are FromKeyring's.
func keyringGet(ctx context.Context, service, user, what string) (string, error) {
	if _, ok := SessionBus(); !ok {
		return "", noBus()
	}
	type answer struct {
		v   string
		err error
	}
	ch := make(chan answer, 1)
	go func() {
		v, err := keyring.Get(service, user)
		ch <- answer{v, err}
	}()
	var r answer
	select {
	case r = <-ch:
	case <-ctx.Done():
		return "", &Error{Msg: "the OS keyring did not answer: " + ctx.Err().Error(), Err: ctx.Err()}
	}
	switch {
	case errors.Is(r.err, keyring.ErrNotFound):
		return "", &Error{Msg: fmt.Sprintf("no %s stored in the OS keyring for %q", what, user), Err: r.err}
	case r.err != nil:
		return "", &Error{Msg: "cannot read the OS keyring: " + r.err.Error(), Err: r.err}
	case r.v == "":
		return "", &Error{Msg: fmt.Sprintf("the OS keyring holds an empty %s for %q", what, user), Err: ErrEmpty}
	}
	return r.v, nil
}

// StoreInKeyring stores s for user (an account name) under KeyringService,
// replacing any stored before. It blocks until the keyring answers.
func StoreInKeyring(user string, s Secret) error {
	if user == "" {
		return &Error{Msg: "store in the keyring: empty account name"}
	}
	if s.IsZero() {
		return &Error{Msg: "store in the keyring: empty password"}
	}
	if _, ok := SessionBus(); !ok {
		return noBus()
	}
	if err := keyring.Set(KeyringService, user, s.Reveal()); err != nil {
		return &Error{Msg: fmt.Sprintf("cannot store the password for %q in the OS keyring: %v", user, err), Err: err}
	}
	return nil
}

// DeleteFromKeyring removes what is stored for user under KeyringService.
// A missing entry is not an error. It blocks until the keyring answers.
func DeleteFromKeyring(user string) error {
	if _, ok := SessionBus(); !ok {
		return noBus()
	}
	err := keyring.Delete(KeyringService, user)
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return &Error{Msg: fmt.Sprintf("cannot delete the password for %q from the OS keyring: %v", user, err), Err: err}
	}
	return nil
}
