package config

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
)

// untrusted says why a config file may not name credential sources, ""
// when it may: as ssh and sudo do with their files, a file owned by another
// user than the one smtpwatch runs as (or root) is not trusted to make
// smtpwatch run a command, or read a password from the environment or the
// keyring and send it to a server the file's owner chose. info nil (Parse)
// is trusted.
//
// Only Unix is checked: on Windows, file ownership says little (ACLs decide
// who may change a file) and fileOwner reports nothing.
func untrusted(file string, info fs.FileInfo) string {
	if info == nil {
		return ""
	}
	uid, ok := fileOwner(info)
	me := os.Geteuid()
	if !ok || uid == 0 || uid == me {
		return ""
	}
	owner := "uid " + strconv.Itoa(uid)
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		owner = fmt.Sprintf("%s (uid %d)", u.Username, uid)
	}
	you := "uid " + strconv.Itoa(me)
	if u, err := user.LookupId(strconv.Itoa(me)); err == nil {
		you = u.Username
	}
	return fmt.Sprintf("not reading the password: %s belongs to %s, not to you (%s) or root, so its owner could make smtpwatch run a command as you or send your password to a server of their choice. Make the file yours (chown %s %s) or copy it and use --config COPY",
		file, owner, you, you, shellQuote(file))
}
