package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Template is a commented config file for a first setup: every key is
// explained, and an example account for Charter is commented out. Settings
// are commented as "#key = value" (delete the "#" to use one); explanations
// start with "# ". It parses as a valid config with no accounts, and with
// every "#key" line uncommented it holds one valid Charter account.
const Template = `# smtpwatch configuration
#
# smtpwatch checks your outgoing mail (SMTP) server in the background and tells
# you when sending mail would fail, and why. This file lists the accounts to
# watch. Lines starting with "#" are comments. To use a setting shown as
# "#key = value", delete the "#" in front of it.
#
# Passwords are never written in this file. Each account says where to get its
# password instead: the system keyring, an environment variable, or a command.
#
# Durations are written in quotes with a unit: "90s", "15m", "4h", "30d".

# ---- General settings (all optional) ----------------------------------------

# Folder for check history. Default: chosen by smtpwatch for your system.
#state_dir = "/home/me/.local/state/smtpwatch"

# How long check history is kept. Default "30d", at least "1h".
#retention = "30d"

# How often to remind you while an account keeps failing; "0" = never.
# Default "4h".
#reminder = "4h"

# Address for Prometheus metrics (for admins). Default: no metrics listener.
#metrics_listen = "127.0.0.1:9925"

# How many accounts may be checked at the same time. Default 4.
#max_concurrency = 4

# The dashboard: a page in your browser with every account, history charts and
# settings ("smtpwatch open", or the tray's "Open dashboard"). It is served to
# this computer only, on a free port chosen at each start unless ui_listen
# names one. ui = false turns it off.
#ui = true
#ui_listen = "127.0.0.1:9926"

# ---- "Am I online?" check (optional) ----------------------------------------
# When the mail server cannot be reached, smtpwatch tries these addresses to
# tell "this computer is offline" from "the server is down". Leave it out for
# the built-in list; targets = [] turns the check off.
#[online]
#targets = ["1.1.1.1:443", "8.8.8.8:443"]

# ---- Defaults for every account (optional) ----------------------------------
# Each of these can also be set inside an [[account]] to override it there.
#[defaults]
# Time between quick checks (connection and encryption). Default "60s", at least "2s".
#interval = "60s"
# Time between checks that also log in with your password. Default "15m", at least "1m".
# Logging in rarely keeps the provider from locking the account.
#auth_interval = "15m"
# Longest time one check may take. Default "30s".
#timeout = "30s"
# Warn this many days before the server's certificate expires. Default 14.
#cert_warn_days = 14
# Call the server slow when a check takes longer than this. Default "5s".
#slow_threshold = "5s"
# After a failed check, smtpwatch checks again 5 s and then 15 s later; the
# account counts as failing only when this many of those re-checks fail too,
# so one dropped connection never alarms. Default 2; 0 alarms at once.
#failure_threshold = 2
# Good checks in a row before a failing account counts as working again.
# Default 2.
#success_threshold = 2

# ---- Accounts -----------------------------------------------------------------
# One [[account]] block per outgoing mail server. This example is for Charter;
# delete the "#" in front of its lines and put in your own address.
#
# Built-in presets fill in server, port and security for you: aol, att,
# charter, comcast, fastmail, gmail, gmx, icloud, office365, outlook, spectrum,
# yahoo, zoho.

#[[account]]
# A short name of your choice: letters, digits, ".", "_" or "-". Required.
#name = "charter"
# A preset, or leave it out and set server, port and security yourself.
#preset = "charter"
# Outgoing (SMTP) server name, without the port. Required unless a preset is set.
#server = "smtp.charter.net"
# Port: 587 for STARTTLS, 465 for SSL/TLS. Default from security or the preset.
#port = 587
# Encryption: "starttls" (port 587), "tls" (also called SSL/TLS, port 465),
# "none" (no encryption; not recommended), or "auto" to detect it. Default "auto".
#security = "starttls"
# The user name you log in with, usually your full email address.
#username = "me@charter.net"
# Where the password comes from; set at most one of these three:
#   password_keyring = true      the system keyring; store it once with
#                                smtpwatch password set charter
#   password_env = "CHARTER_PASSWORD"         an environment variable
#   password_command = "pass show mail/charter"   a command that prints it
#                                (this file must then not be writable by others)
#password_keyring = true
# Or sign in with OAuth2 instead of a password, as Microsoft 365, Outlook.com
# and Gmail allow (Outlook.com allows nothing else; the office365 and outlook
# presets sign in this way unless a password source is set). Instead of the
# password source, set:
# auth = "oauth2"                 "password", "oauth2" or "none"
# oauth_provider = "microsoft"    "microsoft", "google" or "custom"
# then sign in once in the browser: smtpwatch login charter (--device on a
# computer without a browser; Microsoft only). The sign-in is kept in the
# system keyring. Optional, for your own app registration (see the README,
# "Sign in with OAuth2"): oauth_client_id = "...", oauth_client_secret = "..."
# (Google desktop apps), oauth_tenant = "organizations" (Microsoft),
# oauth_scopes = ["..."]; and for "custom": oauth_auth_url = "https://...",
# oauth_token_url = "https://...", oauth_device_url = "https://...".
# Or let a token helper you already use print a fresh access token:
# oauth_token_command = "oama access me@example.com"
# Optional: also check that the server accepts this sender and recipient
# (MAIL FROM / RCPT TO, then reset; no mail is ever sent). Set both or neither.
#from = "me@charter.net"
#rcpt = "me@charter.net"
# Optional: the certificate authority of a private server, as a PEM file.
# ca_file = "/etc/ssl/private-mail-ca.pem"
# Optional: the name this computer gives in EHLO. Default "localhost".
# ehlo_name = "laptop"
# Accept any certificate. Unsafe: anyone on the network could read your
# password. Every report warns about it. Default false.
# tls_skip_verify = false
# Allow logging in without encryption (only with security = "none"). Unsafe.
# Default false.
# allow_plaintext_auth = false
# Set to false to stop watching this account without deleting it. Default true.
#enabled = true

# ---- Alerts beyond this desktop (optional, for admins) ------------------------
# Each [[notify]] block sends the same notifications as the desktop (when
# sending starts failing, works again, a certificate expires soon...) to one
# more place: ntfy, Gotify, Slack, Teams, Telegram, Matrix, Discord, Pushover,
# e-mail, any URL that github.com/nicholas-fedor/shoutrrr knows, or a JSON
# webhook. A channel that fails is retried and shown by "smtpwatch status";
# "smtpwatch notify test" sends a test message through each.
#
# [[notify]]
# name = "phone"
# The service URL. URLs often hold a token: prefer one of
#   url_env = "SMTPWATCH_NTFY_URL"     an environment variable
#   url_command = "pass show ntfy"     a command that prints it
#   url_keyring = true                 the keyring: smtpwatch notify set-url phone
# E-mail alerts (smtp://) must use another server than the accounts watched.
# url = "ntfy://ntfy.example.org/mail-alerts"
# Or post each notification as JSON, signed with an HMAC of a secret:
# webhook = "https://hooks.example.org/smtpwatch"
# webhook_secret_env = "SMTPWATCH_WEBHOOK_SECRET"
# webhook_secret_command = "pass show smtpwatch-webhook"
# Only these accounts (default: all) and these topics (default: all of them).
# accounts = ["charter"]
# on = ["failing", "offline", "recovered", "expiring", "sign_in_required", "config_error"]

# ---- Prometheus /probe modules (optional, for admins) -------------------------
# With metrics_listen set, Prometheus can ask smtpwatch to check any server:
# /probe?target=smtp.example.org:587&module=fleet. A [[module]] holds the
# account settings for it; one that logs in must list the servers it may check.
#
# [[module]]
# name = "fleet"
# security = "starttls"
# username = "monitor@example.org"
# password_env = "FLEET_PASSWORD"
# targets = ["*.example.org", "mail.example.net:465"]
# timeout = "10s"
`

// WriteTemplate creates path (and its folder, 0700) holding Template, mode
// 0600. It never overwrites: if path exists it returns false and no error.
func WriteTemplate(path string) (bool, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("write template: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("write template: %w", err)
	}
	if _, err := f.WriteString(Template); err != nil {
		f.Close()
		os.Remove(path)
		return false, fmt.Errorf("write template: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return false, fmt.Errorf("write template: %w", err)
	}
	return true, nil
}
