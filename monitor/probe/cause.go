package probe

// Cause is a stable identifier of what a check found. The set is the
// vocabulary of DESIGN.md; JSON, metrics and history store these strings.
type Cause string

// Causes of failure, and ok.
const (
	CauseOK                      Cause = "ok"
	CauseOffline                 Cause = "offline"
	CauseDNSFailure              Cause = "dns_failure"
	CauseConnectionRefused       Cause = "connection_refused"
	CauseConnectionTimeout       Cause = "connection_timeout"
	CauseGreetingTimeout         Cause = "greeting_timeout"
	CauseServiceUnavailable      Cause = "service_unavailable"
	CauseWrongTLSMode            Cause = "wrong_tls_mode"
	CauseSTARTTLSUnsupported     Cause = "starttls_unsupported"
	CauseTLSHandshakeFailed      Cause = "tls_handshake_failed"
	CauseCertificateExpired      Cause = "certificate_expired"
	CauseCertificateNotYetValid  Cause = "certificate_not_yet_valid"
	CauseCertificateHostMismatch Cause = "certificate_hostname_mismatch"
	CauseCertificateUntrusted    Cause = "certificate_untrusted"
	CauseTLSIntercepted          Cause = "tls_intercepted"
	CausePlaintextAuthRefused    Cause = "plaintext_auth_refused"
	CauseAuthUnsupported         Cause = "auth_unsupported"
	CauseAuthRejected            Cause = "auth_rejected"
	CauseAppPasswordRequired     Cause = "app_password_required"
	CauseBasicAuthDisabled       Cause = "basic_auth_disabled"
	// CauseSMTPAuthDisabled: an administrator switched SMTP sign-in off
	// for the mailbox or the whole organisation (Microsoft's "535 5.7.139
	// ... SmtpClientAuthentication is disabled"); OAuth does not help.
	CauseSMTPAuthDisabled Cause = "smtp_auth_disabled"
	// CauseOAuthSignInRequired: an OAuth2 account has no usable sign-in —
	// never signed in, or the provider refused the stored one (revoked,
	// expired, password changed).
	CauseOAuthSignInRequired Cause = "oauth_sign_in_required"
	// CauseOAuthTokenRejected: the SMTP server refused a fresh OAuth2
	// access token.
	CauseOAuthTokenRejected Cause = "oauth_token_rejected"
	// CauseOAuthProviderUnreachable: no access token could be had because
	// the provider's sign-in service did not answer (or answered 5xx),
	// while the mail server and the network are fine.
	CauseOAuthProviderUnreachable Cause = "oauth_provider_unreachable"
	CauseAuthTemporaryFailure     Cause = "auth_temporary_failure"
	CauseRateLimited              Cause = "rate_limited"
	CauseSenderRejected           Cause = "sender_rejected"
	CauseRecipientRejected        Cause = "recipient_rejected"
	CauseProtocolError            Cause = "protocol_error"
)

// Warnings: sending works, but something needs attention.
const (
	CauseCertificateExpiring Cause = "certificate_expiring"
	CauseSlowResponse        Cause = "slow_response"
	CauseNoCredentials       Cause = "no_credentials"
)

// AllCauses lists every cause, failures first, then warnings.
var AllCauses = []Cause{
	CauseOK, CauseOffline, CauseDNSFailure, CauseConnectionRefused, CauseConnectionTimeout,
	CauseGreetingTimeout, CauseServiceUnavailable, CauseWrongTLSMode, CauseSTARTTLSUnsupported,
	CauseTLSHandshakeFailed, CauseCertificateExpired, CauseCertificateNotYetValid,
	CauseCertificateHostMismatch, CauseCertificateUntrusted, CauseTLSIntercepted,
	CausePlaintextAuthRefused, CauseAuthUnsupported, CauseAuthRejected, CauseAppPasswordRequired,
	CauseBasicAuthDisabled, CauseSMTPAuthDisabled, CauseOAuthSignInRequired, CauseOAuthTokenRejected,
	CauseOAuthProviderUnreachable, CauseAuthTemporaryFailure, CauseRateLimited, CauseSenderRejected,
	CauseRecipientRejected, CauseProtocolError,
	CauseCertificateExpiring, CauseSlowResponse, CauseNoCredentials,
}

// IsWarning reports whether the cause leaves sending working.
func (c Cause) IsWarning() bool {
	switch c {
	case CauseCertificateExpiring, CauseSlowResponse, CauseNoCredentials:
		return true
	}
	return false
}

// IsCredentialRejection reports whether the credential itself was refused
// — by the server, or for an OAuth2 account by the provider's sign-in
// service — so that sending the same one again could lock the account or
// cannot help: it waits for a new credential (a new password, a new
// sign-in).
func (c Cause) IsCredentialRejection() bool {
	switch c {
	case CauseAuthRejected, CauseAppPasswordRequired, CauseBasicAuthDisabled, CauseSMTPAuthDisabled,
		CauseOAuthSignInRequired, CauseOAuthTokenRejected:
		return true
	}
	return false
}

// Status is the verdict a cause leads to. tls_intercepted on a chain that
// verifies is a warning too; the probe sets that case's status itself.
func (c Cause) Status() Status {
	switch {
	case c == CauseOK:
		return StatusOK
	case c == CauseOffline:
		return StatusOffline
	case c.IsWarning():
		return StatusDegraded
	}
	return StatusFailing
}

var shortText = map[Cause]string{
	CauseOK: "OK", CauseOffline: "this computer is offline", CauseDNSFailure: "server name not found",
	CauseConnectionRefused: "connection refused", CauseConnectionTimeout: "port blocked or unreachable",
	CauseGreetingTimeout: "server not answering", CauseServiceUnavailable: "server refuses service",
	CauseWrongTLSMode: "wrong SSL/STARTTLS setting", CauseSTARTTLSUnsupported: "no encryption offered",
	CauseTLSHandshakeFailed: "encryption failed", CauseCertificateExpired: "certificate expired",
	CauseCertificateNotYetValid: "certificate not yet valid (clock?)", CauseCertificateHostMismatch: "certificate for another name",
	CauseCertificateUntrusted: "certificate not trusted", CauseTLSIntercepted: "connection intercepted by security software",
	CausePlaintextAuthRefused: "password would go unencrypted", CauseAuthUnsupported: "no password sign-in offered",
	CauseAuthRejected: "password rejected", CauseAppPasswordRequired: "app password required",
	CauseBasicAuthDisabled: "password sign-in disabled (OAuth only)", CauseAuthTemporaryFailure: "sign-in temporarily failing",
	CauseSMTPAuthDisabled: "SMTP sign-in turned off by an administrator", CauseOAuthSignInRequired: "sign-in required",
	CauseOAuthTokenRejected: "access token refused", CauseOAuthProviderUnreachable: "sign-in service unreachable",
	CauseRateLimited: "rate limited", CauseSenderRejected: "sender rejected", CauseRecipientRejected: "recipient rejected",
	CauseProtocolError: "not speaking SMTP properly", CauseCertificateExpiring: "certificate expires soon",
	CauseSlowResponse: "slow", CauseNoCredentials: "sign-in not checked",
}

// Short is a few words for a menu line or a tooltip: "password rejected".
func (c Cause) Short() string {
	if s, ok := shortText[c]; ok {
		return s
	}
	return string(c)
}
