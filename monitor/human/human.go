// Package human is the one home of the small words smtpwatch uses for
// times and durations in everything a person reads: reports, status
// lines, the tray, notifications and error messages. Nothing a person
// reads prints a time.Duration with its String method ("2.666666666s").
//
// It has no dependencies inside smtpwatch, so every package may use it.
package human

import (
	"fmt"
	"time"
)

// Duration rounds d to what a person needs and says it with a unit:
//
//	0 → "0 ms", 850µs → "<1 ms", 180ms → "180 ms", 2.666s → "2.7 s",
//	27.4s → "27 s", 90s → "1 min 30 s", 4m → "4 min", 2h5m → "2 h 5 min",
//	36h → "36 h", 72h → "3 days".
//
// A negative d is said as its absolute value.
func Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d == 0:
		return "0 ms"
	case d < time.Millisecond:
		return "<1 ms"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < 10*time.Second:
		// One decimal, without a trailing ".0".
		tenths := (d + 50*time.Millisecond) / (100 * time.Millisecond)
		if tenths%10 == 0 {
			return fmt.Sprintf("%d s", tenths/10)
		}
		return fmt.Sprintf("%d.%d s", tenths/10, tenths%10)
	case d < time.Minute:
		return fmt.Sprintf("%d s", (d+time.Second/2)/time.Second)
	case d < time.Hour:
		s := (d + time.Second/2) / time.Second
		if s%60 == 0 || s >= 10*60 {
			return fmt.Sprintf("%d min", (s+30)/60)
		}
		return fmt.Sprintf("%d min %d s", s/60, s%60)
	case d < 48*time.Hour:
		m := (d + time.Minute/2) / time.Minute
		if m%60 == 0 || m >= 10*60 {
			return fmt.Sprintf("%d h", (m+30)/60)
		}
		return fmt.Sprintf("%d h %d min", m/60, m%60)
	}
	days := (d + 12*time.Hour) / (24 * time.Hour)
	return fmt.Sprintf("%d days", days)
}

// Ago says how long ago in the fewest words: "just now", "1 min ago",
// "3 h ago", "2 days ago". A negative d (a clock step) is "just now".
func Ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}

// Truncate shortens s to at most n runes, the last one "…" when it cut;
// n <= 0 leaves s as it is. Notification bodies and tooltips go through
// it.
func Truncate(s string, n int) string {
	if n <= 0 {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
