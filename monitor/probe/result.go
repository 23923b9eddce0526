package probe

import (
	"encoding/json"
	"fmt"
	"time"
)

// Status is the verdict of one check, in increasing order of severity as the
// Nagios exit codes rank them.
type Status string

// The verdicts.
const (
	StatusOK       Status = "ok"       // sending works
	StatusDegraded Status = "degraded" // works, with a warning
	StatusFailing  Status = "failing"  // sending would fail
	StatusOffline  Status = "offline"  // this computer has no network; nothing known of the server
)

// ExitCode is the Nagios plugin exit status for the verdict: 0 ok,
// 1 degraded (warning), 2 failing (critical), 3 offline (unknown).
func (s Status) ExitCode() int {
	switch s {
	case StatusOK:
		return 0
	case StatusDegraded:
		return 1
	case StatusFailing:
		return 2
	}
	return 3
}

// Worse reports whether s is more severe than o.
func (s Status) Worse(o Status) bool { return s.ExitCode() > o.ExitCode() }

// Phase is one timed step of the pipeline.
type Phase struct {
	Name     string // dns, connect, greeting, ehlo, tls, auth, envelope, quit
	OK       bool
	Duration time.Duration
	Detail   string // one line for a person: what was seen
}

// The phase names, in pipeline order.
const (
	PhaseDNS      = "dns"
	PhaseConnect  = "connect"
	PhaseGreeting = "greeting"
	PhaseEHLO     = "ehlo"
	PhaseTLS      = "tls"
	PhaseAuth     = "auth"
	PhaseEnvelope = "envelope"
	PhaseQuit     = "quit"
)

// Reply is the SMTP reply that explains a cause.
type Reply struct {
	Code         int    `json:"code"`
	EnhancedCode string `json:"enhanced_code,omitempty"` // "5.7.8"; "" when the server sent none
	Message      string `json:"message"`
}

func (r Reply) String() string {
	if r.EnhancedCode != "" {
		return fmt.Sprintf("%d %s %s", r.Code, r.EnhancedCode, r.Message)
	}
	return fmt.Sprintf("%d %s", r.Code, r.Message)
}

// TLSInfo describes the TLS session and the server's certificate, as far as
// the handshake got.
type TLSInfo struct {
	Version  string    `json:"version"` // "TLS 1.3"; "" when the handshake failed
	Cipher   string    `json:"cipher,omitempty"`
	Verified bool      `json:"verified"` // chain, host name and dates all checked and good
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	NotAfter time.Time `json:"not_after"`
	DaysLeft int       `json:"days_left"`
	// Interceptor names the security product whose certificate authority
	// signed the chain, when one did ("ESET SSL Filter CA").
	Interceptor string `json:"interceptor,omitempty"`
}

// Suggestion is another port and mode that was seen to work.
type Suggestion struct {
	Port     int      `json:"port"`
	Security Security `json:"security"`
}

// Finding is a secondary diagnosis shown beside the main cause, such as a
// certificate that expires soon on an account that also has no credentials.
type Finding struct {
	Cause   Cause  `json:"cause"`
	Message string `json:"message"`
}

// Result is the classified outcome of one probe. Status and Cause always
// agree (see Cause.Status); Message and Advice are for a person.
type Result struct {
	Name     string
	Provider string // display name, e.g. "Charter"
	Server   string
	Port     int
	Security Security // as configured
	Detected Security // what auto found; "" unless Security is auto and it found one

	Status  Status
	Cause   Cause
	Message string
	Advice  []string
	// Warnings are further findings of warning severity.
	Warnings []Finding
	// Notes are settings that weaken the check or the account's security,
	// such as tls_skip_verify; every report prints them.
	Notes []string

	SMTP       *Reply
	Phases     []Phase
	TLS        *TLSInfo
	Suggestion *Suggestion

	// AuthVerified is true when the server accepted the credentials.
	AuthVerified bool

	CheckedAt time.Time
	Duration  time.Duration
}

// DisplayName is the provider's name, or the account's when none is known.
func (r Result) DisplayName() string {
	if r.Provider != "" {
		return r.Provider
	}
	return r.Name
}

// Phase returns the named phase, if it ran.
func (r Result) Phase(name string) (Phase, bool) {
	for _, p := range r.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return Phase{}, false
}

type jsonPhase struct {
	Name       string `json:"name"`
	OK         bool   `json:"ok"`
	DurationMS int64  `json:"duration_ms"`
	Detail     string `json:"detail"`
}

type jsonResult struct {
	Name         string      `json:"name"`
	Provider     string      `json:"provider,omitempty"`
	Server       string      `json:"server"`
	Port         int         `json:"port"`
	Security     Security    `json:"security"`
	Detected     Security    `json:"detected_security,omitempty"`
	Status       Status      `json:"status"`
	Cause        Cause       `json:"cause"`
	Message      string      `json:"message"`
	Advice       []string    `json:"advice"`
	Warnings     []Finding   `json:"warnings,omitempty"`
	Notes        []string    `json:"notes,omitempty"`
	SMTP         *Reply      `json:"smtp,omitempty"`
	Phases       []jsonPhase `json:"phases"`
	TLS          *TLSInfo    `json:"tls,omitempty"`
	Suggestion   *Suggestion `json:"suggestion,omitempty"`
	AuthVerified bool        `json:"auth_verified"`
	CheckedAt    time.Time   `json:"checked_at"`
	DurationMS   int64       `json:"duration_ms"`
}

// MarshalJSON gives the documented JSON form of `check --json`: durations in
// whole milliseconds, phases as an array in pipeline order.
func (r Result) MarshalJSON() ([]byte, error) {
	j := jsonResult{
		Name: r.Name, Provider: r.Provider, Server: r.Server, Port: r.Port, Security: r.Security, Detected: r.Detected,
		Status: r.Status, Cause: r.Cause, Message: r.Message, Advice: r.Advice,
		Warnings: r.Warnings, Notes: r.Notes, SMTP: r.SMTP, TLS: r.TLS, Suggestion: r.Suggestion,
		AuthVerified: r.AuthVerified, CheckedAt: r.CheckedAt, DurationMS: r.Duration.Milliseconds(),
		Phases: make([]jsonPhase, 0, len(r.Phases)),
	}
	if j.Advice == nil {
		j.Advice = []string{}
	}
	for _, p := range r.Phases {
		j.Phases = append(j.Phases, jsonPhase{p.Name, p.OK, p.Duration.Milliseconds(), p.Detail})
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the form MarshalJSON writes, for clients of the
// daemon's API.
func (r *Result) UnmarshalJSON(b []byte) error {
	var j jsonResult
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*r = Result{
		Name: j.Name, Provider: j.Provider, Server: j.Server, Port: j.Port, Security: j.Security, Detected: j.Detected,
		Status: j.Status, Cause: j.Cause, Message: j.Message, Advice: j.Advice,
		Warnings: j.Warnings, Notes: j.Notes, SMTP: j.SMTP, TLS: j.TLS, Suggestion: j.Suggestion,
		AuthVerified: j.AuthVerified, CheckedAt: j.CheckedAt, Duration: time.Duration(j.DurationMS) * time.Millisecond,
	}
	for _, p := range j.Phases {
		r.Phases = append(r.Phases, Phase{p.Name, p.OK, time.Duration(p.DurationMS) * time.Millisecond, p.Detail})
	}
	return nil
}
