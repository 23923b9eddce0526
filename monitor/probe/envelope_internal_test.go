package probe

import "testing"

// Envelope refusals are classified by what they say, with replies as real
// servers word them.
func TestEnvelopeCause(t *testing.T) {
	for _, c := range []struct {
		server string
		reply  Reply
		asked  Cause // the command that got the reply
		want   Cause
	}{
		// Postfix, smtpd_delay_reject = yes: a sender refused at RCPT TO.
		{"Postfix sender login mismatch", Reply{553, "5.7.1", "<bob@example.test>: Sender address rejected: not owned by user alice@example.test"},
			CauseRecipientRejected, CauseSenderRejected},
		{"Postfix sender domain unknown", Reply{450, "4.1.8", "<bob@nowhere.example>: Sender address rejected: Domain not found"},
			CauseRecipientRejected, CauseSenderRejected},
		{"Postfix sender needs FQDN", Reply{504, "5.5.2", "<bob>: Sender address rejected: need fully-qualified address"},
			CauseRecipientRejected, CauseSenderRejected},
		{"Postfix unknown local user", Reply{550, "5.1.1", "<nobody@example.test>: Recipient address rejected: User unknown in local recipient table"},
			CauseRecipientRejected, CauseRecipientRejected},
		{"Postfix relay denied", Reply{554, "5.7.1", "<bob@elsewhere.example>: Relay access denied"},
			CauseRecipientRejected, CauseRecipientRejected},
		{"Postfix recipient domain unknown", Reply{450, "4.1.2", "<bob@nowhere.example>: Recipient address rejected: Domain not found"},
			CauseRecipientRejected, CauseRecipientRejected},
		// Exchange / Office 365.
		{"Exchange send-as denied", Reply{550, "5.7.60", "SMTP; Client does not have permissions to send as this sender"},
			CauseSenderRejected, CauseSenderRejected},
		{"Exchange send-as denied at RCPT", Reply{550, "5.7.60", "SMTP; Client does not have permissions to send as this sender"},
			CauseRecipientRejected, CauseSenderRejected},
		{"Exchange recipient not found", Reply{550, "5.1.10", "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"},
			CauseRecipientRejected, CauseRecipientRejected},
		{"Exchange Online recipient access denied", Reply{550, "5.4.1", "Recipient address rejected: Access denied."},
			CauseRecipientRejected, CauseRecipientRejected},
		// Gmail.
		{"Gmail no such account", Reply{550, "5.1.1", "The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces."},
			CauseRecipientRejected, CauseRecipientRejected},
		{"Gmail bad sender syntax at MAIL", Reply{553, "5.1.7", "The sender address <bob@> is not a valid RFC 5321 address."},
			CauseSenderRejected, CauseSenderRejected},
		{"Gmail bad sender syntax, code only", Reply{553, "5.1.7", "Invalid address"},
			CauseRecipientRejected, CauseSenderRejected},
		// Nothing telling: the command decides.
		{"bare refusal at MAIL", Reply{550, "", "Not allowed"}, CauseSenderRejected, CauseSenderRejected},
		{"bare refusal at RCPT", Reply{550, "5.7.1", "Message rejected"}, CauseRecipientRejected, CauseRecipientRejected},
	} {
		if got := envelopeCause(&c.reply, c.asked); got != c.want {
			t.Errorf("%s: %s after %s is %s, want %s", c.server, c.reply, c.asked, got, c.want)
		}
	}
}
