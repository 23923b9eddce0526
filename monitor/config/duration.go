package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

var errDurationSyntax = errors.New("invalid duration")

// ParseDuration reads a duration as the config file writes it: Go syntax
// ("90s", "1h30m") plus a leading count of days ("30d", "1d12h", "1.5d").
// Negative durations are an error.
func ParseDuration(s string) (time.Duration, error) {
	d, err := parseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want a number and a unit, like \"90s\", \"15m\", \"4h\" or \"30d\"", s)
	}
	return d, nil
}

func parseDuration(s string) (time.Duration, error) {
	if strings.HasPrefix(s, "-") {
		return 0, errDurationSyntax
	}
	i := strings.IndexByte(s, 'd')
	if i < 0 {
		return time.ParseDuration(s)
	}
	days, rest := s[:i], s[i+1:]
	if days == "" || strings.Trim(days, "0123456789.") != "" || strings.Count(days, ".") > 1 ||
		strings.HasPrefix(days, ".") || strings.HasSuffix(days, ".") {
		return 0, errDurationSyntax
	}
	n, err := strconv.ParseFloat(days, 64)
	if err != nil || n*float64(24*time.Hour) >= math.MaxInt64 {
		return 0, errDurationSyntax
	}
	var total time.Duration
	if whole, err := strconv.ParseInt(days, 10, 64); err == nil {
		total = time.Duration(whole) * 24 * time.Hour // exact
	} else {
		total = time.Duration(n * float64(24*time.Hour))
	}
	if rest != "" {
		if strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return 0, errDurationSyntax
		}
		r, err := time.ParseDuration(rest)
		if err != nil || r > math.MaxInt64-total {
			return 0, errDurationSyntax
		}
		total += r
	}
	return total, nil
}
