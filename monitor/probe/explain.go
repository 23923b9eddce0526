package probe

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/human"
)

// conclude sets the verdict, the warnings, the message and the advice.
func (p *prober) conclude(f *failure) {
	r := &p.res
	warnings := p.warnings(p.core, f == nil)
	if f != nil {
		r.Cause, r.Status, r.SMTP, r.Suggestion = f.cause, f.cause.Status(), f.reply, f.suggestion
	} else if len(warnings) > 0 {
		r.Cause, r.Status = warnings[0], StatusDegraded
		warnings = warnings[1:]
	} else {
		r.Cause, r.Status = CauseOK, StatusOK
	}
	r.Message, r.Advice = p.explain(r.Cause, f)
	for _, w := range warnings {
		if w == r.Cause {
			continue
		}
		msg, _ := p.explain(w, nil)
		r.Warnings = append(r.Warnings, Finding{Cause: w, Message: msg})
	}
}

// warnings lists what deserves attention, most important first. After a
// failure only the certificate's state is worth a word beside the cause.
func (p *prober) warnings(core time.Duration, completed bool) []Cause {
	var w []Cause
	if t := p.res.TLS; t != nil && t.Verified {
		if t.Interceptor != "" {
			w = append(w, CauseTLSIntercepted)
		}
		if t.DaysLeft < p.t.certWarnDays() {
			w = append(w, CauseCertificateExpiring)
		}
	}
	if !completed {
		return w
	}
	if core > p.t.slowThreshold() {
		w = append(w, CauseSlowResponse)
	}
	if !p.t.SkipAuth && !p.t.hasCredential() {
		w = append(w, CauseNoCredentials)
	}
	return w
}

// explain gives the plain-words message and the concrete advice for a cause,
// in the account's own terms. Each cause has its own explainer in
// explainers; a cause without one (none today, see TestEveryCauseExplained)
// falls back to the failure's detail.
func (p *prober) explain(c Cause, f *failure) (string, []string) {
	w := &why{p: p, t: p.t, r: &p.res, f: f, prov: p.t.DisplayName(), port: fmt.Sprint(p.t.Port)}
	if f != nil {
		w.detail = f.detail
		if f.reply != nil {
			w.reply = f.reply.String()
		}
	}
	if e, ok := explainers[c]; ok {
		return e(w)
	}
	return w.detail, nil
}

// why is what an explainer knows: the account, the run so far and, for a
// failure, what was seen.
type why struct {
	p      *prober
	t      Target
	r      *Result
	f      *failure // nil for ok and for warnings
	prov   string   // the provider's display name
	detail string   // the failure's one-line detail, or ""
	reply  string   // the server's reply that explains the failure, or ""
	port   string
	adv    []string // advice gathered so far
}

// explainer says one cause in words: a message and advice lines.
type explainer func(w *why) (string, []string)

// explainers holds one explainer per cause.
var explainers = map[Cause]explainer{
	CauseOK:                       explainOK,
	CauseOffline:                  explainOffline,
	CauseDNSFailure:               explainDNSFailure,
	CauseConnectionRefused:        explainConnectionRefused,
	CauseConnectionTimeout:        explainConnectionTimeout,
	CauseGreetingTimeout:          explainGreetingTimeout,
	CauseServiceUnavailable:       explainServiceUnavailable,
	CauseWrongTLSMode:             explainWrongTLSMode,
	CauseSTARTTLSUnsupported:      explainSTARTTLSUnsupported,
	CauseTLSHandshakeFailed:       explainTLSHandshakeFailed,
	CauseCertificateExpired:       explainCertificateExpired,
	CauseCertificateNotYetValid:   explainCertificateNotYetValid,
	CauseCertificateHostMismatch:  explainCertificateHostMismatch,
	CauseCertificateUntrusted:     explainCertificateUntrusted,
	CauseTLSIntercepted:           explainTLSIntercepted,
	CausePlaintextAuthRefused:     explainPlaintextAuthRefused,
	CauseAuthUnsupported:          explainAuthUnsupported,
	CauseAuthRejected:             explainAuthRejected,
	CauseAppPasswordRequired:      explainAppPasswordRequired,
	CauseBasicAuthDisabled:        explainBasicAuthDisabled,
	CauseSMTPAuthDisabled:         explainSMTPAuthDisabled,
	CauseOAuthSignInRequired:      explainOAuthSignInRequired,
	CauseOAuthTokenRejected:       explainOAuthTokenRejected,
	CauseOAuthProviderUnreachable: explainOAuthProviderUnreachable,
	CauseAuthTemporaryFailure:     explainAuthTemporaryFailure,
	CauseRateLimited:              explainRateLimited,
	CauseSenderRejected:           explainSenderRejected,
	CauseRecipientRejected:        explainRecipientRejected,
	CauseProtocolError:            explainProtocolError,
	CauseCertificateExpiring:      explainCertificateExpiring,
	CauseSlowResponse:             explainSlowResponse,
	CauseNoCredentials:            explainNoCredentials,
}

// suggest adds the other port and mode seen to work, if any, and reports
// whether there was one.
func (w *why) suggest() bool {
	s := w.r.Suggestion
	if s == nil {
		return false
	}
	w.adv = append(w.adv, fmt.Sprintf("Port %d with %s works from here: change your mail program's outgoing server to port %d, security %q.",
		s.Port, s.Security.Label(), s.Port, s.Security.Label()))
	return true
}

// add appends advice lines.
func (w *why) add(lines ...string) { w.adv = append(w.adv, lines...) }

// password is the advice to re-enter the password, naming the user and
// how to change it.
func (w *why) password() string {
	s := "Re-enter the password"
	if w.t.Username != "" {
		s += " for " + w.t.Username
	}
	if w.t.CredentialHint != "" {
		s += " (" + w.t.CredentialHint + ")"
	}
	return s
}

// secret names what the account signs in with: "password", or "access
// token" for an OAuth2 account.
func (w *why) secret() string {
	if w.t.Token != nil {
		return "access token"
	}
	return "password"
}

// site is the provider's website: a provider known by name has one to
// speak of; a bare host name does not.
func (w *why) site() string {
	if w.t.Provider != "" {
		return "the " + w.t.Provider + " website"
	}
	return "your provider's website"
}

// worked is the line that says these settings worked before, and when:
// "It worked at 13:00 with these same settings, so ...". ok is false when
// that is not known (Target.WorkedAt is zero).
func (w *why) worked() (line string, ok bool) {
	at := w.t.WorkedAt
	if at.IsZero() {
		return "", false
	}
	when := "at " + at.Format("15:04")
	if y, m, d := w.p.d.Clock.Now().In(at.Location()).Date(); y != at.Year() || m != at.Month() || d != at.Day() {
		when = "on " + at.Format("2006-01-02") + " " + when
	}
	return "It worked " + when + " with these same settings, so the server or the network changed, not your settings.", true
}

// changed is the advice for a failure that, alone, would point at the
// settings, when these settings are known to have worked: say when, give
// the lines that fit a change on the way or at the provider, and point to
// the provider. It reports false, adding nothing, when no earlier success
// is known.
func (w *why) changed(lines ...string) bool {
	line, ok := w.worked()
	if !ok {
		return false
	}
	w.add(line)
	w.add(lines...)
	w.add("Check " + w.prov + "'s status page, or ask its support whether something changed.")
	if w.t.Watching {
		w.add("smtpwatch keeps checking and tells you when sending works again.")
	}
	return true
}

// again is the advice to check again: a daemon that watches the account
// (Target.Watching) checks again by itself and may promise so; a one-shot
// check must not.
func (w *why) again(watching, oneShot string) string {
	if w.t.Watching {
		return watching
	}
	return oneShot
}

func explainOK(w *why) (string, []string) {
	r := w.r
	if r.AuthVerified && r.TLS == nil {
		return "Sending works, but the server accepted your sign-in WITHOUT encryption: your password crossed the network readable.", []string{
			"Set the security to STARTTLS (port 587) or SSL/TLS (port 465) if the server offers it.",
		}
	}
	if r.AuthVerified {
		return "Sending works: the server accepted your sign-in over an encrypted connection.", nil
	}
	if r.TLS == nil {
		return "The server answers, without encryption (sign-in not checked this time).", nil
	}
	return "The server answers and its encryption is in order (sign-in not checked this time).", nil
}

func explainOffline(w *why) (string, []string) {
	return "This computer is offline: neither " + w.t.Server + " nor any reference site can be reached.", []string{
		"Check Wi-Fi or the network cable; restart the modem/router.",
		w.again("smtpwatch checks again as soon as the network is back.", "Run the check again once the network is back."),
	}
}

func explainDNSFailure(w *why) (string, []string) {
	t, f := w.t, w.f
	if f != nil && f.timeout {
		msg := "The name " + w.p.hostLabel() + " could not be looked up: the name server did not answer."
		if w.changed("Your network's DNS is not working: restart the router, or try another network.") {
			return msg, w.adv
		}
		return msg, []string{
			"Your network's DNS is not working: restart the router, or try another network.",
			"If other websites work, " + w.prov + "'s DNS may be down; wait a few minutes.",
		}
	}
	msg := "The server name " + w.p.hostLabel() + " could not be found: the name server says it does not exist."
	switch {
	case w.p.hostErr != nil:
		msg = "The server name " + w.detail + ", so it cannot be looked up."
	case f == nil || !strings.Contains(f.detail, "does not exist"):
		msg = "The server name " + t.Server + " could not be looked up (" + w.detail + ")."
	}
	if w.changed("The name no longer resolves: " + w.prov + "'s DNS may be down, or the name was retired.") {
		return msg, w.adv
	}
	return msg, []string{
		"Check the spelling of the outgoing (SMTP) server name in your mail program: " + t.Server + ".",
		"If the name is right, the provider's DNS may be down; try again in a few minutes.",
	}
}

func explainConnectionRefused(w *why) (string, []string) {
	msg := "The server " + w.t.Server + " refused the connection on port " + w.port + ": nothing accepts mail there."
	if _, ok := w.worked(); ok {
		w.changed("The server may be down or restarting.")
		w.suggest()
		return msg, w.adv
	}
	if !w.suggest() {
		w.add("Check the port in your mail program: mail programs use 587 (STARTTLS) or 465 (SSL/TLS).")
	}
	w.add("If the settings are right, the server may be down: check " + w.prov + "'s status page or support.")
	return msg, w.adv
}

func explainConnectionTimeout(w *why) (string, []string) {
	msg := "Nothing answered on port " + w.port + ": something between this computer and the server drops the connection — a firewall, an antivirus \"mail shield\", or the network you are on (hotel and office networks often block mail ports)."
	if w.f != nil && w.f.unreachable {
		msg = "There is no network route to " + w.t.Server + " from here (" + w.detail + "), although this computer is online."
	}
	if w.changed("If you are on another network than then (a hotel, an office, a VPN), or a firewall or antivirus was updated, that may block mail ports now: try another network (a phone hotspot).") {
		w.suggest()
		return msg, w.adv
	}
	w.suggest()
	w.add("Allow your mail program through the firewall or antivirus, or try another network (a phone hotspot) to see if this one blocks mail.")
	return msg, w.adv
}

func explainGreetingTimeout(w *why) (string, []string) {
	msg := "The server accepted the connection but did not answer (" + w.detail + "). It may be overloaded, or security software is holding the connection."
	if w.changed("If your antivirus scans email, turn that option off and check again.") {
		w.suggest()
		return msg, w.adv
	}
	w.suggest()
	w.add("If your antivirus scans email, turn that option off and check again.",
		"If it lasts, "+w.prov+" may have an outage: check its status page.")
	return msg, w.adv
}

func explainServiceUnavailable(w *why) (string, []string) {
	f := w.f
	if f != nil && f.reply != nil && f.reply.Code == 421 {
		return "The server is temporarily not taking connections (" + w.reply + ").", []string{
			w.again("Nothing to change: wait a few minutes; smtpwatch keeps checking.", "Nothing to change: wait a few minutes and run the check again."),
			"If it lasts, " + w.prov + " may have an outage.",
		}
	}
	if f != nil && f.reply != nil {
		return "The server refused to talk to this computer (" + w.reply + "). This often means your network's address is on a block list.", []string{
			"If you are on a VPN or a public network, try without the VPN or from another network.",
			"Otherwise contact " + w.prov + " support and quote: " + w.reply,
		}
	}
	return "The server closed the connection before it said anything (" + w.detail + ").", []string{
		"Security software or a firewall can do this: try with email scanning disabled.",
		"If it lasts, contact " + w.prov + " support.",
	}
}

func explainWrongTLSMode(w *why) (string, []string) {
	if s := w.r.Suggestion; s != nil && s.Security == SecurityTLS {
		msg := "Port " + w.port + " expects SSL/TLS from the first byte, but the settings say " + w.t.Security.Label() + "."
		if w.changed("The server on port " + w.port + " now speaks SSL/TLS from the first byte: " + w.prov + " changed its setup, or something on the network intercepts the connection. Change the security to \"SSL/TLS\" only once " + w.prov + " confirms it.") {
			return msg, w.adv
		}
		return msg, []string{
			fmt.Sprintf("Set the outgoing server's security to \"SSL/TLS\" for port %s, or use port 587 with STARTTLS.", w.port),
		}
	}
	msg := "Port " + w.port + " starts unencrypted and upgrades with STARTTLS, but the settings say SSL/TLS."
	if w.changed("The server on port " + w.port + " now starts unencrypted: " + w.prov + " changed its setup, or something on the network intercepts the connection. Change the security to \"STARTTLS\" only once " + w.prov + " confirms it.") {
		return msg, w.adv
	}
	return msg, []string{
		fmt.Sprintf("Set the outgoing server's security to \"STARTTLS\" for port %s, or use port 465 with SSL/TLS.", w.port),
	}
}

func explainSTARTTLSUnsupported(w *why) (string, []string) {
	msg := "The server does not offer encryption (STARTTLS) on port " + w.port + ", so your password could not be sent safely."
	if w.changed("Something on your network may be stripping the offer of encryption: try another network, and do not turn encryption off.") {
		w.suggest()
		return msg, w.adv
	}
	if !w.suggest() {
		w.add("Use port 465 with SSL/TLS, or 587 with STARTTLS, as " + w.prov + " documents.")
	}
	w.add("If this server used to offer STARTTLS, something on your network may be stripping it: try another network.")
	return msg, w.adv
}

func explainTLSHandshakeFailed(w *why) (string, []string) {
	msg := "The encrypted connection could not be set up: " + w.detail + "."
	if w.changed("If your antivirus scans encrypted email, turn that option off and check again.") {
		w.suggest()
		return msg, w.adv
	}
	w.suggest()
	w.add("If your antivirus scans encrypted email, turn that option off and check again.",
		"If it lasts, the server may only speak outdated TLS versions: contact "+w.prov+".")
	return msg, w.adv
}

func explainCertificateExpired(w *why) (string, []string) {
	return "The server's certificate has expired (" + w.detail + "): mail programs rightly refuse such a connection.", []string{
		"Check this computer's date and time first.",
		"If they are right, the problem is on " + w.prov + "'s side: wait for the renewal, and do not click through certificate warnings meanwhile.",
	}
}

func explainCertificateNotYetValid(w *why) (string, []string) {
	return "The server's certificate is not valid yet (" + w.detail + "). Usually this computer's clock is wrong.", []string{
		"Set the date, time and time zone correctly (turn on automatic time).",
	}
}

func explainCertificateHostMismatch(w *why) (string, []string) {
	if w.changed("The server now shows a certificate for another name: a mistake at " + w.prov + ", or someone is intercepting the connection. Do not accept the certificate warning in your mail program.") {
		return "The server's certificate does not match the server name (" + w.detail + ").", w.adv
	}
	return "The server's certificate does not match the server name (" + w.detail + "). The name in your settings may be an alias, or someone is intercepting the connection.", []string{
		"Use the exact outgoing server name " + w.prov + " documents.",
		"Do not accept the certificate warning in your mail program.",
	}
}

func explainCertificateUntrusted(w *why) (string, []string) {
	msg := "The server's certificate is not trusted (" + w.detail + ")."
	if w.changed("The certificate now comes from an authority this computer does not trust: a change at " + w.prov + ", or someone is intercepting the connection. Do not accept the certificate warning in your mail program.") {
		return msg, w.adv
	}
	return msg, []string{
		"If this is a company server with its own certificate authority, set ca_file to that authority's certificate.",
		"Otherwise this can be a sign of interception: do not accept the certificate in your mail program.",
	}
}

func explainTLSIntercepted(w *why) (string, []string) {
	who := "Security software"
	if w.r.TLS != nil && w.r.TLS.Interceptor != "" {
		who = w.r.TLS.Interceptor
	}
	adv := []string{
		"Turn off the scanning of encrypted email in your antivirus or firewall (often called \"Mail Shield\", \"SSL filter\" or \"scan encrypted connections\"), or add an exception for " + w.t.Server + ".",
	}
	if w.r.Status == StatusFailing {
		return "Your security software is intercepting the encrypted connection: the certificate comes from " + who + ", not from " + w.prov + ", and this computer does not trust it.", adv
	}
	return "Sending works, but your security software intercepts the connection: the certificate comes from " + who + ", not from " + w.prov + ".", adv
}

func explainPlaintextAuthRefused(w *why) (string, []string) {
	msg := "smtpwatch did not send your " + w.secret() + ": the connection on port " + w.port + " is not encrypted, and anyone on the network path could read it."
	if w.changed("The server no longer offers encryption here: something on your network may be stripping it. Try another network; do not send the password unencrypted.") {
		return msg, w.adv
	}
	if !w.suggest() {
		w.add("Set the security to STARTTLS (port 587) or SSL/TLS (port 465).")
	}
	w.add("Only if you accept that risk on a trusted network: allow_plaintext_auth = true.")
	return msg, w.adv
}

func explainAuthUnsupported(w *why) (string, []string) {
	if w.t.Token != nil {
		msg := "The server does not offer OAuth sign-in (XOAUTH2 or OAUTHBEARER) on port " + w.port + " (" + w.detail + ")."
		if w.changed("The server stopped offering OAuth sign-in on this port: " + w.prov + " may have changed its setup.") {
			w.suggest()
			return msg, w.adv
		}
		if !w.suggest() {
			w.add("Check the server name and port: use the submission port 587 (STARTTLS) or 465 (SSL/TLS) that " + w.prov + " documents for OAuth.")
		}
		w.add("If " + w.prov + " takes only passwords here, set auth = \"password\" for this account.")
		return msg, w.adv
	}
	msg := "The server does not offer password sign-in on port " + w.port + " (" + w.detail + ")."
	if w.changed("The server stopped offering password sign-in on this port: " + w.prov + " may have changed its setup, or something on the network strips the offer.") {
		w.suggest()
		return msg, w.adv
	}
	if !w.suggest() {
		w.add("Use the submission port 587 (STARTTLS) or 465 (SSL/TLS); port 25 is for servers, not mail programs.")
	}
	return msg, w.adv
}

func explainAuthRejected(w *why) (string, []string) {
	if u := w.t.AppPasswordURL; u != "" {
		// Such providers refuse the normal password of an account with
		// 2-step verification with the same words as a wrong one.
		w.add(w.prov + " needs an app password for mail programs; your normal password works only on its website. Create one at " + u + " and use it here.")
	}
	w.add(w.password()+".",
		"If you changed it on "+w.site()+" recently, use the new one.",
		"Still rejected? Sign in at the provider's webmail: the account may be locked.")
	return "Your password was rejected by the server (" + w.reply + ").", w.adv
}

func explainAppPasswordRequired(w *why) (string, []string) {
	where := "in your account's security settings"
	if w.t.AppPasswordURL != "" {
		where = "at " + w.t.AppPasswordURL
	}
	return w.prov + " wants an app password for mail programs, not your normal password (" + w.reply + ").", []string{
		"Create an app password " + where + " and use it instead of your normal password.",
		w.password() + " with the app password.",
	}
}

func explainBasicAuthDisabled(w *why) (string, []string) {
	name := w.t.Name
	if name == "" {
		name = "NAME"
	}
	return w.prov + " no longer accepts a password for sending; it requires sign-in with OAuth (\"modern authentication\") (" + w.detail + ").", []string{
		"Switch this account to OAuth: in its [[account]] set auth = \"oauth2\" (and oauth_provider = \"microsoft\" or \"google\" unless its preset says), then sign in once in the browser: smtpwatch login " + name + ".",
		"Mail programs do the same: they sign in with your " + w.prov + " account in a browser window.",
	}
}

func explainSMTPAuthDisabled(w *why) (string, []string) {
	who := "this mailbox"
	if w.t.Username != "" {
		who = w.t.Username
	}
	msg := w.prov + " refused the sign-in because an administrator turned SMTP sign-in (\"Authenticated SMTP\") off for this mailbox or the whole organisation (" + w.reply + "). Signing in with OAuth does not change that."
	w.add("Ask your organisation's Microsoft 365 administrator to turn on Authenticated SMTP for "+who+
		" (Microsoft 365 admin center → Users → Active users → the user → Mail → Manage email apps).",
		"If it is off for the whole organisation, the administrator must allow it there too (Exchange Online PowerShell: Set-TransportConfig -SmtpClientAuthenticationDisabled $false).")
	w.add(w.again("Once it is on, use \"Check now\" (or smtpwatch status --refresh); smtpwatch does not sign in again before the credential changes or you ask.",
		"Once it is on, run the check again."))
	return msg, w.adv
}

// signIn is the advice to sign in (again, when a sign-in was made before),
// the way the account signs in: "smtpwatch login NAME", or through the
// account's token helper.
func (w *why) signIn(again bool) string {
	verb := "Sign in"
	if again {
		verb = "Sign in again"
	}
	h := w.t.CredentialHint
	switch {
	case strings.HasPrefix(h, "smtpwatch login"):
		return verb + " in the browser: " + h + " (add --device on a computer without a browser)."
	case h != "":
		return verb + " with your token helper (" + h + "), then check again."
	}
	name := w.t.Name
	if name == "" {
		name = "NAME"
	}
	return verb + " in the browser: smtpwatch login " + name + "."
}

func explainOAuthSignInRequired(w *why) (string, []string) {
	who := ""
	if w.t.Username != "" {
		who = " as " + w.t.Username
	}
	msg := "smtpwatch is not signed in to " + w.prov + who + ": " + w.detail + "."
	w.add(w.signIn(w.f == nil || !errors.Is(w.f.err, credential.ErrNotSignedIn)))
	if w.t.Watching {
		w.add("smtpwatch does not try again until you sign in; it notices the new sign-in by itself.")
	}
	return msg, w.adv
}

func explainOAuthTokenRejected(w *why) (string, []string) {
	who := "this account"
	if w.t.Username != "" {
		who = w.t.Username
	}
	msg := "The server refused the access token for " + who + " (" + w.detail + ")."
	w.add("Sign in again as " + who + " itself: a sign-in with another account gives a token the server refuses for this address. " + w.signIn(true))
	switch w.t.OAuthProvider {
	case ProviderMicrosoft:
		w.add("For Microsoft 365, the mailbox needs Authenticated SMTP turned on, and the app registration the SMTP.Send permission (https://outlook.office.com/SMTP.Send).")
	case ProviderGoogle:
		w.add("Google needs the scope https://mail.google.com/ for sending: leave oauth_scopes out to get it.")
	default:
		w.add("The sign-in must ask for the scope the mail server wants for sending (oauth_scopes).")
	}
	if w.t.Watching {
		w.add("smtpwatch does not send it again until you sign in again.")
	}
	return msg, w.adv
}

func explainOAuthProviderUnreachable(w *why) (string, []string) {
	msg := "No fresh access token could be had: " + w.prov + "'s sign-in service did not answer (" + w.detail + "). The mail server itself answers, and this computer is online."
	w.add(w.again("Nothing to change: smtpwatch asks the sign-in service again at the next check.", "Nothing to change: run the check again in a few minutes."),
		"If it lasts, a firewall, proxy or antivirus may block the sign-in service: your mail program needs it too.")
	return msg, w.adv
}

func explainAuthTemporaryFailure(w *why) (string, []string) {
	return "The server could not check your " + w.secret() + " right now (" + w.detail + "). This is usually temporary, on the provider's side.", []string{
		w.again("Nothing to change: smtpwatch checks again.", "Nothing to change: run the check again in a few minutes."),
		"If it lasts more than an hour, contact " + w.prov + ".",
	}
}

func explainRateLimited(w *why) (string, []string) {
	return "The server is limiting this account or network (" + w.detail + ").", []string{
		"Wait before sending more; such limits usually lift within an hour.",
		"Repeated failed sign-ins cause this too: check the password in all your devices' mail programs.",
	}
}

func explainSenderRejected(w *why) (string, []string) {
	return "The server would not accept mail from " + w.t.From + " (" + w.reply + ").", []string{
		"Send from the address that belongs to this account" + orEmpty(" ("+w.t.Username+")", w.t.Username != "") + ".",
	}
}

func explainRecipientRejected(w *why) (string, []string) {
	return "The server would not accept mail to " + w.t.Rcpt + " (" + w.reply + ").", []string{
		"Check the recipient address.",
		"\"Relay access denied\" means the server does not know you: make sure sign-in is on in your mail program.",
	}
}

func explainProtocolError(w *why) (string, []string) {
	msg := "The server answered in a way smtpwatch does not understand: " + w.detail + "."
	if w.changed("Security software that inspects email can cause this: try with it disabled.") {
		return msg, w.adv
	}
	return msg, []string{
		"Check that the server name and port point at a mail server.",
		"Security software that inspects email can cause this: try with it disabled.",
	}
}

func explainCertificateExpiring(w *why) (string, []string) {
	days, date := 0, ""
	if tls := w.r.TLS; tls != nil {
		days, date = tls.DaysLeft, tls.NotAfter.Format(time.DateOnly)
	}
	return fmt.Sprintf("Sending works, but the server's certificate expires in %s (%s).", plural(days, "day", "days"), date), []string{
		"Nothing to do unless it stops: " + w.prov + " must renew it.",
	}
}

func explainSlowResponse(w *why) (string, []string) {
	return fmt.Sprintf("Sending works, but the server is slow: the check took %s (more than %s).",
			human.Duration(w.p.core), human.Duration(w.t.slowThreshold())), []string{
			"Your mail program may time out; if it lasts, the network or the provider is congested.",
		}
}

func explainNoCredentials(w *why) (string, []string) {
	if w.t.Username != "" {
		return "The server is reachable and its encryption is in order, but sign-in was not checked: no password is configured for " + w.t.Username + ".", []string{
			"Add a password source (password_keyring, password_env or password_command) to check sign-in too.",
		}
	}
	return "The server is reachable and its encryption is in order, but sign-in was not checked: no username is configured.", []string{
		"Add username and a password source (password_keyring, password_env or password_command) to check sign-in too.",
	}
}

func orEmpty(s string, cond bool) string {
	if cond {
		return s
	}
	return ""
}
