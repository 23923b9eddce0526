package credential

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const testSecret = "hunter2-S3cr3t"

// TestSecretRedacted: however a Secret is printed, encoded or logged — on
// its own, by pointer, inside a struct, a map or a slice — the value does
// not appear; Reveal gives it back.
func TestSecretRedacted(t *testing.T) {
	s := NewSecret(testSecret)
	type holder struct {
		User     string
		Password Secret
		Ptr      *Secret
	}
	h := holder{User: "me", Password: s, Ptr: &s}
	var outputs []string
	for _, v := range []any{s, &s, h, &h, []Secret{s}, map[string]Secret{"pw": s}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
			outputs = append(outputs, fmt.Sprintf(verb, v))
		}
		outputs = append(outputs, fmt.Sprint(v), fmt.Sprintln(v))
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		outputs = append(outputs, string(b))
	}
	b, err := xml.Marshal(h)
	if err != nil {
		t.Fatalf("xml.Marshal: %v", err)
	}
	outputs = append(outputs, string(b))
	outputs = append(outputs, fmt.Errorf("wrapped: %v", s).Error(), errors.New(s.String()).Error())

	var logs bytes.Buffer
	for _, hd := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		l := slog.New(hd)
		l.Info("login", "password", s, "ptr", &s, "holder", h, slog.Any("any", s), slog.Group("g", "pw", s))
	}
	outputs = append(outputs, logs.String())

	for _, out := range outputs {
		if strings.Contains(out, testSecret) || strings.Contains(out, fmt.Sprintf("%x", testSecret)) {
			t.Errorf("the secret shows: %s", out)
		}
	}
	if !strings.Contains(logs.String(), "[redacted]") {
		t.Errorf("logs do not say [redacted]: %s", logs.String())
	}
	if got, _ := json.Marshal(s); string(got) != `"[redacted]"` {
		t.Errorf("JSON = %s", got)
	}
	if s.Reveal() != testSecret || s.IsZero() || !s.Equal(NewSecret(testSecret)) || s.Equal(Secret{}) || !(Secret{}).IsZero() {
		t.Error("Reveal, IsZero or Equal is wrong")
	}
}
