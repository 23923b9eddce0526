package tray

import (
	"slices"
	"testing"
)

type recordingItem struct{ calls []string }

func (r *recordingItem) SetTitle(s string)   { r.calls = append(r.calls, "title "+s) }
func (r *recordingItem) SetTooltip(s string) { r.calls = append(r.calls, "tooltip "+s) }
func (r *recordingItem) Show()               { r.calls = append(r.calls, "show") }
func (r *recordingItem) Hide()               { r.calls = append(r.calls, "hide") }
func (r *recordingItem) Enable()             { r.calls = append(r.calls, "enable") }
func (r *recordingItem) Disable()            { r.calls = append(r.calls, "disable") }

func TestCachedItemSkipsNoOpUpdates(t *testing.T) {
	r := &recordingItem{}
	c := newCachedItem(r, "Check now", "")
	// What the adapter does on every render: the same values again.
	for range 3 {
		c.SetTitle("Check now")
		c.SetTooltip("")
		c.SetVisible(true)
		c.SetEnabled(true)
	}
	if len(r.calls) != 0 {
		t.Fatalf("no-op updates reached the tray: %q", r.calls)
	}
	c.SetTitle("Checking…")
	c.SetEnabled(false)
	c.SetTitle("Checking…")
	c.SetEnabled(false)
	c.SetVisible(false)
	c.SetVisible(false)
	c.SetTooltip("tip")
	c.SetVisible(true)
	c.SetEnabled(true)
	want := []string{"title Checking…", "disable", "hide", "tooltip tip", "show", "enable"}
	if !slices.Equal(r.calls, want) {
		t.Errorf("calls %q, want %q", r.calls, want)
	}
}
