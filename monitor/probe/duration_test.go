package probe_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

// texts is every string of a result that a person may read.
func texts(r probe.Result) []string {
	out := append([]string{r.Message}, r.Advice...)
	out = append(out, r.Notes...)
	for _, w := range r.Warnings {
		out = append(out, w.Message)
	}
	for _, p := range r.Phases {
		out = append(out, p.Detail)
	}
	if r.SMTP != nil {
		out = append(out, r.SMTP.Message)
	}
	return out
}

// goDuration matches time.Duration's own format ("333.333333ms", "2.666666666s",
// "1m0s"): a number glued to its unit. human.Duration puts a space between.
var goDuration = regexp.MustCompile(`[0-9](ns|µs|us|ms|s|m|h)([^a-z]|$)`)

// Durations a person reads are rounded and spaced ("333 ms"), whatever the
// timeout: a 1 s check gives its stages a third of it, 333.333333 ms, which
// time.Duration.String would print in full.
func TestDurationsAreRounded(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name   string
		addr   func(t *testing.T) string
		target func(*probe.Target)
		cause  probe.Cause
	}{
		{"silent server", func(t *testing.T) string { return smtptest.Start(t, smtptest.Options{Handler: smtptest.Silent}).Addr }, nil, probe.CauseGreetingTimeout},
		{"trickling greeting", func(t *testing.T) string {
			return smtptest.Start(t, smtptest.Options{Handler: smtptest.Trickle(20 * time.Millisecond)}).Addr
		}, nil, probe.CauseGreetingTimeout},
		{"dropped connection", func(t *testing.T) string { return smtptest.Blackhole(t) }, nil, probe.CauseConnectionTimeout},
		{"slow server", func(t *testing.T) string {
			return smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Users: users, Delay: 50 * time.Millisecond}).Addr
		}, func(tg *probe.Target) { tg.SlowThreshold = 100 * time.Millisecond / 3 }, probe.CauseSlowResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tg := f.target(tc.addr(t), probe.SecurityStartTLS)
			tg.Timeout = time.Second
			if tc.target != nil {
				tc.target(&tg)
			}
			r := probe.Probe(context.Background(), tg, f.deps())
			if r.Cause != tc.cause {
				t.Fatalf("cause %s, want %s: %s", r.Cause, tc.cause, r.Message)
			}
			for _, s := range texts(r) {
				if goDuration.MatchString(s) {
					t.Errorf("unrounded duration in %q", s)
				}
			}
		})
	}
}
