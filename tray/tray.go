// Package tray is the desktop face of smtpwatch: a tray icon whose shape
// and colour give the combined health, a tooltip and a menu with a line per
// account, and desktop notifications when sending starts failing and when
// it recovers. It is a thin adapter: the pure view function decides what
// to show, the daemon's notification policy decides what to say, and the
// platform code only draws and delivers.
//
// The menu: a line per account ("✗ Charter — password rejected"; clicking
// it writes that account's full report, the text of `smtpwatch check`, to
// StateDir/report-NAME.txt and opens it), "Check now", "Pause checks" ▸
// "1 hour" / "Until tomorrow" (the next 08:00; it pauses the source's
// checks, and so its alarms, as `smtpwatch pause` does), "Resume checks",
// "Open settings" (written from the commented template when missing),
// "Open log", "Quit" — and "Open dashboard" (the daemon's local page, at a
// fresh one-time link) when Options.Dashboard is set; under an account that
// waits for an OAuth2 sign-in, "Sign in to NAME…", which runs the sign-in of
// `smtpwatch login` in the browser and then checks the account. Whether
// checks are paused is read from the source's
// status, never kept here: `smtpwatch pause` and `smtpwatch resume` from a
// terminal show in the menu as the menu's own entries do.
//
// Notifications are decided by the daemon, not here: its notification
// policy (monitor/notify) decides once for the desktop and every alert
// channel, and puts each decision on the event stream as a
// "notification" event, which the tray shows once (by its ID; a replay
// to a new subscription is skipped when what it repeats was shown). The
// rules: on a transition to failing, to offline, to degraded for an
// expiring certificate (at most daily), on recovery, on reminders and
// config errors; never at a start where all is well, never while every
// account is paused; at most one per account per 15 minutes, recoveries
// and reminders aside; announcements within 2 s of the first make one
// notification.
//
// Platforms: on Linux the icon is a StatusNotifierItem (fyne.io/systray)
// and notifications go to org.freedesktop.Notifications on a private D-Bus
// connection; on Windows and macOS fyne.io/systray and gen2brain/beeep.
// macOS needs a cgo build made on a Mac; without cgo Run returns
// ErrUnavailable there. Windows: build with -ldflags -H=windowsgui for
// no console window (see platform_windows.go).
package tray

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"smtpwatch/monitor/health"
	"smtpwatch/monitor/probe"
)

// Source is what the tray shows and drives. The in-process engine (through
// a small adapter in cmd/smtpwatch) and the API client of a daemon running
// elsewhere (api.Client) both satisfy it.
type Source interface {
	Status(ctx context.Context) (health.Status, error)
	// Events delivers events until ctx ends or the source goes away; the
	// channel is closed then. The decided notifications come among them
	// (kind "notification"), those that still stand first.
	Events(ctx context.Context) (<-chan health.Event, error)
	// Check probes now (all accounts for "") and returns the results.
	Check(ctx context.Context, account string) ([]probe.Result, error)
	// PauseUntil pauses checks and alarms (all accounts for ""); a zero
	// time means until Resume.
	PauseUntil(ctx context.Context, account string, until time.Time) error
	Resume(ctx context.Context, account string) error
}

// Options configure Run.
type Options struct {
	Source Source
	// ConfigPath is opened by "Open settings" (created from the commented
	// template first if missing).
	ConfigPath string
	// LogPath is opened by "Open log".
	LogPath string
	// StateDir holds the full reports opened from the menu and the icon
	// files attached to notifications ("" uses the temp dir for reports
	// and sends notifications without an icon file).
	StateDir string
	// Logger gets the tray's few lines; nil discards them.
	Logger *slog.Logger
	// SignIn runs the OAuth2 sign-in of an account (what `smtpwatch login
	// NAME` runs), opening the browser with open, and blocks until it is
	// done or ctx ends. nil: the menu offers no "Sign in…".
	SignIn func(ctx context.Context, account string, open func(url string) error) error
	// CanSignIn reports whether SignIn can sign the account in (it signs
	// in with smtpwatch's own OAuth2 sign-in, not a token helper); asked
	// only for an account that waits for a sign-in. nil: every such
	// account.
	CanSignIn func(account string) bool
	// Dashboard gives a one-time link to the daemon's dashboard, which
	// "Open dashboard" opens in the browser; nil leaves the item out.
	Dashboard func(ctx context.Context) (string, error)
}

// ErrUnavailable means there is no desktop to show a tray in (no session
// bus, or a build without tray support); the caller runs headless. Run
// wraps it with the reason: test with errors.Is.
var ErrUnavailable = errors.New("no tray available")

// Run shows the tray and notifications until ctx ends or the user picks
// Quit; it returns nil then, and the caller stops the engine. It blocks,
// must be called on the main goroutine and only once per process.
//
// Without a desktop session it returns at once an error wrapping
// ErrUnavailable: on Linux when no session bus address is set or found
// ($XDG_RUNTIME_DIR/bus), or the bus does not answer within 3 s on a
// private connection — checked before fyne.io/systray touches D-Bus; on
// Windows in session 0 (a service). On Linux it first sets
// DBUS_SESSION_BUS_ADDRESS as credential.PreventBusAutolaunch does. With a bus but no
// tray host yet, Run runs and the icon appears when a host does; a tray
// host that restarts gets the icon again. Other errors (fyne.io/systray
// panicking, the tray's message loop ending) mean the tray is gone; the
// daemon should go on without it.
func Run(ctx context.Context, o Options) error {
	return run(ctx, o)
}
