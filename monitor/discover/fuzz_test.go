package discover

import "testing"

// FuzzParseClientConfig: any document ends, without a panic, in
// candidates that name a valid server with encryption, or an error.
func FuzzParseClientConfig(f *testing.F) {
	f.Add([]byte(exampleDoc))
	f.Add([]byte(docFor("smtp.%EMAILDOMAIN%", 465, "SSL", "OAuth2")))
	f.Add([]byte("<clientConfig><emailProvider><outgoingServer type='smtp'><hostname>[::1]</hostname><port>0x1</port>"))
	q := &query{local: "jo", domain: "example.test", email: "jo@example.test"}
	f.Fuzz(func(t *testing.T, doc []byte) {
		cs, _, err := parseClientConfig(doc, q, SourceAutoconfig, "u", 90)
		if err != nil {
			return
		}
		for _, c := range cs {
			if c.Server == "" || c.Port < 1 || c.Port > 65535 || (c.Security != "tls" && c.Security != "starttls") {
				t.Fatalf("bad candidate %+v", c)
			}
		}
	})
}
