package main

import "runtime/debug"

// commit and commitTime are set by release builds (scripts/release) with
// -ldflags "-X main.commit=SHA -X main.commitTime=RFC3339": a build from a
// source tarball, or with -buildvcs=false, records no version control
// information of its own.
var commit, commitTime string

// withLinkedCommit is bi with the commit (and its time) given to the
// linker, when the build recorded none itself; bi is not changed. A nil bi
// stays nil when nothing was given.
func withLinkedCommit(bi *debug.BuildInfo, commit, commitTime string) *debug.BuildInfo {
	if commit == "" {
		return bi
	}
	out := &debug.BuildInfo{}
	if bi != nil {
		c := *bi
		out = &c
	}
	for _, s := range out.Settings {
		if s.Key == "vcs.revision" && s.Value != "" {
			return bi
		}
	}
	out.Settings = append(append([]debug.BuildSetting(nil), out.Settings...), debug.BuildSetting{Key: "vcs.revision", Value: commit})
	if commitTime != "" {
		out.Settings = append(out.Settings, debug.BuildSetting{Key: "vcs.time", Value: commitTime})
	}
	return out
}
