package discover

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"golang.org/x/net/publicsuffix"
)

// maxRedirects bounds the redirects followed for one document.
const maxRedirects = 5

// guardedClient fetches documents with Discover's rules, whatever client
// it wraps: https only; redirects only to https on the same registrable
// domain (Thunderbird's rule, so that a document cannot send the password
// to another site); a bounded body; no wait past the context.
type guardedClient struct {
	hc  *http.Client
	max int64
}

// redirectError is a redirect the rule refused.
type redirectError struct{ to, why string }

func (e *redirectError) Error() string {
	return "redirected to " + e.to + ": not followed (" + e.why + ")"
}

func (q *query) guardedClient() *guardedClient {
	hc := *q.o.HTTP // a copy: the caller's client keeps its own redirect rule
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		to := req.URL.Redacted()
		switch {
		case len(via) >= maxRedirects:
			return &redirectError{to, fmt.Sprintf("more than %d redirects", maxRedirects)}
		case req.URL.Scheme != "https":
			return &redirectError{to, "only https is followed"}
		case !sameSite(via[0].URL.Hostname(), req.URL.Hostname()):
			return &redirectError{to, "another site than " + via[0].URL.Hostname()}
		}
		return nil
	}
	return &guardedClient{hc: &hc, max: q.o.MaxDocument}
}

// sameSite reports whether two hosts share their registrable domain
// (example.co.uk for autoconfig.example.co.uk). Hosts without one (IP
// addresses, bare names) must be equal.
func sameSite(a, b string) bool {
	a, b = strings.ToLower(strings.TrimSuffix(a, ".")), strings.ToLower(strings.TrimSuffix(b, "."))
	if a == b {
		return true
	}
	if net.ParseIP(a) != nil || net.ParseIP(b) != nil {
		return false
	}
	ra, errA := publicsuffix.EffectiveTLDPlusOne(a)
	rb, errB := publicsuffix.EffectiveTLDPlusOne(b)
	return errA == nil && errB == nil && ra == rb
}

// fetch gets rawURL. It returns the body of a 200 answer; or a note when
// there is normally no document there (no such host, nothing listening,
// 404); or an error, for people, when something is wrong: a refused
// redirect, a certificate that does not verify, no answer in time, another
// status, a body larger than the bound.
func (c *guardedClient) fetch(ctx context.Context, rawURL string) (body []byte, note string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" {
		return nil, "", fmt.Errorf("not an https URL: %s", rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "application/xml, text/xml;q=0.9, */*;q=0.1")
	req.Header.Set("User-Agent", "smtpwatch")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fetchNote(ctx, err), fetchError(ctx, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, fmt.Sprintf("no document (HTTP %d)", resp.StatusCode), nil
	case resp.StatusCode != http.StatusOK:
		return nil, "", fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	if resp.ContentLength > c.max {
		return nil, "", fmt.Errorf("the document is %d bytes, more than the %d accepted: ignored", resp.ContentLength, c.max)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.max+1))
	if err != nil {
		return nil, fetchNote(ctx, err), fetchError(ctx, err)
	}
	if int64(len(b)) > c.max {
		return nil, "", fmt.Errorf("the document is larger than the %d bytes accepted: ignored", c.max)
	}
	return b, "", nil
}

// fetchNote is the note for a failed request that means "no document
// here": the host does not exist or nothing listens on https. "" when the
// failure is a warning (fetchError).
func fetchNote(ctx context.Context, err error) string {
	if ctx.Err() != nil {
		if errors.Is(context.Cause(ctx), errBetterAnswer) {
			return "not needed: " + errBetterAnswer.Error()
		}
		return ""
	}
	var de *net.DNSError
	switch {
	case errors.As(err, &de) && de.IsNotFound:
		return "no such host"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "nothing answers on https"
	}
	return ""
}

// fetchError is the warning for a failed request, nil when fetchNote has
// a note for it.
func fetchError(ctx context.Context, err error) error {
	if fetchNote(ctx, err) != "" {
		return nil
	}
	var (
		re  *redirectError
		ue  x509.UnknownAuthorityError
		he  x509.HostnameError
		ce  x509.CertificateInvalidError
		ve  *tls.CertificateVerificationError
		de  *net.DNSError
		uer *url.Error
	)
	switch {
	case errors.As(err, &re):
		return re
	case ctx.Err() != nil:
		return errors.New("no answer in time: gave up")
	case errors.As(err, &he):
		return fmt.Errorf("the certificate is not valid for this name: %v", he)
	case errors.As(err, &ue), errors.As(err, &ce), errors.As(err, &ve):
		return fmt.Errorf("the certificate does not verify: %v", err)
	case errors.As(err, &de):
		return fmt.Errorf("DNS error: %s", de.Err)
	case errors.As(err, &uer):
		return uer.Err
	}
	return err
}
