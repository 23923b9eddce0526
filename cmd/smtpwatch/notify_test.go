package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// `smtpwatch notify test` sends through every channel and says, per
// channel, what happened — never the URL — with exit 2 when one failed;
// NAME picks one; a name the config lacks is refused.
func TestNotifyTest(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = append(got, r.URL.Path+" "+r.Header.Get("Title")+" "+string(b))
		io.WriteString(w, `{"id":"x1"}`) // as ntfy answers
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	cfg := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[[notify]]
name = "phone"
url = "ntfy://%s/secret-topic?disabletls=yes"
[[notify]]
name = "hook"
webhook = "http://%s/hook-s3cret"
`, host, down)), 0o600)

	a, out, errb := testApp()
	code := a.main(context.Background(), []string{"notify", "test", "--config", cfg})
	if code != exitFailing {
		t.Errorf("exit %d, want 2; stderr %s", code, errb)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "✓ phone (ntfy): delivered in ") || !strings.HasPrefix(lines[1], "✗ hook (webhook): not delivered after ") ||
		!strings.Contains(lines[1], "connection refused") {
		t.Errorf("output:\n%s", out)
	}
	if strings.Contains(out.String(), "secret-topic") || strings.Contains(out.String(), "hook-s3cret") {
		t.Errorf("the output shows a URL:\n%s", out)
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "/secret-topic smtpwatch test notification If you read this, smtpwatch's alerts reach you through phone") {
		t.Errorf("received %q", got)
	}

	a, out, _ = testApp()
	if code := a.main(context.Background(), []string{"notify", "test", "PHONE", "--config", cfg}); code != exitOK || strings.Count(out.String(), "\n") != 1 {
		t.Errorf("notify test PHONE: exit %d\n%s", code, out)
	}
	a, _, errb = testApp()
	if code := a.main(context.Background(), []string{"notify", "test", "pager", "--config", cfg}); code != exitUnknown ||
		!strings.Contains(errb.String(), `has no [[notify]] named "pager" (its channels: phone, hook)`) {
		t.Errorf("notify test pager: exit %d, %s", code, errb)
	}
}

// `smtpwatch notify set-url` stores only for a channel of the config, and
// says so plainly where there is no keyring (no session bus): nothing is
// read or stored then.
func TestNotifySetURL(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "disabled:")
	cfg := filepath.Join(t.TempDir(), "config.toml")
	os.WriteFile(cfg, []byte("[[notify]]\nname = \"phone\"\nurl_keyring = true\n"), 0o600)
	a, _, errb := testApp()
	if code := a.main(context.Background(), []string{"notify", "set-url", "pager", "--config", cfg}); code != exitUnknown ||
		!strings.Contains(errb.String(), `has no [[notify]] named "pager"; nothing stored`) {
		t.Errorf("unknown channel: exit %d, %s", code, errb)
	}
	a, _, errb = testApp()
	a.stdin = strings.NewReader("ntfy://ntfy.example.org/s3cret-topic\n")
	if code := a.main(context.Background(), []string{"notify", "set-url", "phone", "--config", cfg}); code != exitUnknown ||
		!strings.Contains(errb.String(), "the OS keyring is not available here: there is no D-Bus session bus. Use url_command or url_env") ||
		strings.Contains(errb.String(), "s3cret") {
		t.Errorf("no keyring: exit %d, %s", code, errb)
	}
}
