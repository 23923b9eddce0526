package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"smtpwatch/monitor/config"
	"smtpwatch/monitor/health"
)

// The webhook's headers.
const (
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256, keyed with
	// the webhook secret, of HeaderTimestamp's value, a ".", and the body.
	// Only with webhook_secret_env or webhook_secret_command.
	HeaderSignature = "X-Smtpwatch-Signature"
	// HeaderTimestamp is when the request was made, in Unix seconds; a
	// receiver should refuse one that is minutes old (a replay).
	HeaderTimestamp = "X-Smtpwatch-Timestamp"
	// HeaderDelivery is the notification's ID: retries of one delivery
	// carry the same one.
	HeaderDelivery = "X-Smtpwatch-Delivery"
)

// Sign is the HeaderSignature value for a body sent at ts with key.
func Sign(key []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether sig is the signature of body sent at ts with key,
// in constant time: what a receiver in Go does.
func Verify(key []byte, ts string, body []byte, sig string) bool {
	return hmac.Equal([]byte(Sign(key, ts, body)), []byte(sig))
}

// maxWebhookAnswer bounds what is read of a webhook's answer.
const maxWebhookAnswer = 4 << 10

// webhookSender posts the notification event, as JSON, to a [[notify]]
// webhook: the same object as the event stream's "notification" events.
type webhookSender struct {
	n       config.Notify
	client  *http.Client
	version string
	now     func() time.Time
}

func newWebhook(n config.Notify, o SenderOptions) *webhookSender {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.RootCAs}
	tr.MaxIdleConnsPerHost = 1
	return &webhookSender{
		n: n, version: o.Version, now: time.Now,
		client: &http.Client{
			Transport: tr,
			// A redirect would turn the POST into a GET: an error instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

func (s *webhookSender) Send(ctx context.Context, ev health.Event) error {
	if ev.Notification == nil {
		return errors.New("not a notification")
	}
	parts := secretParts(s.n.Webhook)
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	key, err := s.n.WebhookKey(ctx)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.n.Webhook, bytes.NewReader(body))
	if err != nil {
		return redactErr("webhook", err, parts)
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "smtpwatch/"+s.version)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderDelivery, strconv.FormatUint(ev.Notification.ID, 10))
	if !key.IsZero() {
		req.Header.Set(HeaderSignature, Sign([]byte(key.Reveal()), ts, body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return redactErr("", err, parts)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookAnswer))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("the webhook answered %s", resp.Status)
	}
	return nil
}

// SenderOptions are what senders need beyond their [[notify]] table.
type SenderOptions struct {
	// Origin names this machine in messages ("smtpwatch on mailmon-1");
	// "" leaves it out.
	Origin string
	// Version goes in the webhook's User-Agent.
	Version string
	// RootCAs verifies webhook servers; nil means the system roots
	// (SSL_CERT_FILE is honoured). Tests set it.
	RootCAs *x509.CertPool
}

// Channels makes the channels of cfg's [[notify]] tables.
func Channels(cfg *config.Config, o SenderOptions) []Channel {
	var out []Channel
	for _, n := range cfg.Notify {
		c := Channel{Name: n.Name, Kind: n.Kind, Filter: Filter{Accounts: n.Accounts, Topics: n.On}}
		if n.Webhook != "" {
			c.Sender = newWebhook(n, o)
		} else {
			c.Sender = newShoutrrr(n, o.Origin)
			if c.Kind == "" {
				c.Kind = "url"
			}
		}
		out = append(out, c)
	}
	return out
}
