package tray

// menuItem is what the tray's menu items can do; *systray.MenuItem has it.
type menuItem interface {
	SetTitle(string)
	SetTooltip(string)
	Show()
	Hide()
	Enable()
	Disable()
}

// cachedItem remembers what a menu item shows and passes only changes on:
// every update of a fyne.io/systray item is a D-Bus signal (Linux) or a
// Win32 call, and the loop re-renders the whole view on every status
// snapshot. Its zero state is an item as fyne.io/systray creates it:
// visible and enabled, with the title and tooltip given to newCachedItem.
// It is not safe for concurrent use.
type cachedItem struct {
	item     menuItem
	title    string
	tooltip  string
	hidden   bool
	disabled bool
}

func newCachedItem(item menuItem, title, tooltip string) *cachedItem {
	return &cachedItem{item: item, title: title, tooltip: tooltip}
}

func (c *cachedItem) SetTitle(s string) {
	if s != c.title {
		c.title = s
		c.item.SetTitle(s)
	}
}

func (c *cachedItem) SetTooltip(s string) {
	if s != c.tooltip {
		c.tooltip = s
		c.item.SetTooltip(s)
	}
}

// SetVisible shows or hides the item.
func (c *cachedItem) SetVisible(v bool) {
	switch {
	case v && c.hidden:
		c.hidden = false
		c.item.Show()
	case !v && !c.hidden:
		c.hidden = true
		c.item.Hide()
	}
}

// SetEnabled enables or disables (greys out) the item.
func (c *cachedItem) SetEnabled(e bool) {
	switch {
	case e && c.disabled:
		c.disabled = false
		c.item.Enable()
	case !e && !c.disabled:
		c.disabled = true
		c.item.Disable()
	}
}
