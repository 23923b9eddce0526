//go:build !windows

package config

import (
	"io/fs"
	"os"
	"syscall"
)

// chownLike gives f the owner and group of the file info describes, when
// they differ from the process's and it may change them (root editing
// another user's file): the file stays its user's, and trusted.
func chownLike(f *os.File, info fs.FileInfo) error {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || (int(st.Uid) == os.Geteuid() && int(st.Gid) == os.Getegid()) || os.Geteuid() != 0 {
		return nil
	}
	return f.Chown(int(st.Uid), int(st.Gid))
}
