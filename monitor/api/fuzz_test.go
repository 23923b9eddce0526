package api

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzRequest sends arbitrary request lines to a real server: whatever
// comes in, no panic (startServer's cleanup checks the log), no 5xx, and
// every answer from our handlers is a JSON error or a success.
func FuzzRequest(f *testing.F) {
	for _, seed := range [][2]string{
		{"GET", "/v1/status"},
		{"POST", "/v1/check?account=charter"},
		{"POST", "/v1/pause?for=1h&account=work"},
		{"POST", "/v1/pause?until=2099-01-01T08:00:00Z"},
		{"POST", "/v1/pause?for=%ff%00"},
		{"POST", "/v1/resume?account=%E2%80%AE"},
		{"GET", "/v1/events?x=1"},
		{"OPTIONS", "*"},
		{"GET", "http://other/v1/status"},
		{"GET", "/../../etc/passwd"},
		{"POST", "/v1/pause?for=9223372036854775807ns"},
		{"POST", "/v1/pause?until=9999-12-31T23:59:59Z"},
		{"PATCH", "/metrics?name[]=x"},
	} {
		f.Add(seed[0], seed[1])
	}
	s := startServer(f, newFakeEngine(), nil, nil)
	f.Fuzz(func(t *testing.T, method, target string) {
		if strings.ContainsAny(method+target, "\r\n") {
			t.Skip("a line break makes it another request, not this one")
		}
		conn, err := net.Dial("unix", s.path)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: smtpwatch\r\nConnection: close\r\n\r\n", method, target)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			return // net/http dropped a request it could not parse
		}
		if resp.StatusCode >= 500 {
			t.Errorf("%q %q: status %d", method, target, resp.StatusCode)
		}
		mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		if mt == "text/event-stream" {
			return // a stream: it would not end
		}
		if resp.StatusCode >= 400 && mt == "application/json" {
			var e errorBody
			if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&e); err != nil || e.Error == "" {
				t.Errorf("%q %q: %d with a bad JSON error: %v", method, target, resp.StatusCode, err)
			}
		}
	})
}
