//go:build !linux

package smtptest

import "testing"

// Blackhole needs Linux's accept-queue behaviour; elsewhere the test skips.
func Blackhole(t testing.TB) string {
	t.Helper()
	t.Skip("smtptest: Blackhole needs Linux")
	return ""
}
