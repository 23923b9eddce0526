// Package tray is the desktop face of smtpwatch: a tray icon whose shape
// and colour give the combined health, a tooltip and a menu with a line per
// account, and desktop notifications when sending starts failing and when
// it recovers. It is a thin adapter: the pure view function decides what
// to show, the notification policy decides what to say, and the platform
// code only draws and delivers.
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
	// channel is closed then.
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
	// files attached to notifications.
	StateDir string
	Logger   *slog.Logger
}

// ErrUnavailable means there is no desktop to show a tray in (no session
// bus, or a build without tray support); the caller runs headless.
var ErrUnavailable = errors.New("no tray available")

// Run shows the tray and notifications until ctx ends or the user picks
// Quit; it returns nil then. It must be called on the main goroutine and
// only once per process. It returns ErrUnavailable at once when there is
// no desktop session.
func Run(ctx context.Context, o Options) error {
	return ErrUnavailable
}
