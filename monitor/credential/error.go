package credential

// Error is a credential that could not be read or stored. Its text is for
// people: it names what went wrong and never holds the credential or a
// command's output.
type Error struct {
	Msg string
	// Err is the cause, for errors.Is and errors.As (ErrNotFound,
	// ErrNoSessionBus, context.DeadlineExceeded, an *exec.ExitError...);
	// it holds no credential either.
	Err error
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }
