package probe_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"smtpwatch/monitor/credential"
	"smtpwatch/monitor/probe"
	"smtpwatch/monitor/smtptest"
)

// commands extracts the client's command verbs from go-smtp's server log,
// which is decrypted, so the whole conversation is visible.
func commands(log string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || (line[0] >= '0' && line[0] <= '9') {
			continue // a server reply
		}
		verb, _, _ := strings.Cut(line, " ")
		out = append(out, strings.ToUpper(verb))
	}
	return out
}

// roundTrips counts the times a client waits for the server: each
// connection it opens (the TCP handshake) and each read that follows a
// write. A client that sends QUIT and closes does not wait for the 221.
type roundTrips struct{ n atomic.Int32 }

func (rt *roundTrips) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	rt.n.Add(1)
	return &waitConn{Conn: c, rt: rt}, nil
}

type waitConn struct {
	net.Conn
	rt    *roundTrips
	mu    sync.Mutex
	wrote bool // a write since the last read: the next read waits for an answer
}

func (c *waitConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.wrote = true
	c.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *waitConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	if c.wrote {
		c.rt.n.Add(1)
		c.wrote = false
	}
	c.mu.Unlock()
	return c.Conn.Read(b)
}

// A full STARTTLS + AUTH probe costs exactly the commands the protocol
// needs: EHLO, STARTTLS, EHLO again (RFC 3207 requires it), one AUTH with
// its initial response, QUIT. It waits for the TCP handshake, for each of
// those replies but QUIT's, and once for the TLS 1.3 handshake: 6 round
// trips in all (7 when it waited for the 221).
func TestFullProbeCommandSequence(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name       string
		opt        smtptest.Options
		sec        probe.Security
		skip       bool
		want       string
		roundTrips int32
	}{
		{"starttls+auth", smtptest.Options{Users: users}, probe.SecurityStartTLS, false, "EHLO STARTTLS EHLO AUTH QUIT", 6},
		{"implicit tls+auth", smtptest.Options{Users: users, Implicit: true}, probe.SecurityTLS, false, "EHLO AUTH QUIT", 5},
		{"starttls connectivity only", smtptest.Options{Users: users}, probe.SecurityStartTLS, true, "EHLO STARTTLS QUIT", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opt.Cert = f.cert(t, smtptest.Leaf{})
			srv := smtptest.Start(t, tc.opt)
			tg := f.target(srv.Addr, tc.sec)
			tg.SkipAuth = tc.skip
			var rt roundTrips
			d := f.deps()
			d.Dial = rt.dial
			r := probe.Probe(context.Background(), tg, d)
			if r.Cause != probe.CauseOK {
				t.Fatalf("cause %s: %s", r.Cause, r.Message)
			}
			if n := rt.n.Load(); n != tc.roundTrips {
				t.Errorf("%d round trips, want %d", n, tc.roundTrips)
			}
			if p, ok := r.Phase(probe.PhaseQuit); !ok || !p.OK || !strings.Contains(p.Detail, "QUIT sent") {
				t.Errorf("quit phase %+v, want QUIT reported as sent", p)
			}
			if !srv.Idle(5 * time.Second) {
				t.Fatal("the server still holds the connection")
			}
			if got := strings.Join(commands(srv.Log()), " "); got != tc.want {
				t.Errorf("commands %q, want %q", got, tc.want)
			}
		})
	}
}

// Nothing resembling AUTH crosses the wire before TLS: on a STARTTLS server
// the plaintext part ends with STARTTLS and a TLS ClientHello follows; on a
// server that offers AUTH without TLS, no AUTH is sent at all.
func TestNoAuthBeforeTLS(t *testing.T) {
	f := newFixture(t)

	srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Users: users, AllowInsecureAuth: true})
	if r := probe.Probe(context.Background(), f.target(srv.Addr, probe.SecurityStartTLS), f.deps()); !r.AuthVerified {
		t.Fatalf("cause %s: %s", r.Cause, r.Message)
	}
	wire := srv.Received()[0]
	i := bytes.Index(wire, []byte("STARTTLS\r\n"))
	if i < 0 {
		t.Fatalf("no STARTTLS on the wire: %q", wire)
	}
	if bytes.Contains(bytes.ToUpper(wire[:i]), []byte("AUTH")) {
		t.Errorf("AUTH before STARTTLS: %q", wire[:i])
	}
	if rest := wire[i+len("STARTTLS\r\n"):]; len(rest) == 0 || rest[0] != 0x16 {
		t.Errorf("after STARTTLS the client sent %q, want a TLS handshake record", rest[:min(len(rest), 16)])
	}

	plain := smtptest.Start(t, smtptest.Options{Users: users, AllowInsecureAuth: true})
	for _, sec := range []probe.Security{probe.SecurityNone, probe.SecurityStartTLS, probe.SecurityAuto} {
		r := probe.Probe(context.Background(), f.target(plain.Addr, sec), f.deps())
		if r.AuthVerified {
			t.Errorf("%s: authenticated over plaintext", sec)
		}
	}
	for _, w := range plain.Received() {
		if bytes.Contains(bytes.ToUpper(w), []byte("AUTH")) || bytes.Contains(w, []byte(password)) {
			t.Errorf("sent over plaintext: %q", w)
		}
	}
	if n := plain.AuthAttempts.Load(); n != 0 {
		t.Errorf("%d AUTH attempts reached a plaintext server", n)
	}
}

// A rejected password is tried exactly once per probe: no second mechanism,
// no retry that could lock the account.
func TestRejectedPasswordIsSentOnce(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Users: users})
	tg := f.target(srv.Addr, probe.SecurityStartTLS)
	tg.Password = credential.NewSecret("wrong")
	r := probe.Probe(context.Background(), tg, f.deps())
	if r.Cause != probe.CauseAuthRejected {
		t.Fatalf("cause %s", r.Cause)
	}
	if n := srv.AuthAttempts.Load(); n != 1 {
		t.Errorf("%d AUTH attempts, want exactly 1", n)
	}
	// Nothing after the rejection but QUIT, and the server reads it: no
	// stray SASL abort ("*"), which is valid only mid-exchange and which
	// Postfix takes as a non-SMTP command and hangs up on.
	if !srv.Idle(5 * time.Second) {
		t.Fatal("the server still holds the connection")
	}
	if got := strings.Join(commands(srv.Log()), " "); got != "EHLO STARTTLS EHLO AUTH QUIT" {
		t.Errorf("commands %q, want EHLO STARTTLS EHLO AUTH QUIT", got)
	}
	if p, ok := r.Phase(probe.PhaseQuit); !ok || !p.OK {
		t.Errorf("quit phase %+v: QUIT must still be sent", p)
	}
}

// The password appears nowhere a probe's outcome can be printed: the result
// in every form, the target in every fmt verb, slog records.
func TestPasswordNeverPrinted(t *testing.T) {
	f := newFixture(t)
	srv := smtptest.Start(t, smtptest.Options{Cert: f.cert(t, smtptest.Leaf{}), Users: users})
	forms := func(r probe.Result, tg probe.Target) []string {
		j, _ := json.Marshal(r)
		var logs bytes.Buffer
		l := slog.New(slog.NewJSONHandler(&logs, nil))
		l.Info("probe", "target", tg, "password", tg.Password, "result", r)
		sl := slog.New(slog.NewTextHandler(&logs, nil))
		sl.Info("probe", "target", tg, "password", tg.Password)
		return []string{string(j), fmt.Sprintf("%v %+v %#v %s %q %x", tg, tg, tg, tg.Password, tg.Password, tg.Password), logs.String(), fmt.Sprint(r)}
	}
	for _, pw := range []string{password, "wrong-Pa55word!"} {
		tg := f.target(srv.Addr, probe.SecurityStartTLS)
		tg.Password = credential.NewSecret(pw)
		r := probe.Probe(context.Background(), tg, f.deps())
		b64 := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw))
		for i, s := range forms(r, tg) {
			if strings.Contains(s, pw) || strings.Contains(s, b64) {
				t.Errorf("form %d leaks the password: %s", i, s)
			}
		}
	}
}

// After probes of every kind, success and failure alike, DNS lookups
// included, no goroutine and no file descriptor survives. The servers live
// in a subtest whose cleanup waits for all of their goroutines, so what
// remains after it is the probe's. A goroutine that has handed over its
// result may still be on its way out when Probe returns, so the counts get
// a bounded moment to settle; one that is blocked never does.
func TestNoLeaks(t *testing.T) {
	f := newFixture(t)
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	t.Run("probes", func(t *testing.T) {
		good := f.cert(t, smtptest.Leaf{})
		rogue := f.rogue.Issue(t, smtptest.Leaf{})
		implicit := smtptest.Start(t, smtptest.Options{Cert: good, Users: users, Implicit: true})
		starttls := smtptest.Start(t, smtptest.Options{Cert: good, Users: users})
		dns := smtptest.StartDNS(t, map[string][]net.IP{"mail.example.test": {net.IPv4(127, 0, 0, 1)}}, "silent.example.test")
		type probeCase struct {
			addr    string
			sec     probe.Security
			server  string // a name to look up instead of the address's IP
			resolve probe.ResolveFunc
		}
		cases := []probeCase{
			{addr: starttls.Addr, sec: probe.SecurityStartTLS},
			{addr: implicit.Addr, sec: probe.SecurityStartTLS}, // wrong mode, found by the sniff
			{addr: smtptest.Start(t, smtptest.Options{Handler: smtptest.Silent}).Addr, sec: probe.SecurityStartTLS},
			{addr: smtptest.Start(t, smtptest.Options{Handler: smtptest.Greet("421 4.3.2 go away")}).Addr, sec: probe.SecurityTLS},
			{addr: smtptest.Start(t, smtptest.Options{Handler: smtptest.Trickle(20 * time.Millisecond)}).Addr, sec: probe.SecurityAuto},
			{addr: smtptest.Start(t, smtptest.Options{Handler: smtptest.Flood(1 << 20)}).Addr, sec: probe.SecurityStartTLS},
			{addr: smtptest.ClosedPort(t), sec: probe.SecurityStartTLS},
			{addr: smtptest.Blackhole(t), sec: probe.SecurityStartTLS},
			{addr: smtptest.Start(t, smtptest.Options{Cert: good, Users: users, MaxTLSVersion: 0x0302}).Addr, sec: probe.SecurityStartTLS},
			{addr: smtptest.Start(t, smtptest.Options{Users: users, AllowInsecureAuth: true}).Addr, sec: probe.SecurityNone},
			{addr: smtptest.Start(t, smtptest.Options{Cert: good, Users: map[string]string{"x": "y"}}).Addr, sec: probe.SecurityStartTLS},
			{addr: smtptest.Start(t, smtptest.Options{Cert: &rogue}).Addr, sec: probe.SecurityStartTLS},
			// Lookups: a name that resolves, one whose name server never
			// answers (the lookup is cancelled), one that does not exist,
			// and localhost through the default resolver (/etc/hosts).
			{addr: starttls.Addr, sec: probe.SecurityStartTLS, server: "mail.example.test", resolve: dns.LookupHost},
			{addr: starttls.Addr, sec: probe.SecurityStartTLS, server: "silent.example.test", resolve: dns.LookupHost},
			{addr: starttls.Addr, sec: probe.SecurityStartTLS, server: "nosuch.example.test", resolve: dns.LookupHost},
			{addr: starttls.Addr, sec: probe.SecurityStartTLS, server: "mail.example.test", resolve: dns.Resolver().LookupIPAddr},
			{addr: smtptest.ClosedPort(t), sec: probe.SecurityStartTLS, server: "localhost"},
		}
		for _, c := range cases {
			tg := f.target(c.addr, c.sec)
			tg.Timeout = 1500 * time.Millisecond
			d := f.deps()
			d.Alternatives = []probe.Alternative{{Port: implicit.Port, Security: probe.SecurityTLS}}
			if c.server != "" {
				tg.Server, d.Resolve = c.server, c.resolve
			}
			probe.Probe(context.Background(), tg, d)
		}
	})
	g, fd := settle(baseG, baseFD)
	if g > baseG || fd > baseFD {
		buf := make([]byte, 1<<16)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutines %d (baseline %d), fds %d (baseline %d)\n%s", g, baseG, fd, baseFD, buf[:n])
	}
}

// settle waits, for at most 5 s, until no more than g goroutines run and
// fd files are open, and returns the last counts.
func settle(g, fd int) (int, int) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ng, nfd := runtime.NumGoroutine(), countFDs()
		if ng <= g && nfd <= fd || time.Now().After(deadline) {
			return ng, nfd
		}
		time.Sleep(10 * time.Millisecond) // bounded polling: goroutines end on their own
	}
}

func countFDs() int {
	entries, _ := os.ReadDir("/proc/self/fd")
	return len(entries)
}

func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(entries)
}
