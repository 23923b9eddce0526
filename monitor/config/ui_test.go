package config

import (
	"strings"
	"testing"
)

// The dashboard is on by default, on a free loopback port; ui = false
// turns it off and ui_listen names a loopback address, never another.
func TestUISettings(t *testing.T) {
	cfg, err := Parse("c.toml", []byte(""))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.UI || cfg.UIListen != DefaultUIListen || DefaultUIListen != "127.0.0.1:0" {
		t.Errorf("defaults: ui %v, ui_listen %q", cfg.UI, cfg.UIListen)
	}
	cfg, err = Parse("c.toml", []byte("ui = false\nui_listen = \"[::1]:9926\"\n"))
	if err != nil || cfg.UI || cfg.UIListen != "[::1]:9926" {
		t.Fatalf("%+v, %v", cfg, err)
	}
	for _, ok := range []string{"127.0.0.1:0", "127.0.0.2:9926", "localhost:9926", "[::1]:0", "LOCALHOST:1"} {
		if err := checkUIListen(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"0.0.0.0:9926":         "not a loopback address",
		"[::]:9926":            "not a loopback address",
		"192.168.1.2:9926":     "not a loopback address",
		"example.com:9926":     "not a loopback address",
		"localhost.evil.:9926": "not a loopback address",
		"[fe80::1%lo]:9926":    "not a loopback address",
		"[::1%lo]:9926":        "not a loopback address",
		"127.0.0.1":            "want a loopback host:port",
		"127.0.0.1:http":       "the port must be a number",
		"127.0.0.1:70000":      "the port must be a number",
		"127.0.0.1:-1":         "the port must be a number",
		":9926":                "not a loopback address",
	} {
		err := checkUIListen(bad)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want an error saying %q", bad, err, want)
		}
	}
	if _, err := Parse("c.toml", []byte("ui = \"yes\"\n")); err == nil || !strings.Contains(err.Error(), "c.toml:1: ui: want true or false") {
		t.Errorf("ui = \"yes\": %v", err)
	}
}
