// Package report renders probe results for people and programs: the
// troubleshooting report of `smtpwatch check` (text), its JSON form, and a
// Nagios plugin line. Renderers only format; they decide nothing.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"smtpwatch/monitor/human"
	"smtpwatch/monitor/probe"
)

// Worst is the most severe status among results; ok for none.
func Worst(rs []probe.Result) probe.Status {
	w := probe.StatusOK
	for _, r := range rs {
		if r.Status.Worse(w) {
			w = r.Status
		}
	}
	return w
}

// Document is the JSON form of a check: the worst status and each account.
type Document struct {
	Status   probe.Status   `json:"status"`
	Accounts []probe.Result `json:"accounts"`
}

// JSON writes the results as one indented JSON object.
func JSON(w io.Writer, rs []probe.Result) error {
	if rs == nil {
		rs = []probe.Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(Document{Status: Worst(rs), Accounts: rs})
}

// Verdict is the headline for a status: what it means for sending.
func Verdict(s probe.Status) string {
	switch s {
	case probe.StatusOK:
		return "sending mail works"
	case probe.StatusDegraded:
		return "sending works, with a warning"
	case probe.StatusFailing:
		return "sending mail will FAIL"
	}
	return "can't tell: this computer is OFFLINE"
}

// Header is the first line of an account's report.
func Header(r probe.Result) string {
	sec := r.Security.Label()
	if r.Detected != "" {
		sec = "auto: found " + r.Detected.Label()
	}
	return fmt.Sprintf("%s (%s, %s) — %s", r.DisplayName(), hostPort(r.Server, r.Port), sec, Verdict(r.Status))
}

func hostPort(h string, p int) string {
	if strings.Contains(h, ":") {
		return fmt.Sprintf("[%s]:%d", h, p)
	}
	return fmt.Sprintf("%s:%d", h, p)
}

// TextOptions adjust the text report.
type TextOptions struct {
	// Rerun is the command that repeats this check in JSON, for the "report
	// for support" line, given the account; "" leaves the line out.
	Rerun func(probe.Result) string
}

// Text writes the troubleshooting report: per account the verdict, the
// cause in plain words, what to change, then the evidence phase by phase.
func Text(w io.Writer, rs []probe.Result, o TextOptions) error {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString("\n")
		}
		writeAccount(&b, r, o)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeAccount(b *strings.Builder, r probe.Result, o TextOptions) {
	b.WriteString(Header(r) + "\n\n")
	for _, n := range r.Notes {
		b.WriteString("  ⚠ WARNING: " + n + "\n")
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
	}
	b.WriteString(wrap(r.Message, "  ", "  ", 78))
	for _, a := range r.Advice {
		b.WriteString(wrap(a, "  → ", "    ", 78))
	}
	if s := r.Suggestion; s != nil && r.Status != probe.StatusOK && !mentions(r.Advice, fmt.Sprintf("port %d", s.Port)) {
		b.WriteString(wrap(fmt.Sprintf("Port %d with %s works from here.", s.Port, s.Security.Label()), "  → ", "    ", 78))
	}
	for _, f := range r.Warnings {
		b.WriteString(wrap("Also: "+f.Message, "  ", "  ", 78))
	}
	b.WriteString("\n")
	for _, p := range r.Phases {
		state := "ok"
		if !p.OK {
			state = "FAIL"
		}
		fmt.Fprintf(b, "  %-9s  %-4s %6s   %s\n", p.Name, state, ms(p.Duration), p.Detail)
	}
	fmt.Fprintf(b, "  %-9s       %6s\n", "total", ms(r.Duration))
	if o.Rerun != nil {
		if cmd := o.Rerun(r); cmd != "" {
			b.WriteString("\n  Report for support: " + cmd + "\n")
		}
	}
}

func mentions(advice []string, s string) bool {
	for _, a := range advice {
		if strings.Contains(strings.ToLower(a), s) {
			return true
		}
	}
	return false
}

func ms(d time.Duration) string { return human.Duration(d) }

// wrap breaks s into lines of at most width runes, the first prefixed with
// first and the rest with rest.
func wrap(s, first, rest string, width int) string {
	var b strings.Builder
	line, prefix := "", first
	for _, word := range strings.Fields(s) {
		if line != "" && len([]rune(prefix+line+" "+word)) > width {
			b.WriteString(prefix + line + "\n")
			line, prefix = "", rest
		}
		if line == "" {
			line = word
		} else {
			line += " " + word
		}
	}
	if line != "" {
		b.WriteString(prefix + line + "\n")
	}
	return b.String()
}

// NagiosLine is one plugin output line with performance data, e.g.
//
//	SMTP CRITICAL - charter: password rejected (535 5.7.8) | 'charter_time'=0.196s;5;30;0 ...
//
// The exit status to go with it is Worst(rs).ExitCode().
func NagiosLine(rs []probe.Result) string {
	label := map[probe.Status]string{probe.StatusOK: "OK", probe.StatusDegraded: "WARNING", probe.StatusFailing: "CRITICAL", probe.StatusOffline: "UNKNOWN"}
	worst := Worst(rs)
	var parts, perf []string
	for _, r := range rs {
		s := r.Name + ": " + CauseWords(r.Cause)
		if r.SMTP != nil {
			s += " (" + r.SMTP.String() + ")"
		}
		parts = append(parts, nagiosText(s))
		name := perfName(r.Name)
		perf = append(perf, fmt.Sprintf("'%s_time'=%.3fs;;;0", name, r.Duration.Seconds()))
		for _, p := range r.Phases {
			perf = append(perf, fmt.Sprintf("'%s_%s'=%.3fs;;;0", name, perfName(p.Name), p.Duration.Seconds()))
		}
		if r.TLS != nil && r.TLS.Version != "" {
			perf = append(perf, fmt.Sprintf("'%s_cert_days'=%d;;;", name, r.TLS.DaysLeft))
		}
	}
	if len(rs) == 0 {
		return "SMTP UNKNOWN - no accounts to check"
	}
	return fmt.Sprintf("SMTP %s - %s | %s", label[worst], strings.Join(parts, "; "), strings.Join(perf, " "))
}

// nagiosText makes s safe for the text part of a plugin line: "|" would
// start the performance data there, so it becomes "¦", and a line break
// would start the long output, so control characters become spaces.
func nagiosText(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '|':
			return '¦'
		case unicode.IsControl(r):
			return ' '
		}
		return r
	}, s)
}

// perfName makes s a performance data label that needs no quoting rules:
// letters, digits, ".", "-" and "_" stay, anything else ("'", "=", "|",
// spaces) becomes "_".
func perfName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsLetter(r), unicode.IsDigit(r), r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}
