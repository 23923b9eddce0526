package smtptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The OAuth2 mechanisms a test server can offer (Options.Tokens).
const (
	XOAuth2     = "XOAUTH2"
	OAuthBearer = sasl.OAuthBearer
)

// TokenCheck judges an OAuth2 bearer token sent for user: nil accepts it.
// An *smtp.SMTPError it returns is the server's final reply (so a test can
// make the server quote the token back); any other error makes it 535
// 5.7.8.
type TokenCheck func(user, token string) error

// refusal is the JSON status both mechanisms send in their challenge when
// they refuse a token, as Google, Microsoft and Dovecot do.
var refusal = []byte(`{"status":"401","schemes":"bearer","scope":"mail"}`)

// finalError is the reply that ends a refused OAuth2 exchange.
func finalError(err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se
	}
	return smtp.ErrAuthFailed
}

// newXOAuth2Server is the server side of XOAUTH2: the initial response
// "user=U\x01auth=Bearer T\x01\x01"; a refused token gets the JSON status
// as a challenge, the client's empty answer, then the final error.
func newXOAuth2Server(check TokenCheck) sasl.Server {
	return &xoauth2Server{check: check}
}

type xoauth2Server struct {
	check  TokenCheck
	failed error
	step   int
}

func (s *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	s.step++
	switch {
	case s.failed != nil:
		if len(resp) != 0 {
			return nil, true, errors.New("want an empty response after the error challenge")
		}
		return nil, true, s.failed
	case resp == nil && s.step == 1:
		return []byte{}, false, nil // no initial response: ask for it
	}
	user, token, ok := parseXOAuth2(resp)
	if !ok {
		return nil, true, &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "Malformed XOAUTH2 response"}
	}
	if err := s.check(user, token); err != nil {
		s.failed = finalError(err)
		return refusal, false, nil
	}
	return nil, true, nil
}

func parseXOAuth2(b []byte) (user, token string, ok bool) {
	fields := bytes.Split(bytes.TrimSuffix(b, []byte("\x01\x01")), []byte{0x01})
	for _, f := range fields {
		k, v, _ := strings.Cut(string(f), "=")
		switch k {
		case "user":
			user = v
		case "auth":
			if t, found := strings.CutPrefix(v, "Bearer "); found {
				token = t
			}
		}
	}
	return user, token, user != "" && token != ""
}

// newOAuthBearerServer is go-sasl's OAUTHBEARER server, whose final error
// (an *OAuthBearerError, which go-smtp would answer with 454) becomes the
// 535 real servers send.
func newOAuthBearerServer(check TokenCheck) sasl.Server {
	var failed error
	inner := sasl.NewOAuthBearerServer(func(o sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
		if err := check(o.Username, o.Token); err != nil {
			failed = finalError(err)
			var st sasl.OAuthBearerError
			_ = json.Unmarshal(refusal, &st)
			return &st
		}
		return nil
	})
	return saslServerFunc(func(resp []byte) ([]byte, bool, error) {
		ch, done, err := inner.Next(resp)
		if err != nil && failed != nil {
			err = failed
		}
		return ch, done, err
	})
}

type saslServerFunc func([]byte) ([]byte, bool, error)

func (f saslServerFunc) Next(resp []byte) ([]byte, bool, error) { return f(resp) }
