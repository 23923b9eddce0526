package config

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultUIListen is the dashboard's address when the file names none:
// loopback, on a free port chosen at each start.
const DefaultUIListen = "127.0.0.1:0"

// checkUIListen checks a ui_listen address: a loopback IP address or
// "localhost", and a port from 0 (any free port) to 65535. The dashboard
// is for this computer alone; another address is refused, not warned
// about.
func checkUIListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid address %q: want a loopback host:port, like \"127.0.0.1:9926\"", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || strings.HasPrefix(port, "+") {
		return fmt.Errorf("invalid address %q: the port must be a number from 0 (any free port) to 65535", addr)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() || ip.Zone() != "" {
		return fmt.Errorf("%q is not a loopback address: the dashboard is served to this computer only; use 127.0.0.1:PORT or [::1]:PORT", addr)
	}
	return nil
}
