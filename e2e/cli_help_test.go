package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestVersion builds the binary as a release would, with -ldflags
// "-X main.version=...", and checks that `smtpwatch version` prints that
// version, the commit the Go tool recorded in the binary (`go version -m`;
// a build outside a git checkout, or from a git worktree, records none and
// says so), and the Go version.
func TestVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds smtpwatch")
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "smtpwatch")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-ldflags", "-X main.version=9.9.9-e2e", "-o", bin, "./cmd/smtpwatch")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	info, err := exec.CommandContext(ctx, "go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, bin, "version")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("smtpwatch version: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || lines[0] != "smtpwatch 9.9.9-e2e" || !strings.HasPrefix(lines[2], "go1.") {
		t.Fatalf("smtpwatch version printed:\n%s", out.String())
	}
	if m := regexp.MustCompile(`vcs\.revision=([0-9a-f]+)`).FindSubmatch(info); m != nil {
		if !strings.HasPrefix(lines[1], "commit "+string(m[1])) {
			t.Errorf("commit line %q, the binary records %s", lines[1], m[1])
		}
	} else if lines[1] != "commit unknown (built without version control information)" {
		t.Errorf("commit line %q for a binary without VCS information", lines[1])
	}
	if bytes.Contains(info, []byte("vcs.modified=true")) && !strings.Contains(lines[1], "(modified)") {
		t.Errorf("commit line %q does not say the tree was modified", lines[1])
	}
}

// TestHelpOfTheBinary: help goes to stdout with exit 0 from the real
// binary, for a command with actions too.
func TestHelpOfTheBinary(t *testing.T) {
	for _, args := range [][]string{{"service", "--help"}, {"help", "check"}, {"password", "--help"}, {"status", "-h"}} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		cmd := exec.CommandContext(ctx, smtpwatchBin(t), args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "DBUS_SESSION_BUS_ADDRESS=disabled:"}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		var name []string
		for _, a := range args {
			if a != "help" && a != "--help" && a != "-h" {
				name = append(name, a)
			}
		}
		if err != nil || stderr.Len() > 0 || !strings.HasPrefix(stdout.String(), "Usage: smtpwatch "+strings.Join(name, " ")) {
			t.Errorf("smtpwatch %s: %v, stderr %q, stdout:\n%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
		}
		if !strings.Contains(stdout.String(), "\nExamples:\n") {
			t.Errorf("smtpwatch %s: no examples:\n%s", strings.Join(args, " "), stdout.String())
		}
	}
}
