package probe

import (
	"fmt"
	"strings"
	"time"
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
	if !p.t.SkipAuth && p.t.Username == "" {
		w = append(w, CauseNoCredentials)
	}
	return w
}

// explain gives the plain-words message and the concrete advice for a cause,
// in the account's own terms.
func (p *prober) explain(c Cause, f *failure) (string, []string) {
	t, r := p.t, &p.res
	prov := t.DisplayName()
	detail, reply := "", ""
	if f != nil {
		detail = f.detail
		if f.reply != nil {
			reply = f.reply.String()
		}
	}
	var adv []string
	suggest := func() bool {
		if r.Suggestion == nil {
			return false
		}
		adv = append(adv, fmt.Sprintf("Port %d with %s works from here: change your mail program's outgoing server to port %d, security %q.",
			r.Suggestion.Port, r.Suggestion.Security.Label(), r.Suggestion.Port, r.Suggestion.Security.Label()))
		return true
	}
	password := "Re-enter the password"
	if t.Username != "" {
		password += " for " + t.Username
	}
	if t.CredentialHint != "" {
		password += " (" + t.CredentialHint + ")"
	}
	port := fmt.Sprint(t.Port)
	// A provider known by name has a website to speak of; a bare host
	// name does not.
	site := "your provider's website"
	if t.Provider != "" {
		site = "the " + t.Provider + " website"
	}

	switch c {
	case CauseOK:
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

	case CauseOffline:
		return "This computer is offline: neither " + t.Server + " nor any reference site can be reached.", []string{
			"Check Wi-Fi or the network cable; restart the modem/router.",
			"smtpwatch checks again as soon as the network is back.",
		}

	case CauseDNSFailure:
		if f != nil && f.timeout {
			return "The name " + t.Server + " could not be looked up: the name server did not answer.", []string{
				"Your network's DNS is not working: restart the router, or try another network.",
				"If other websites work, " + prov + "'s DNS may be down; wait a few minutes.",
			}
		}
		msg := "The server name " + t.Server + " could not be found: the name server says it does not exist."
		if f == nil || !strings.Contains(f.detail, "does not exist") {
			msg = "The server name " + t.Server + " could not be looked up (" + detail + ")."
		}
		return msg, []string{
			"Check the spelling of the outgoing (SMTP) server name in your mail program: " + t.Server + ".",
			"If the name is right, the provider's DNS may be down; try again in a few minutes.",
		}

	case CauseConnectionRefused:
		msg := "The server " + t.Server + " refused the connection on port " + port + ": nothing accepts mail there."
		if !suggest() {
			adv = append(adv, "Check the port in your mail program: mail programs use 587 (STARTTLS) or 465 (SSL/TLS).")
		}
		adv = append(adv, "If the settings are right, the server may be down: check "+prov+"'s status page or support.")
		return msg, adv

	case CauseConnectionTimeout:
		msg := "Nothing answered on port " + port + ": something between this computer and the server drops the connection — a firewall, an antivirus \"mail shield\", or the network you are on (hotel and office networks often block mail ports)."
		if f != nil && f.unreachable {
			msg = "There is no network route to " + t.Server + " from here (" + detail + "), although this computer is online."
		}
		suggest()
		adv = append(adv,
			"Allow your mail program through the firewall or antivirus, or try another network (a phone hotspot) to see if this one blocks mail.")
		return msg, adv

	case CauseGreetingTimeout:
		msg := "The server accepted the connection but did not answer (" + detail + "). It may be overloaded, or security software is holding the connection."
		suggest()
		adv = append(adv, "If your antivirus scans email, turn that option off and check again.",
			"If it lasts, "+prov+" may have an outage: check its status page.")
		return msg, adv

	case CauseServiceUnavailable:
		if f != nil && f.reply != nil && f.reply.Code == 421 {
			return "The server is temporarily not taking connections (" + reply + ").", []string{
				"Nothing to change: wait a few minutes; smtpwatch keeps checking.",
				"If it lasts, " + prov + " may have an outage.",
			}
		}
		if f != nil && f.reply != nil {
			return "The server refused to talk to this computer (" + reply + "). This often means your network's address is on a block list.", []string{
				"If you are on a VPN or a public network, try without the VPN or from another network.",
				"Otherwise contact " + prov + " support and quote: " + reply,
			}
		}
		return "The server closed the connection before it said anything (" + detail + ").", []string{
			"Security software or a firewall can do this: try with email scanning disabled.",
			"If it lasts, contact " + prov + " support.",
		}

	case CauseWrongTLSMode:
		if r.Suggestion != nil && r.Suggestion.Security == SecurityTLS {
			return "Port " + port + " expects SSL/TLS from the first byte, but the settings say " + t.Security.Label() + ".", []string{
				fmt.Sprintf("Set the outgoing server's security to \"SSL/TLS\" for port %s, or use port 587 with STARTTLS.", port),
			}
		}
		return "Port " + port + " starts unencrypted and upgrades with STARTTLS, but the settings say SSL/TLS.", []string{
			fmt.Sprintf("Set the outgoing server's security to \"STARTTLS\" for port %s, or use port 465 with SSL/TLS.", port),
		}

	case CauseSTARTTLSUnsupported:
		msg := "The server does not offer encryption (STARTTLS) on port " + port + ", so your password could not be sent safely."
		if !suggest() {
			adv = append(adv, "Use port 465 with SSL/TLS, or 587 with STARTTLS, as "+prov+" documents.")
		}
		adv = append(adv, "If this server used to offer STARTTLS, something on your network may be stripping it: try another network.")
		return msg, adv

	case CauseTLSHandshakeFailed:
		msg := "The encrypted connection could not be set up: " + detail + "."
		suggest()
		adv = append(adv, "If your antivirus scans encrypted email, turn that option off and check again.",
			"If it lasts, the server may only speak outdated TLS versions: contact "+prov+".")
		return msg, adv

	case CauseCertificateExpired:
		return "The server's certificate has expired (" + detail + "): mail programs rightly refuse such a connection.", []string{
			"Check this computer's date and time first.",
			"If they are right, the problem is on " + prov + "'s side: wait for the renewal, and do not click through certificate warnings meanwhile.",
		}

	case CauseCertificateNotYetValid:
		return "The server's certificate is not valid yet (" + detail + "). Usually this computer's clock is wrong.", []string{
			"Set the date, time and time zone correctly (turn on automatic time).",
		}

	case CauseCertificateHostMismatch:
		return "The server's certificate does not match the server name (" + detail + "). The name in your settings may be an alias, or someone is intercepting the connection.", []string{
			"Use the exact outgoing server name " + prov + " documents.",
			"Do not accept the certificate warning in your mail program.",
		}

	case CauseCertificateUntrusted:
		return "The server's certificate is not trusted (" + detail + ").", []string{
			"If this is a company server with its own certificate authority, set ca_file to that authority's certificate.",
			"Otherwise this can be a sign of interception: do not accept the certificate in your mail program.",
		}

	case CauseTLSIntercepted:
		who := "Security software"
		if r.TLS != nil && r.TLS.Interceptor != "" {
			who = r.TLS.Interceptor
		}
		adv = []string{
			"Turn off the scanning of encrypted email in your antivirus or firewall (often called \"Mail Shield\", \"SSL filter\" or \"scan encrypted connections\"), or add an exception for " + t.Server + ".",
		}
		if r.Status == StatusFailing {
			return "Your security software is intercepting the encrypted connection: the certificate comes from " + who + ", not from " + prov + ", and this computer does not trust it.", adv
		}
		return "Sending works, but your security software intercepts the connection: the certificate comes from " + who + ", not from " + prov + ".", adv

	case CausePlaintextAuthRefused:
		msg := "smtpwatch did not send your password: the connection on port " + port + " is not encrypted, and anyone on the network path could read it."
		if !suggest() {
			adv = append(adv, "Set the security to STARTTLS (port 587) or SSL/TLS (port 465).")
		}
		adv = append(adv, "Only if you accept that risk on a trusted network: allow_plaintext_auth = true.")
		return msg, adv

	case CauseAuthUnsupported:
		msg := "The server does not offer password sign-in on port " + port + " (" + detail + ")."
		if !suggest() {
			adv = append(adv, "Use the submission port 587 (STARTTLS) or 465 (SSL/TLS); port 25 is for servers, not mail programs.")
		}
		return msg, adv

	case CauseAuthRejected:
		return "Your password was rejected by the server (" + reply + ").", []string{
			password + ".",
			"If you changed it on " + site + " recently, use the new one.",
			"Still rejected? Sign in at the provider's webmail: the account may be locked.",
		}

	case CauseAppPasswordRequired:
		where := "in your account's security settings"
		if t.AppPasswordURL != "" {
			where = "at " + t.AppPasswordURL
		}
		return prov + " wants an app password for mail programs, not your normal password (" + reply + ").", []string{
			"Create an app password " + where + " and use it instead of your normal password.",
			password + " with the app password.",
		}

	case CauseBasicAuthDisabled:
		return prov + " no longer accepts a password for sending; it requires sign-in with OAuth (\"modern authentication\") (" + detail + ").", []string{
			"Use a mail program that signs in with your " + prov + " account in a browser window (OAuth).",
			"For a work account, ask your administrator to enable SMTP AUTH for this mailbox.",
		}

	case CauseAuthTemporaryFailure:
		return "The server could not check your password right now (" + detail + "). This is usually temporary, on the provider's side.", []string{
			"Nothing to change: smtpwatch checks again.",
			"If it lasts more than an hour, contact " + prov + ".",
		}

	case CauseRateLimited:
		return "The server is limiting this account or network (" + detail + ").", []string{
			"Wait before sending more; such limits usually lift within an hour.",
			"Repeated failed sign-ins cause this too: check the password in all your devices' mail programs.",
		}

	case CauseSenderRejected:
		return "The server would not accept mail from " + t.From + " (" + reply + ").", []string{
			"Send from the address that belongs to this account" + orEmpty(" ("+t.Username+")", t.Username != "") + ".",
		}

	case CauseRecipientRejected:
		return "The server would not accept mail to " + t.Rcpt + " (" + reply + ").", []string{
			"Check the recipient address.",
			"\"Relay access denied\" means the server does not know you: make sure sign-in is on in your mail program.",
		}

	case CauseProtocolError:
		return "The server answered in a way smtpwatch does not understand: " + detail + ".", []string{
			"Check that the server name and port point at a mail server.",
			"Security software that inspects email can cause this: try with it disabled.",
		}

	case CauseCertificateExpiring:
		days, date := 0, ""
		if r.TLS != nil {
			days, date = r.TLS.DaysLeft, r.TLS.NotAfter.Format(time.DateOnly)
		}
		return fmt.Sprintf("Sending works, but the server's certificate expires in %s (%s).", plural(days, "day", "days"), date), []string{
			"Nothing to do unless it stops: " + prov + " must renew it.",
		}

	case CauseSlowResponse:
		return fmt.Sprintf("Sending works, but the server is slow: the check took %s (more than %s).",
				p.core.Round(time.Millisecond), t.slowThreshold()), []string{
				"Your mail program may time out; if it lasts, the network or the provider is congested.",
			}

	case CauseNoCredentials:
		return "The server is reachable and its encryption is in order, but sign-in was not checked: no username is configured.", []string{
			"Add username and a password source (password_keyring, password_env or password_command) to check sign-in too.",
		}
	}
	return detail, nil
}

func orEmpty(s string, cond bool) string {
	if cond {
		return s
	}
	return ""
}
