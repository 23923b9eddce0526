package notify

import (
	"net/url"
	"slices"
	"strings"
)

// redactedText replaces a secret part of a channel's URL in what a
// channel says.
const redactedText = "[redacted]"

// minSecretPart: URL parts shorter than this ("/", "v1", "yes") are common
// words, not secrets, and are left alone.
const minSecretPart = 4

// secretParts are the pieces of a channel's URL that may be secrets: the
// whole URL, the user name and password, every path segment and query
// value, and the host when it is not a host name (slack://TOKEN/...
// puts a token there) — each as written and URL-escaped. Host names and
// the scheme are not secret.
func secretParts(raw string) []string {
	parts := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return parts
	}
	if u.User != nil {
		parts = append(parts, u.User.Username())
		if p, ok := u.User.Password(); ok {
			parts = append(parts, p)
		}
		parts = append(parts, u.User.String())
	}
	if h := u.Hostname(); h != "" && !strings.ContainsAny(h, ".:") && h != "localhost" {
		parts = append(parts, h)
	}
	for _, seg := range strings.Split(u.Path, "/") {
		parts = append(parts, seg)
	}
	parts = append(parts, u.RawQuery, u.EscapedPath())
	for _, vs := range u.Query() {
		parts = append(parts, vs...)
	}
	var out []string
	for _, p := range parts {
		for _, f := range []string{p, url.PathEscape(p), url.QueryEscape(p)} {
			if len(f) >= minSecretPart && !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	// Longest first: a part inside another is replaced with it.
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// redact replaces every secret part in s.
func redact(s string, parts []string) string {
	for _, p := range parts {
		s = strings.ReplaceAll(s, p, redactedText)
	}
	return s
}

// redactedError is an error whose text went through redact. It does not
// unwrap: the errors under it (a *url.Error...) print the URL.
type redactedError struct{ msg string }

func (e *redactedError) Error() string { return e.msg }

func redactErr(prefix string, err error, parts []string) error {
	if err == nil {
		return nil
	}
	msg := redact(err.Error(), parts)
	if prefix != "" {
		msg = prefix + ": " + msg
	}
	return &redactedError{msg: msg}
}
