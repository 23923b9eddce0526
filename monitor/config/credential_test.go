package config

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

const testSecret = "hunter2-S3cr3t"

func envAccount(name string) Account {
	return Account{Name: "charter", Username: "me", Credential: Credential{Source: CredentialEnv, Env: name, File: "c.toml", Line: 7}}
}

func commandAccount(cmd string) Account {
	return Account{Name: "charter", Username: "me", Credential: Credential{Source: CredentialCommand, Command: cmd, File: "c.toml", Line: 8}}
}

func TestPasswordNone(t *testing.T) {
	s, err := Account{Name: "a"}.Password(context.Background())
	if err != nil || !s.IsZero() {
		t.Errorf("Password() = %v, %v; want the zero Secret and nil", s, err)
	}
}

func TestPasswordEnv(t *testing.T) {
	t.Setenv("SMTPWATCH_TEST_PW", testSecret)
	t.Setenv("SMTPWATCH_TEST_EMPTY", "")
	tests := []struct {
		name    string
		env     string
		wantErr string
	}{
		{"set", "SMTPWATCH_TEST_PW", ""},
		{"unset", "SMTPWATCH_TEST_UNSET_VARIABLE", `c.toml:7: account "charter": password_env: environment variable SMTPWATCH_TEST_UNSET_VARIABLE is not set`},
		{"empty", "SMTPWATCH_TEST_EMPTY", `c.toml:7: account "charter": password_env: environment variable SMTPWATCH_TEST_EMPTY is empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := envAccount(tt.env).Password(context.Background())
			if tt.wantErr == "" {
				if err != nil || s.Reveal() != testSecret {
					t.Errorf("Password() = %q, %v", s.Reveal(), err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Password() error\n got: %v\nwant: %s", err, tt.wantErr)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Line != 7 || ce.Key != "password_env" {
				t.Errorf("error is not a located *Error: %#v", err)
			}
		})
	}
}

func TestPasswordCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	tests := []struct {
		name    string
		cmd     string
		want    string // the password, when no error
		wantErr string
	}{
		{name: "printf", cmd: `printf '%s\n' "` + testSecret + `"`, want: testSecret},
		{name: "no newline", cmd: `printf '%s' "` + testSecret + `"`, want: testSecret},
		{name: "CRLF and blank lines trimmed", cmd: `printf '%s\r\n\n' "` + testSecret + `"`, want: testSecret},
		{name: "inner and trailing spaces kept", cmd: `printf ' a b '`, want: " a b "},
		{name: "shell syntax", cmd: `x=hunter; echo "${x}2" | tr -d '\n'`, want: "hunter2"},
		{
			name:    "exit 1 quotes stderr's first line",
			cmd:     `echo 'gpg: decryption failed: No secret key' >&2; echo second line >&2; exit 1`,
			wantErr: `c.toml:8: account "charter": password_command: the command failed: exit status 1: gpg: decryption failed: No secret key`,
		},
		{
			name:    "exit 2 without stderr",
			cmd:     `exit 2`,
			wantErr: `c.toml:8: account "charter": password_command: the command failed: exit status 2`,
		},
		{
			name:    "not found",
			cmd:     `smtpwatch-no-such-command-xyz`,
			wantErr: `c.toml:8: account "charter": password_command: the command failed: exit status 127: sh: 1: smtpwatch-no-such-command-xyz: not found`,
		},
		{
			name:    "prints nothing",
			cmd:     `true`,
			wantErr: `c.toml:8: account "charter": password_command: the command printed nothing; it should print the password`,
		},
		{
			name:    "prints several lines",
			cmd:     `printf '%s\nurl: example.org\n' "` + testSecret + `"`,
			wantErr: `c.toml:8: account "charter": password_command: the command printed more than one line; it should print only the password (for pass: pass show NAME | head -n 1)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := commandAccount(tt.cmd).Password(context.Background())
			if tt.wantErr == "" {
				if err != nil || s.Reveal() != tt.want {
					t.Errorf("Password() = %q, %v; want %q", s.Reveal(), err, tt.want)
				}
				return
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			// dash and bash word "not found" differently.
			if tt.name == "not found" && strings.HasPrefix(got, strings.SplitN(tt.wantErr, ": sh", 2)[0]) {
				return
			}
			if got != tt.wantErr {
				t.Errorf("Password() error\n got: %s\nwant: %s", got, tt.wantErr)
			}
		})
	}
}

// TestPasswordCommandTimeout: a command that hangs is killed when the
// context ends, together with the processes it started, and Password
// returns promptly.
func TestPasswordCommandTimeout(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	// "; echo" keeps sh from exec'ing sleep, so sleep is a grandchild that
	// holds the output pipe open unless the whole group is killed.
	_, err := commandAccount(`sleep 30; echo late`).Password(ctx)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Password() = nil error for a hanging command")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
	}
	if want := `c.toml:8: account "charter": password_command: the command was stopped: context deadline exceeded`; err.Error() != want {
		t.Errorf("error\n got: %v\nwant: %s", err, want)
	}
	if elapsed > 5*time.Second {
		t.Errorf("Password() took %v after the context ended", elapsed)
	}
}

// TestPasswordNeverInErrors: whatever goes wrong, the password a source
// produced is not in the error text.
func TestPasswordNeverInErrors(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	t.Setenv("SMTPWATCH_TEST_PW", testSecret)
	cmds := []string{
		`printf '%s' "$SMTPWATCH_TEST_PW"; exit 1`,
		`printf '%s\n' "$SMTPWATCH_TEST_PW" >&2; printf '%s' "$SMTPWATCH_TEST_PW"; exit 1`,
		`printf 'error: %s\n' "$SMTPWATCH_TEST_PW" >&2; printf '%s' "$SMTPWATCH_TEST_PW"; exit 3`,
		`printf '%s\nsecond\n' "$SMTPWATCH_TEST_PW"`,
		`printf '%s' "$SMTPWATCH_TEST_PW"; kill -9 $$`,
		`head -c 70000 /dev/zero | tr '\0' x; printf '%s' "$SMTPWATCH_TEST_PW"`,
	}
	for i, c := range cmds {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			_, err := commandAccount(c).Password(context.Background())
			if err == nil {
				t.Fatalf("command %q: no error", c)
			}
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
				if strings.Contains(text, testSecret) {
					t.Errorf("error reveals the password: %s", text)
				}
			}
		})
	}
	// The secret itself never prints, however formatted.
	s, err := envAccount("SMTPWATCH_TEST_PW").Password(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s)} {
		if strings.Contains(text, testSecret) {
			t.Errorf("Secret prints its value: %s", text)
		}
	}
}
