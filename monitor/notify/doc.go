// Package notify decides what to tell people about the engine's events,
// once, and delivers it everywhere it should go: the daemon's event
// stream (where the tray shows it on the desktop) and every [[notify]]
// channel of the config — a shoutrrr service URL (ntfy, Gotify, Slack,
// Teams, Telegram, Matrix, Discord, Pushover, e-mail over SMTP...) or a
// JSON webhook.
//
// Policy is the pure rule book (transitions only, coalescing, at most one
// notification per account per 15 minutes, reminders, silence while every
// account is paused); Batch.Compose puts a decision in words, for all
// accounts and topics (the desktop) or for the part a channel takes
// (Filter: accounts = [...], on = [...]). Dispatcher runs the policy on
// the engine's events and hands each decision to every channel's own
// goroutine and queue: a channel that is slow, down or refusing never
// delays the checks, the decisions or the other channels; its deliveries
// are retried with backoff (Retry), its failure is logged once and shown
// in the daemon's status and metrics until one gets through.
//
// # Webhooks
//
// A webhook channel POSTs the event stream's own object — a health.Event
// of kind "notification" with its health.Notification — as JSON, with
//
//	Content-Type: application/json
//	X-Smtpwatch-Delivery: the notification's ID (the same on every retry)
//	X-Smtpwatch-Timestamp: Unix seconds when the request was made
//	X-Smtpwatch-Signature: sha256=HEX (with webhook_secret_env or _command)
//
// where HEX is the hex HMAC-SHA256, keyed with the secret, of the
// timestamp, a ".", and the body as received (Sign; Verify checks it). A
// receiver should compare in constant time and refuse old timestamps.
// Any 2xx answer is success; a redirect is not followed.
//
// # Secrets
//
// A channel's URL is a secret wherever it comes from: it is held as a
// credential.Secret or read from url_env, url_command or the keyring at
// each attempt, and every part of it that may be a token (user, password,
// path segments, query values, a host that is not a host name) is
// removed from what a channel says (errors, status, logs).
package notify
