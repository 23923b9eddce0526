package discover

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/probe"
)

// The autoconfig document (Thunderbird's clientConfig, version 1.1), as
// far as the outgoing server goes:
//
//	<clientConfig version="1.1">
//	  <emailProvider id="example.com">
//	    <domain>example.com</domain>
//	    <displayName>Example Mail</displayName>
//	    <outgoingServer type="smtp">
//	      <hostname>smtp.example.com</hostname>
//	      <port>465</port>
//	      <socketType>SSL</socketType>          SSL | STARTTLS | plain
//	      <username>%EMAILADDRESS%</username>
//	      <authentication>OAuth2</authentication>
//	      <authentication>password-cleartext</authentication>
//	    </outgoingServer>
//	  </emailProvider>
//	</clientConfig>
//
// %EMAILADDRESS%, %EMAILLOCALPART% and %EMAILDOMAIN% stand for the parts
// of the address in the host name and the user name.
type clientConfig struct {
	XMLName   xml.Name        `xml:"clientConfig"`
	Providers []emailProvider `xml:"emailProvider"`
}

type emailProvider struct {
	ID          string           `xml:"id,attr"`
	DisplayName string           `xml:"displayName"`
	Outgoing    []outgoingServer `xml:"outgoingServer"`
}

type outgoingServer struct {
	Type       string   `xml:"type,attr"`
	Hostname   string   `xml:"hostname"`
	Port       string   `xml:"port"`
	SocketType string   `xml:"socketType"`
	Username   string   `xml:"username"`
	Auth       []string `xml:"authentication"`
}

// parseClientConfig reads an autoconfig document into candidates, in the
// document's order, ranked from rank down. notes say what it left out on
// purpose (a server without encryption); the error says why the document
// is not one.
func parseClientConfig(data []byte, q *query, src Source, via string, rank int) ([]Candidate, []string, error) {
	var doc clientConfig
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		var se *xml.SyntaxError
		var ue xml.UnmarshalError
		switch {
		case errors.As(err, &se):
			return nil, nil, fmt.Errorf("not a valid XML document: line %d: %s", se.Line, se.Msg)
		case errors.As(err, &ue) && strings.Contains(string(ue), "expected element type <clientConfig>"):
			return nil, nil, fmt.Errorf("not an autoconfig document (%s)", rootWords(string(ue)))
		case errors.Is(err, io.EOF):
			return nil, nil, errors.New("an empty document")
		}
		return nil, nil, fmt.Errorf("not a valid autoconfig document: %v", err)
	}
	fill := strings.NewReplacer("%EMAILADDRESS%", q.email, "%EMAILLOCALPART%", q.local, "%EMAILDOMAIN%", q.domain)
	var (
		out   []Candidate
		notes []string
		bad   []string
	)
	for _, p := range doc.Providers {
		for _, s := range p.Outgoing {
			if !strings.EqualFold(strings.TrimSpace(s.Type), "smtp") {
				continue
			}
			host := strings.TrimSpace(fill.Replace(s.Hostname))
			if h, port, err := config.ParseServer(host); err != nil || port != 0 {
				bad = append(bad, fmt.Sprintf("an invalid host name %q", s.Hostname))
				continue
			} else {
				host = strings.ToLower(h)
			}
			port, err := strconv.Atoi(strings.TrimSpace(s.Port))
			if err != nil || port < 1 || port > 65535 {
				bad = append(bad, fmt.Sprintf("an invalid port %q for %s", s.Port, host))
				continue
			}
			var sec probe.Security
			switch strings.ToUpper(strings.TrimSpace(s.SocketType)) {
			case "SSL", "TLS":
				sec = probe.SecurityTLS
			case "STARTTLS":
				sec = probe.SecurityStartTLS
			case "PLAIN", "":
				notes = append(notes, fmt.Sprintf("left out %s:%d: it has no encryption", host, port))
				continue
			default:
				bad = append(bad, fmt.Sprintf("an unknown socketType %q for %s", s.SocketType, host))
				continue
			}
			var auth []Auth
			for _, a := range s.Auth {
				m := authOf(a)
				if !containsAuth(auth, m) {
					auth = append(auth, m)
				}
			}
			user := strings.TrimSpace(fill.Replace(s.Username))
			if user == q.email {
				user = ""
			}
			out = append(out, Candidate{Server: host, Port: port, Security: sec, Username: user, Auth: auth,
				Provider: strings.TrimSpace(p.DisplayName), Source: src, Via: via, Rank: rank - min(len(out), 4)})
		}
	}
	if len(bad) > 0 {
		msg := "the document names " + strings.Join(bad, ", ")
		if len(out) == 0 {
			return nil, notes, errors.New(msg)
		}
		notes = append(notes, msg)
	}
	return out, notes, nil
}

// rootWords turns encoding/xml's "expected element type <clientConfig>
// but have <html>" into "the root element is <html>".
func rootWords(msg string) string {
	if _, have, ok := strings.Cut(msg, "but have "); ok {
		return "the root element is " + have
	}
	return msg
}

func containsAuth(as []Auth, a Auth) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// authOf maps an <authentication> value to a sign-in method.
func authOf(s string) Auth {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "password-cleartext", "plain", "password-encrypted", "secure":
		return AuthPassword
	case "oauth2":
		return AuthOAuth2
	case "none", "client-ip-address", "smtp-after-pop":
		return AuthNone
	}
	return AuthOther
}
