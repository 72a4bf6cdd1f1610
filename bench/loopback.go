package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// checkLoopback refuses any address that is not on the loopback interface: the load
// generator never sends traffic off this machine.
func checkLoopback(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", raw, err)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("%q names no host", raw)
	}
	if strings.EqualFold(host, "localhost") {
		return u, nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("refusing %q: the load generator only drives loopback addresses (127.0.0.0/8, ::1, localhost)", host)
	}
	return u, nil
}
