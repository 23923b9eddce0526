package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// The config file as the TOML decoder fills it: one struct per table, one
// field per key. The field types take any TOML value and keep it, or note
// what is wrong with it, instead of failing the whole decode, so that the
// decoder can say which key of which [[account]] is wrong and where.
//
// Tables go through toml.Primitive, decoded once their type is known to be
// a table: [[account]] elements share one entry in the decoder's metadata,
// so each element is decoded on its own, and its keys are compared with
// the struct's tags to find unknown ones. The lines come from the locator.

// fileTable is the top level.
type fileTable struct {
	StateDir       tomlString     `toml:"state_dir"`
	Retention      tomlDuration   `toml:"retention"`
	MetricsListen  tomlString     `toml:"metrics_listen"`
	Reminder       tomlDuration   `toml:"reminder"`
	MaxConcurrency tomlInt        `toml:"max_concurrency"`
	UI             tomlBool       `toml:"ui"`
	UIListen       tomlString     `toml:"ui_listen"`
	Online         toml.Primitive `toml:"online"`
	Defaults       toml.Primitive `toml:"defaults"`
	Account        toml.Primitive `toml:"account"`
	Notify         toml.Primitive `toml:"notify"`
	Module         toml.Primitive `toml:"module"`
}

// onlineTable is [online].
type onlineTable struct {
	Targets tomlTargets `toml:"targets"`
}

// scheduleTable is [defaults], and part of every [[account]].
type scheduleTable struct {
	Interval         tomlDuration `toml:"interval"`
	AuthInterval     tomlDuration `toml:"auth_interval"`
	Timeout          tomlDuration `toml:"timeout"`
	CertWarnDays     tomlInt      `toml:"cert_warn_days"`
	SlowThreshold    tomlDuration `toml:"slow_threshold"`
	FailureThreshold tomlInt      `toml:"failure_threshold"`
	SuccessThreshold tomlInt      `toml:"success_threshold"`
}

// accountTable is one [[account]].
type accountTable struct {
	Name               tomlString `toml:"name"`
	Preset             tomlString `toml:"preset"`
	Server             tomlString `toml:"server"`
	Port               tomlInt    `toml:"port"`
	Security           tomlString `toml:"security"`
	Username           tomlString `toml:"username"`
	PasswordEnv        tomlString `toml:"password_env"`
	PasswordCommand    tomlString `toml:"password_command"`
	PasswordKeyring    tomlBool   `toml:"password_keyring"`
	From               tomlString `toml:"from"`
	Rcpt               tomlString `toml:"rcpt"`
	CAFile             tomlString `toml:"ca_file"`
	EHLOName           tomlString `toml:"ehlo_name"`
	TLSSkipVerify      tomlBool   `toml:"tls_skip_verify"`
	AllowPlaintextAuth tomlBool   `toml:"allow_plaintext_auth"`
	Enabled            tomlBool   `toml:"enabled"`
	oauthTable
	scheduleTable
}

// oauthTable is the sign-in keys of an [[account]]: how it signs in, and
// OAuth2's provider, app and token helper.
type oauthTable struct {
	Auth              tomlString  `toml:"auth"`
	OAuthProvider     tomlString  `toml:"oauth_provider"`
	OAuthClientID     tomlString  `toml:"oauth_client_id"`
	OAuthClientSecret tomlString  `toml:"oauth_client_secret"`
	OAuthTenant       tomlString  `toml:"oauth_tenant"`
	OAuthScopes       tomlStrings `toml:"oauth_scopes"`
	OAuthAuthURL      tomlString  `toml:"oauth_auth_url"`
	OAuthTokenURL     tomlString  `toml:"oauth_token_url"`
	OAuthDeviceURL    tomlString  `toml:"oauth_device_url"`
	OAuthTokenCommand tomlString  `toml:"oauth_token_command"`
}

func (t *oauthTable) settings() OAuthSettings {
	return OAuthSettings{
		Auth: t.Auth.v, Provider: t.OAuthProvider.v, ClientID: t.OAuthClientID.v, ClientSecret: t.OAuthClientSecret.v,
		Tenant: t.OAuthTenant.v, AuthURL: t.OAuthAuthURL.v, TokenURL: t.OAuthTokenURL.v,
		DeviceURL: t.OAuthDeviceURL.v, TokenCommand: t.OAuthTokenCommand.v,
	}
}

func (t *scheduleTable) schedule() Schedule {
	return Schedule{
		Interval: t.Interval.v, AuthInterval: t.AuthInterval.v, Timeout: t.Timeout.v,
		SlowThreshold: t.SlowThreshold.v, CertWarnDays: t.CertWarnDays.v,
		FailureThreshold: t.FailureThreshold.v, SuccessThreshold: t.SuccessThreshold.v,
	}
}

func (t *accountTable) settings() Settings {
	return Settings{
		Preset: t.Preset.v, Server: t.Server.v, Port: t.Port.v, Security: t.Security.v,
		Username: t.Username.v, PasswordEnv: t.PasswordEnv.v, PasswordCommand: t.PasswordCommand.v,
		PasswordKeyring: t.PasswordKeyring.v, From: t.From.v, Rcpt: t.Rcpt.v, CAFile: t.CAFile.v,
		EHLOName: t.EHLOName.v, TLSSkipVerify: t.TLSSkipVerify.v, AllowPlaintextAuth: t.AllowPlaintextAuth.v,
		Enabled: t.Enabled.v, OAuthSettings: t.oauthTable.settings(), Schedule: t.schedule(),
	}
}

// field is a key's value as the TOML decoder found it.
type field interface {
	// given reports whether the key was in the file.
	given() bool
	// problem says what is wrong with the value as written, "" if nothing:
	// the wrong type, or a duration that does not parse.
	problem(key string) string
}

// keyField is a table's key and its field.
type keyField struct {
	key string
	f   field
}

// fieldsOf lists the keys of the table struct that v points to, in struct
// order, with their fields (nil for toml.Primitive sub-tables).
func fieldsOf(v any) []keyField {
	var out []keyField
	var walk func(rv reflect.Value)
	walk = func(rv reflect.Value) {
		rt := rv.Type()
		for i := range rt.NumField() {
			sf := rt.Field(i)
			if sf.Anonymous {
				walk(rv.Field(i))
				continue
			}
			key, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
			if key == "" || key == "-" {
				continue
			}
			f, _ := rv.Field(i).Addr().Interface().(field)
			out = append(out, keyField{key, f})
		}
	}
	walk(reflect.ValueOf(v).Elem())
	return out
}

// keysOf lists the keys of the table struct that v points to.
func keysOf(v any) []string {
	var keys []string
	for _, kf := range fieldsOf(v) {
		keys = append(keys, kf.key)
	}
	return keys
}

// forget clears key's field in the table struct that v points to.
func forget(v any, key string) {
	for _, kf := range fieldsOf(v) {
		if kf.key == key && kf.f != nil {
			reflect.ValueOf(kf.f).Elem().SetZero()
		}
	}
}

// The keys of each table, for unknown-key suggestions.
func topKeys() []string      { return keysOf(&fileTable{}) }
func onlineKeys() []string   { return keysOf(&onlineTable{}) }
func scheduleKeys() []string { return keysOf(&scheduleTable{}) }
func accountKeys() []string  { return keysOf(&accountTable{}) }

// tomlString is a key that wants a string.
type tomlString struct {
	v   *string
	bad any
}

func (f *tomlString) UnmarshalTOML(x any) error {
	if s, ok := x.(string); ok {
		f.v = &s
	} else {
		f.bad = x
	}
	return nil
}

func (f *tomlString) given() bool { return f.v != nil || f.bad != nil }

func (f *tomlString) problem(key string) string {
	if f.bad != nil {
		return "want a string in quotes, got " + describe(key, f.bad)
	}
	return ""
}

// tomlInt is a key that wants a whole number.
type tomlInt struct {
	v   *int
	bad any
}

func (f *tomlInt) UnmarshalTOML(x any) error {
	if n, ok := x.(int64); ok {
		i := int(n)
		f.v = &i
	} else {
		f.bad = x
	}
	return nil
}

func (f *tomlInt) given() bool { return f.v != nil || f.bad != nil }

func (f *tomlInt) problem(key string) string {
	if f.bad != nil {
		return "want a whole number, got " + describe(key, f.bad)
	}
	return ""
}

// tomlBool is a key that wants true or false.
type tomlBool struct {
	v   *bool
	bad any
}

func (f *tomlBool) UnmarshalTOML(x any) error {
	if b, ok := x.(bool); ok {
		f.v = &b
	} else {
		f.bad = x
	}
	return nil
}

func (f *tomlBool) given() bool { return f.v != nil || f.bad != nil }

func (f *tomlBool) problem(key string) string {
	if f.bad != nil {
		return "want true or false, got " + describe(key, f.bad)
	}
	return ""
}

// tomlDuration is a key that wants a duration in quotes ("90s", "30d").
type tomlDuration struct {
	v    *time.Duration
	bad  any
	text string // as written
	msg  string // why text is not a duration
}

func (f *tomlDuration) UnmarshalTOML(x any) error {
	s, ok := x.(string)
	if !ok {
		f.bad = x
		return nil
	}
	f.text = s
	if strings.HasPrefix(strings.TrimSpace(s), "-") {
		f.msg = fmt.Sprintf("duration %q is negative", s)
		return nil
	}
	d, err := ParseDuration(s)
	if err != nil {
		f.msg = err.Error()
		return nil
	}
	f.v = &d
	return nil
}

func (f *tomlDuration) given() bool { return f.v != nil || f.bad != nil || f.msg != "" }

func (f *tomlDuration) problem(key string) string {
	switch {
	case f.bad != nil:
		return `want a duration in quotes, like "90s", "15m" or "30d", got ` + describe(key, f.bad)
	case f.msg != "":
		return f.msg
	}
	return ""
}

// tomlTargets is online.targets: a list of strings (tomlStrings) whose
// example, in messages, is an address on the internet.
type tomlTargets struct{ tomlStrings }

func (f *tomlTargets) problem(key string) string {
	if f.bad != nil {
		return `want a list of host:port addresses, like ["1.1.1.1:443"], got ` + describe(key, f.bad)
	}
	return ""
}
