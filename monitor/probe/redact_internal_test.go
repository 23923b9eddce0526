package probe

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
)

func TestRedactRules(t *testing.T) {
	var s secrets
	s.password("alice@example.test", "hunter22")
	blob := base64.StdEncoding.EncodeToString([]byte("\x00alice@example.test\x00hunter22"))
	var short secrets
	short.password("alice@example.test", "ab")
	for _, c := range []struct {
		s        *secrets
		in, want string
	}{
		{&s, "535 5.7.8 failed (password=hunter22)", "535 5.7.8 failed (password=[redacted])"},
		{&s, "535 failed for " + blob, "535 failed for [redacted]"},
		{&s, "535 failed for " + blob[:8] + "...", "535 failed for [redacted]..."},
		{&s, "535 failed for " + blob[:7] + "...", "535 failed for [redacted]..."},       // "AHVAeAB...", as servers truncate
		{&s, "535 failed for " + blob[:5] + "...", "535 failed for " + blob[:5] + "..."}, // too short to tell from chance
		{&s, "535 failed for xyz" + blob[5:20] + "!", "535 failed for [redacted]!"},      // a fragment inside a longer run
		{&s, "you sent " + base64.StdEncoding.EncodeToString([]byte("hunter22")), "you sent [redacted]"},
		{&s, "535 5.7.8 Authentication credentials invalid", "535 5.7.8 Authentication credentials invalid"},
		{&s, "user alice@example.test rejected", "user alice@example.test rejected"},
		{&short, "bad password ab for alice", "bad password [redacted] for alice"},
		{&short, "password=ab.", "password=[redacted]."},
		{&short, "about a tab, abab", "about a tab, abab"},
		{&short, "you sent " + base64.StdEncoding.EncodeToString([]byte("ab")), "you sent [redacted]"},
		{&secrets{}, "password=hunter22", "password=hunter22"},
	} {
		if got := c.s.redact(c.in); got != c.want {
			t.Errorf("redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// fill sets every string reachable from v to text, making nil pointers and
// slices non-nil on the way.
func fill(v reflect.Value, text string) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(text)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), text)
			}
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), text)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		fill(v.Index(0), text)
		fill(v.Index(1), text)
	}
}

// collect lists every string reachable from v with its path.
func collect(v reflect.Value, path string, out map[string]string) {
	switch v.Kind() {
	case reflect.String:
		out[path] = v.String()
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				collect(v.Field(i), path+"."+f.Name, out)
			}
		}
	case reflect.Pointer:
		if !v.IsNil() {
			collect(v.Elem(), path, out)
		}
	case reflect.Slice:
		for i := range v.Len() {
			collect(v.Index(i), path+"[]", out)
		}
	}
}

// Every string of a Result is redacted, whatever field it is in — fields
// added later included — except the account's own identifiers and the
// enumerations; the input is not written through.
func TestRedactReachesEveryField(t *testing.T) {
	var s secrets
	s.password("alice@example.test", "hunter22")
	var r Result
	fill(reflect.ValueOf(&r).Elem(), "said hunter22 here")
	before := map[string]string{}
	collect(reflect.ValueOf(r), "Result", before)
	after := map[string]string{}
	collect(reflect.ValueOf(s.result(r)), "Result", after)
	own := map[string]bool{"Result.Name": true, "Result.Provider": true, "Result.Server": true, "Result.Phases[].Name": true}
	enums := 0
	for path, v := range after {
		typ := strings.Contains(path, "Security") || strings.Contains(path, "Cause") || strings.Contains(path, "Status") || strings.Contains(path, "Detected")
		switch {
		case own[path] || typ:
			if strings.Contains(path, "Cause") || typ {
				enums++
			}
			if v != "said hunter22 here" {
				t.Errorf("%s changed to %q", path, v)
			}
		case v != "said [redacted] here":
			t.Errorf("%s = %q, not redacted", path, v)
		}
	}
	if len(after) < 15 || enums == 0 {
		t.Errorf("only %d strings (%d enumerations) seen: %v", len(after), enums, after)
	}
	again := map[string]string{}
	collect(reflect.ValueOf(r), "Result", again)
	if !reflect.DeepEqual(before, again) {
		t.Error("redaction wrote through to the input")
	}
}
