package smtptest

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// Greet is a Handler that sends one line (CRLF added) and closes: a 421 or
// 554 greeting, or a web server's answer on a mail port.
func Greet(line string) func(net.Conn) {
	return func(c net.Conn) {
		_, _ = io.WriteString(c, line+"\r\n")
		drain(c, time.Second)
	}
}

// Silent is a Handler that accepts and never says anything, until the client
// or the server's Close ends the connection.
func Silent(c net.Conn) { drain(c, time.Minute) }

// Trickle is a Handler that sends an endless greeting one byte at a time,
// every interval: a server that never finishes a line.
func Trickle(interval time.Duration) func(net.Conn) {
	return func(c net.Conn) {
		msg := "220 " + strings.Repeat("slow ", 10000)
		for i := 0; i < len(msg); i++ {
			if _, err := c.Write([]byte{msg[i]}); err != nil {
				return
			}
			time.Sleep(interval)
		}
	}
}

// Flood is a Handler that sends a greeting with endless continuation lines,
// up to limit bytes.
func Flood(limit int) func(net.Conn) {
	return func(c net.Conn) {
		line := []byte("220-" + strings.Repeat("x", 70) + "\r\n")
		for n := 0; n < limit; n += len(line) {
			if _, err := c.Write(line); err != nil {
				return
			}
		}
	}
}

// Script is a Handler that plays a plaintext conversation: it sends the
// greeting, then for each command line the client sends, the reply of the
// first rule whose prefix matches (case-insensitively); "QUIT" ends it. A
// reply may hold several lines separated by "\n", and "{line}" in a reply
// stands for the command line it answers, as a hostile server would quote
// it back.
func Script(greeting string, rules ...[2]string) func(net.Conn) {
	return func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		w := func(s string) bool {
			_, err := io.WriteString(c, strings.ReplaceAll(s, "\n", "\r\n")+"\r\n")
			return err == nil
		}
		if !w(greeting) {
			return
		}
		br := bufio.NewReader(c)
		for i := 0; i < 100; i++ {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSpace(line)
			reply := "500 5.5.2 unknown command"
			for _, r := range rules {
				if strings.HasPrefix(strings.ToUpper(line), strings.ToUpper(r[0])) {
					reply = strings.ReplaceAll(r[1], "{line}", line)
					break
				}
			}
			if strings.EqualFold(line, "QUIT") {
				w("221 2.0.0 bye")
				return
			}
			if !w(reply) {
				return
			}
		}
	}
}

func drain(c net.Conn, max time.Duration) {
	_ = c.SetReadDeadline(time.Now().Add(max))
	_, _ = io.Copy(io.Discard, c)
}

// ClosedPort returns a loopback address where nothing listens: connecting
// gets "connection refused".
func ClosedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Online returns a loopback address that accepts connections and closes
// them: the daemon's "am I online" reference (online.targets) in tests, so
// that the machine counts as online and no check looks beyond 127.0.0.1.
func Online(t testing.TB) string {
	t.Helper()
	return Start(t, Options{Handler: func(net.Conn) {}}).Addr
}
