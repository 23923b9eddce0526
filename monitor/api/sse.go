package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"smtpwatch/monitor/health"
)

// maxEventBytes bounds one line of an event stream the client reads.
const maxEventBytes = 1 << 20

// events streams the engine's events as Server-Sent Events until the
// client leaves, the engine closes the channel or the server stops. The
// subscription is in place before the response headers go out, so a client
// that has the headers gets every event published after.
func (h *handler) events(w http.ResponseWriter, r *http.Request, _ url.Values) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel() // ends the subscription when the stream ends for any reason
	ch := h.engine.Subscribe(ctx)

	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	send := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(h.o.writeTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send(nil) { // the headers
		return
	}
	tick := time.NewTicker(h.o.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-ch:
			if !ok {
				return
			}
			b, err := encodeEvent(ev)
			if err != nil {
				h.log.Error("api: encoding an event", "err", err)
				continue
			}
			if !send(b) {
				return
			}
		case <-tick.C:
			if !send([]byte(": heartbeat\n\n")) {
				return
			}
		}
	}
}

// encodeEvent is one event in the stream: "event: KIND\ndata: JSON\n\n".
// JSON has no raw newlines; the kind loses any, so an event cannot break
// the framing.
func encodeEvent(ev health.Event) ([]byte, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	kind := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, string(ev.Kind))
	var b bytes.Buffer
	if kind != "" {
		b.WriteString("event: " + kind + "\n")
	}
	b.WriteString("data: ")
	b.Write(data)
	b.WriteString("\n\n")
	return b.Bytes(), nil
}

// readEvents parses an event stream from r and sends each event on out
// until r ends, fails or ctx ends. Comments (heartbeats), events whose
// data is not a health.Event and events over maxEventBytes are skipped; an event without a kind in its
// data takes the "event:" field's.
func readEvents(ctx context.Context, r io.Reader, out chan<- health.Event) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxEventBytes)
	var name string
	var data []string
	size, tooBig := 0, false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if len(data) > 0 && !tooBig {
				var ev health.Event
				if json.Unmarshal([]byte(strings.Join(data, "\n")), &ev) == nil {
					if ev.Kind == "" {
						ev.Kind = health.EventKind(name)
					}
					select {
					case out <- ev:
					case <-ctx.Done():
						return
					}
				}
			}
			name, data, size, tooBig = "", nil, 0, false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			name = value
		case "data":
			if size += len(value); size > maxEventBytes {
				tooBig, data = true, nil // skip the rest of this event
			}
			if !tooBig {
				data = append(data, value)
			}
		}
	}
}
