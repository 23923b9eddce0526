package main

import (
	"runtime/debug"
	"testing"
)

// A release build names its commit even where Go recorded none (a source
// tarball, -buildvcs=false); a commit Go recorded itself wins.
func TestLinkedCommit(t *testing.T) {
	bare := &debug.BuildInfo{GoVersion: "go1.26.0", Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"}}}
	got := versionText("1.2.0", withLinkedCommit(bare, "0123456789abcdef", "2026-12-01T10:00:00Z"))
	if want := "smtpwatch 1.2.0\ncommit 0123456789abcdef, 2026-12-01T10:00:00Z\ngo1.26.0 linux/arm64\n"; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if len(bare.Settings) != 2 {
		t.Errorf("the build info was changed: %v", bare.Settings)
	}
	recorded := &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "feedface"}}}
	if withLinkedCommit(recorded, "0123", "") != recorded {
		t.Error("a linked commit replaced the one Go recorded")
	}
	if withLinkedCommit(nil, "", "") != nil || withLinkedCommit(bare, "", "") != bare {
		t.Error("nothing linked changed the build info")
	}
	if got := versionText("dev", withLinkedCommit(nil, "abc", "")); got != "smtpwatch dev\ncommit abc\n" {
		t.Errorf("no build info: %q", got)
	}
}
