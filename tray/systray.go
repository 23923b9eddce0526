//go:build linux || windows || (darwin && cgo)

package tray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"fyne.io/systray"

	"smtpwatch/icons"
	"smtpwatch/monitor/health"
)

// initialPool is how many account lines the menu holds before it has to be
// rebuilt: fyne.io/systray appends items and cannot insert, so the account
// lines are a pool at the top, the unused ones hidden.
const initialPool = 8

func run(ctx context.Context, o Options) (err error) {
	if o.Source == nil {
		return errors.New("tray: no status source")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	p, err := newPlatform(ctx, o, log)
	if err != nil {
		log.Debug("tray: not available", "reason", err)
		return err
	}
	defer p.close()

	clicks := make(chan click, 16)
	u := &trayUI{clicks: clicks, tooltipLimit: p.tooltipLimit, dashboard: o.Dashboard != nil}
	a := newApp(o, log, u, p.notify, p.open)
	var loopErr error
	loopDone := make(chan struct{})
	onReady := func() {
		u.build(initialPool)
		if p.background != nil {
			go p.background(ctx)
		}
		go func() {
			defer close(loopDone)
			defer func() {
				if r := recover(); r != nil {
					loopErr = fmt.Errorf("tray: %v", r)
				}
				systray.Quit()
			}()
			loopErr = a.run(ctx, clicks)
		}()
	}
	// fyne.io/systray panics on some failures (Quit without a bus); the
	// daemon must keep running without a tray then.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tray: %v", r)
		}
	}()
	if p.title != "" {
		systray.SetTitle(p.title) // also the item's Id on Linux; set before Run
	}
	systray.SetIcon(icons.Tray(string(health.Starting)))
	systray.SetTooltip("smtpwatch — starting…")
	systray.Run(onReady, nil)
	cancel()
	select {
	case <-loopDone:
	case <-time.After(5 * time.Second):
		return errors.New("tray: the event loop did not stop")
	}
	if loopErr == nil && !a.quit && ctx.Err() == nil {
		return errors.New("tray: the system tray's message loop ended")
	}
	return loopErr
}

// platform is what differs between operating systems.
type platform struct {
	notify notifier
	// open shows a file in the desktop's default application.
	open func(path string) error
	// background runs beside the event loop until ctx ends (may be nil).
	background func(ctx context.Context)
	// tooltipLimit is the longest tooltip the tray takes, in runes; 0 for
	// no limit.
	tooltipLimit int
	// title is the tray item's title ("" to leave it).
	title string
	close func()
}

// trayUI draws views with fyne.io/systray. apply runs on the event loop's
// goroutine only; build runs before the loop starts.
type trayUI struct {
	clicks       chan<- click
	tooltipLimit int
	dashboard    bool // "Open dashboard" is in the menu

	icon    health.State
	tooltip string
	lines   []*cachedItem
	check   *cachedItem
	pause   *cachedItem
	resume  *cachedItem
}

// build makes the menu with room for pool account lines:
//
//	✗ Charter — password rejected     (the account lines; unused ones hidden)
//	──────────
//	Check now
//	Pause checks ▸ 1 hour / Until tomorrow   ("Checks paused until 15:00" while all are)
//	Resume checks                      (while some account is paused)
//	──────────
//	Open dashboard                     (when the daemon serves one)
//	Open settings
//	Open log
//	──────────
//	Quit
func (u *trayUI) build(pool int) {
	u.lines = nil
	for i := range pool {
		it := systray.AddMenuItem("", "")
		it.Hide()
		c := newCachedItem(it, "", "")
		c.hidden = true
		u.lines = append(u.lines, c)
		u.forward(it.ClickedCh, click{kind: clickLine, line: i})
	}
	systray.AddSeparator()
	add := func(title, tip string, k clickKind) *cachedItem {
		it := systray.AddMenuItem(title, tip)
		u.forward(it.ClickedCh, click{kind: k})
		return newCachedItem(it, title, tip)
	}
	u.check = add("Check now", "Check every account now", clickCheck)
	const pauseTip = "No checks, and so no notifications, for a while"
	pause := systray.AddMenuItem(pauseLabel, pauseTip)
	u.pause = newCachedItem(pause, pauseLabel, pauseTip)
	hour := pause.AddSubMenuItem("1 hour", "")
	u.forward(hour.ClickedCh, click{kind: clickPauseHour})
	tomorrow := pause.AddSubMenuItem("Until tomorrow", "Until the next 08:00")
	u.forward(tomorrow.ClickedCh, click{kind: clickPauseTomorrow})
	u.resume = add(resumeLabel, "Check the paused accounts again now", clickResume)
	u.resume.SetVisible(false)
	systray.AddSeparator()
	if u.dashboard {
		add("Open dashboard", "Every account, its history and settings, in the browser", clickDashboard)
	}
	add("Open settings", "Open the settings file", clickSettings)
	add("Open log", "Open smtpwatch's log", clickLog)
	systray.AddSeparator()
	add("Quit", "Stop smtpwatch", clickQuit)
}

// forward passes clicks on an item to the loop. fyne.io/systray drops a
// click nobody is waiting for, so every item has a goroutine waiting; it
// ends when the item is removed (its channel closes).
func (u *trayUI) forward(ch <-chan struct{}, c click) {
	go func() {
		for range ch {
			select {
			case u.clicks <- c:
			default: // the loop is gone or swamped
			}
		}
	}()
}

func (u *trayUI) apply(v trayView) {
	if v.Icon != u.icon {
		u.icon = v.Icon
		systray.SetIcon(icons.Tray(string(v.Icon)))
	}
	if tip := truncate(v.Tooltip, u.tooltipLimit); tip != u.tooltip {
		u.tooltip = tip
		systray.SetTooltip(tip)
	}
	if len(v.Lines) > len(u.lines) {
		systray.ResetMenu()
		u.build(max(2*len(u.lines), len(v.Lines)))
	}
	for i, it := range u.lines {
		if i >= len(v.Lines) {
			it.SetVisible(false)
			continue
		}
		l := v.Lines[i]
		it.SetTitle(l.Text)
		it.SetTooltip(l.Tooltip)
		it.SetEnabled(l.Action != actionNone)
		it.SetVisible(true)
	}
	if v.Checking {
		u.check.SetTitle("Checking…")
	} else {
		u.check.SetTitle("Check now")
	}
	u.check.SetEnabled(!v.Checking)
	u.pause.SetTitle(v.PauseLabel)
	u.resume.SetVisible(v.CanResume)
}
