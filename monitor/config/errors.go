package config

import (
	"fmt"
	"strings"
)

// Error is a problem with a config file or with an account's credential.
// Every error returned by Load, Parse and Account.Password is an *Error, so
// that callers can show where the problem is; use errors.As to get it.
//
// Error() renders it on one line as
//
//	FILE:LINE: account "NAME": KEY: MSG
//
// leaving out the parts that are empty or zero. Errors about settings given
// as command-line flags have no file and name the flag as KEY
// ("--ca-file").
type Error struct {
	File string // the file name as given to Load or Parse; "" for flags
	// Line is the 1-based line of the key (of the [[account]] header for a
	// missing key). 0 means the file as a whole, e.g. when it cannot be read.
	Line int
	// Account is the account's name; Index is its 1-based position among the
	// [[account]] tables. Both are zero outside an account; an account
	// without a valid name is shown by its position.
	Account string
	Index   int
	// Table is the kind of table Account and Index are in: "" for
	// [[account]], "notify" for [[notify]], "module" for [[module]].
	Table string
	// Key is the key as written in its table ("security"), prefixed by the
	// table outside accounts ("defaults.interval"). "" for syntax errors
	// that name no key, and for file-level errors.
	Key string
	Msg string
	// Err is the underlying error, if any (a file system error, a keyring
	// error, context.DeadlineExceeded), for errors.Is. Its text is in Msg
	// when it helps; it never holds a credential.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	table := e.Table
	if table == "" {
		table = "account"
	}
	switch {
	case e.Account != "":
		fmt.Fprintf(&b, "%s %q: ", table, e.Account)
	case e.Index > 0:
		fmt.Fprintf(&b, "%s #%d: ", table, e.Index)
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// suggest returns the candidate an unknown key most likely meant: a common
// name for it from other mail programs, or a near miss by spelling; "" when
// nothing is close.
func suggest(key string, candidates []string) string {
	lk := strings.ToLower(key)
	known := func(c string) bool {
		for _, k := range candidates {
			if k == c {
				return true
			}
		}
		return false
	}
	if c := aliases(lk); c != "" && known(c) {
		return c
	}
	best, bestDist := "", 0
	for _, c := range candidates {
		d := editDistance(lk, c)
		if best == "" || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := 2
	if len(lk) <= 4 {
		limit = 1
	}
	if best == "" || bestDist > limit {
		return ""
	}
	return best
}

// aliases maps the names other mail programs use to ours.
func aliases(key string) string {
	switch key {
	case "host", "hostname", "smtp", "smtp_server", "smtp_host", "server_name", "outgoing_server":
		return "server"
	case "smtp_port":
		return "port"
	case "user", "user_name", "login", "email":
		return "username"
	case "ssl", "tls", "encryption", "starttls", "tls_mode":
		return "security"
	case "sender", "mail_from":
		return "from"
	case "to", "recipient", "rcpt_to":
		return "rcpt"
	case "ca", "cafile", "ca_cert", "ca_certs", "tls_ca", "tls_ca_file", "tls_trust_file":
		return "ca_file"
	case "helo", "ehlo", "helo_name", "hostname_ehlo":
		return "ehlo_name"
	case "insecure", "insecure_skip_verify", "skip_verify", "tls_insecure", "tls_certcheck":
		return "tls_skip_verify"
	case "disabled", "enable":
		return "enabled"
	case "accounts":
		return "account"
	case "default":
		return "defaults"
	case "passwordeval", "password_eval", "passcmd", "password_cmd", "pass_command":
		return "password_command"
	case "keyring", "password_keychain", "use_keyring":
		return "password_keyring"
	case "password_env_var", "password_variable":
		return "password_env"
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, by bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
