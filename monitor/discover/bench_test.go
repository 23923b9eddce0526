package discover

import (
	"net/http"
	"testing"
	"time"
)

// BenchmarkDiscoverSlowSources measures a discovery where every network
// source hangs (HTTP servers that never answer, DNS that never answers)
// under a 500 ms deadline: how long it takes, and by how much it overruns
// the deadline (overrun-ms).
//
//	go test -run '^$' -bench DiscoverSlowSources -benchtime 20x ./monitor/discover/
func BenchmarkDiscoverSlowSources(b *testing.B) {
	w := newWorld(b)
	hang := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	for _, h := range []string{"autoconfig.example.test", "example.test", "autoconfig.thunderbird.net"} {
		w.web.Handle(h, hang)
	}
	for _, n := range []string{"example.test", "_submissions._tcp.example.test", "_submission._tcp.example.test", "smtp.example.test", "mail.example.test"} {
		w.zone.Silence(n)
	}
	const deadline = 500 * time.Millisecond
	var worst time.Duration
	b.ResetTimer()
	for b.Loop() {
		res := w.discover("jo@example.test", deadline)
		worst = max(worst, res.Duration)
	}
	b.ReportMetric(float64(worst-deadline)/float64(time.Millisecond), "worst-overrun-ms")
}

// BenchmarkDiscoverProviderTable measures a discovery the provider table
// answers (gmail.com) while every network source hangs.
func BenchmarkDiscoverProviderTable(b *testing.B) {
	w := newWorld(b)
	for _, n := range []string{"gmail.com", "_submissions._tcp.gmail.com", "_submission._tcp.gmail.com", "smtp.gmail.com", "mail.gmail.com"} {
		w.zone.Silence(n)
	}
	for b.Loop() {
		w.discover("me@gmail.com", 5*time.Second)
	}
}

// BenchmarkDiscoverAutoconfig measures a discovery the provider's
// autoconfig answers on loopback while DNS hangs for the lower sources.
func BenchmarkDiscoverAutoconfig(b *testing.B) {
	w := newWorld(b)
	w.serve("autoconfig.example.test", 200, docFor("smtp.example.test", 465, "SSL", "password-cleartext"))
	for _, n := range []string{"example.test", "_submissions._tcp.example.test", "_submission._tcp.example.test", "smtp.example.test", "mail.example.test"} {
		w.zone.Silence(n)
	}
	for b.Loop() {
		w.discover("jo@example.test", 5*time.Second)
	}
}
