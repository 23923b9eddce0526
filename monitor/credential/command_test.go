package credential

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestFromCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	s, err := FromCommand(context.Background(), `printf '%s\n' "`+testSecret+`"`)
	if err != nil || s.Reveal() != testSecret {
		t.Fatalf("FromCommand = %q, %v", s.Reveal(), err)
	}
	_, err = FromCommand(context.Background(), "exit 3")
	var ce *Error
	var ee *exec.ExitError
	if !errors.As(err, &ce) || !errors.As(err, &ee) || err.Error() != "the command failed: exit status 3" {
		t.Errorf("exit 3: %v (%T)", err, err)
	}
	_, err = FromCommand(context.Background(), "smtpwatch-no-such-command-xyz")
	if err == nil || !strings.HasPrefix(err.Error(), "the command failed: exit status 127 (command not found)") {
		t.Errorf("not found: %v", err)
	}
}

// TestCommandStderrNeverShowsTheSecret: a failing password command's
// standard error goes into messages only as its first few prose-like words;
// a secret printed there — alone, after "error:", on a later line, echoed
// by set -x, inside a URL or a key=value pair — never appears, while an
// ordinary message still does.
func TestCommandStderrNeverShowsTheSecret(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	t.Setenv("SMTPWATCH_TEST_PW", testSecret)
	for _, tc := range []struct {
		name, cmd, want string
	}{
		{"alone", `printf '%s\n' "$SMTPWATCH_TEST_PW" >&2; exit 1`, "the command failed: exit status 1"},
		{"after error:", `printf 'error: %s\n' "$SMTPWATCH_TEST_PW" >&2; exit 1`, "the command failed: exit status 1: error: ..."},
		{"on line 2", `echo 'gpg: decryption failed' >&2; printf '%s\n' "$SMTPWATCH_TEST_PW" >&2; exit 2`, "the command failed: exit status 2: gpg: decryption failed"},
		{"set -x", `set -x; pw="$SMTPWATCH_TEST_PW"; false`, "the command failed: exit status 1"},
		{"set -x echo", `set -x; echo "$SMTPWATCH_TEST_PW" >/dev/null; exit 1`, "the command failed: exit status 1"},
		{"key=value", `printf 'bad password=%s\n' "$SMTPWATCH_TEST_PW" >&2; exit 1`, "the command failed: exit status 1: bad ..."},
		{"in a URL", `printf 'fetch https://me:%s@vault/x failed\n' "$SMTPWATCH_TEST_PW" >&2; exit 1`, "the command failed: exit status 1: fetch ..."},
		{"after words", `printf 'the password is %s\n' "$SMTPWATCH_TEST_PW" >&2; exit 1`, "the command failed: exit status 1: the password is ..."},
		{"quoted", `printf 'wrong "%s"\n' "$SMTPWATCH_TEST_PW" >&2; exit 1`, "the command failed: exit status 1: wrong ..."},
		{"stdout and stderr", `printf '%s' "$SMTPWATCH_TEST_PW"; printf 'oops %s\n' "$SMTPWATCH_TEST_PW" >&2; exit 1`, "the command failed: exit status 1: oops ..."},
		{"long line", `echo 'pass: one two three four five six seven eight' >&2; exit 1`, "the command failed: exit status 1: pass: one two three four five ..."},
		{"letters-only token", `echo 'token: QWxhZGRpbjpvcGVuIHNlc2FtZQ' >&2; exit 1`, "the command failed: exit status 1: token: ..."},
		{"mixed case", `echo 'bad: hUnTeRtWo' >&2; exit 1`, "the command failed: exit status 1: bad: ..."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FromCommand(context.Background(), tc.cmd)
			if err == nil {
				t.Fatal("no error")
			}
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(text, testSecret) || strings.Contains(text, "hUnTeRtWo") || strings.Contains(text, "QWxhZGRpbjpvcGVuIHNlc2FtZQ") {
					t.Errorf("the secret shows: %s", text)
				}
			}
			if err.Error() != tc.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tc.want)
			}
		})
	}
}

func TestSecretLike(t *testing.T) {
	for w, want := range map[string]bool{
		"gpg:": false, "decryption": false, "failed:": false, "No": false, "GPG": false, "can't": false,
		"1:": false, "127": false, "(line": false, "re-enter": false, `"mail/charter"`: true,
		"hunter2": true, "S3cr3t": true, "p@ss": true, "+": true, "1234": true, "hUnTeR": true,
		"averyveryverylongtoken": true, "pass=x": true, "a/b": true, "***": true,
	} {
		if got := secretLike(w); got != want {
			t.Errorf("secretLike(%q) = %v, want %v", w, got, want)
		}
	}
}

func TestFromCommandStopped(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := FromCommand(ctx, "sleep 30; echo late")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("FromCommand = %v after %v", err, time.Since(start))
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("SMTPWATCH_TEST_PW", testSecret)
	t.Setenv("SMTPWATCH_TEST_EMPTY", "")
	if s, err := FromEnv("SMTPWATCH_TEST_PW"); err != nil || s.Reveal() != testSecret {
		t.Errorf("set: %q %v", s.Reveal(), err)
	}
	if _, err := FromEnv("SMTPWATCH_TEST_EMPTY"); !errors.Is(err, ErrEmpty) || err.Error() != "environment variable SMTPWATCH_TEST_EMPTY is empty" {
		t.Errorf("empty: %v", err)
	}
	if _, err := FromEnv("SMTPWATCH_TEST_UNSET_XYZ"); err == nil || err.Error() != "environment variable SMTPWATCH_TEST_UNSET_XYZ is not set" {
		t.Errorf("unset: %v", err)
	}
}

func TestLimitedBuffer(t *testing.T) {
	b := limitedBuffer{max: 4}
	n, err := b.Write([]byte("abc"))
	if n != 3 || err != nil || b.overflow {
		t.Fatalf("Write = %d, %v, overflow %v", n, err, b.overflow)
	}
	if n, _ := b.Write([]byte("defg")); n != 4 || !b.overflow || b.String() != "abcd" {
		t.Errorf("after overflow: %q, overflow %v, n %d", b.String(), b.overflow, n)
	}
}

// A token helper runs with the password command's bounds; its messages
// speak of the access token, and never quote what it printed.
func TestFromTokenCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	s, err := FromTokenCommand(context.Background(), `printf '%s\n' "eyJ.token.sig"`)
	if err != nil || s.Reveal() != "eyJ.token.sig" {
		t.Fatalf("FromTokenCommand = %q, %v", s.Reveal(), err)
	}
	for cmd, want := range map[string]string{
		"true":                          "the command printed nothing; it should print the access token",
		`printf 'eyJ.a\neyJ.b\n'`:       "the command printed more than one line; it should print only the access token",
		`echo "eyJ.leaked" >&2; exit 4`: "the command failed: exit status 4",
	} {
		_, err := FromTokenCommand(context.Background(), cmd)
		if err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", cmd, err, want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := FromTokenCommand(ctx, "sleep 30"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a helper that hangs: %v", err)
	}
}
