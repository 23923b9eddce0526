package api

import "fmt"

// PrivateDirSDDL is the security descriptor (SDDL) Listen gives the
// socket's directory when it creates it on Windows: protected (nothing
// inherited from the parent), owned by the user, with full control for
// the user, SYSTEM and Administrators only — what mode 0700 is on Unix.
// The socket file the daemon binds there inherits it: connecting to an
// AF_UNIX socket on Windows needs write access to its file, and binding
// one write access to the directory. userSID is the user's SID as text
// ("S-1-5-21-...").
func PrivateDirSDDL(userSID string) string {
	return fmt.Sprintf("O:%[1]sD:P(A;OICI;FA;;;%[1]s)(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)", userSID)
}
