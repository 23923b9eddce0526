package human

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0 ms"},
		{850 * time.Microsecond, "<1 ms"},
		{180 * time.Millisecond, "180 ms"},
		{999 * time.Millisecond, "999 ms"},
		{time.Second, "1 s"},
		{8 * time.Second / 3, "2.7 s"}, // a third of an 8 s timeout
		{9960 * time.Millisecond, "10 s"},
		{27400 * time.Millisecond, "27 s"},
		{90 * time.Second, "1 min 30 s"},
		{4 * time.Minute, "4 min"},
		{12*time.Minute + 20*time.Second, "12 min"},
		{2*time.Hour + 5*time.Minute, "2 h 5 min"},
		{36 * time.Hour, "36 h"},
		{72 * time.Hour, "3 days"},
		{-3 * time.Second, "3 s"},
	} {
		if got := Duration(c.d); got != c.want {
			t.Errorf("Duration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestAgo(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Minute, "just now"},
		{0, "just now"},
		{59 * time.Second, "just now"},
		{time.Minute, "1 min ago"},
		{3*time.Minute + 59*time.Second, "3 min ago"},
		{59 * time.Minute, "59 min ago"},
		{time.Hour, "1 h ago"},
		{47 * time.Hour, "47 h ago"},
		{48 * time.Hour, "2 days ago"},
		{400 * 24 * time.Hour, "400 days ago"},
	} {
		if got := Ago(tc.d); got != tc.want {
			t.Errorf("Ago(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
