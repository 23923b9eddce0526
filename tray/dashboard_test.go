package tray

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
)

// "Open dashboard" asks for a fresh one-time link each time and opens it
// in the browser; a daemon without a dashboard opens nothing.
func TestAppOpensDashboard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, okStatus())
		defer h.stop()
		n := 0
		h.app.dashboard = func(context.Context) (string, error) {
			n++
			if n == 3 {
				return "", errors.New("the dashboard is not served: ui = false")
			}
			return "http://127.0.0.1:4242/login?token=" + string(rune('a'+n)), nil
		}
		h.click(click{kind: clickDashboard})
		h.click(click{kind: clickDashboard})
		h.click(click{kind: clickDashboard})
		want := []string{"http://127.0.0.1:4242/login?token=b", "http://127.0.0.1:4242/login?token=c"}
		if got := h.opener.paths(); !slices.Equal(got, want) {
			t.Errorf("opened %q, want %q", got, want)
		}
		h.app.dashboard = nil
		h.click(click{kind: clickDashboard})
		if got := h.opener.paths(); len(got) != 2 {
			t.Errorf("opened without a dashboard: %q", got)
		}
	})
}
