package api

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"syscall"
)

// capListener counts the TCP connections each remote address holds open. One over the cap is
// accepted all the same, marked, so that its first request is answered 429 rather than left
// without a word; it counts for nothing. Behind a proxy every connection comes from the proxy:
// Start uses it only without --trust-proxy.
type capListener struct {
	net.Listener
	counts *addrCounts
}

func (l capListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nc, err
	}
	addr := nc.RemoteAddr().String()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	if !l.counts.take(addr) {
		return &countedConn{Conn: nc, over: true}, nil
	}
	return &countedConn{Conn: nc, release: func() { l.counts.give(addr) }}, nil
}

// countedConn is a connection capListener counts until it is closed, hijacked or not.
type countedConn struct {
	net.Conn
	over    bool   // accepted over its address's cap
	release func() // nil when over
	once    sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	if c.release != nil {
		c.once.Do(c.release)
	}
	return err
}

// SyscallConn reaches the socket, which the stream writers write to without blocking.
func (c *countedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// CloseWrite half-closes the socket, as net/http does before closing a connection whose
// client may still be sending.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// SetLinger sets the socket's SO_LINGER, as the stream writers do to reset a stalled client.
func (c *countedConn) SetLinger(sec int) error {
	if l, ok := c.Conn.(interface{ SetLinger(int) error }); ok {
		return l.SetLinger(sec)
	}
	return errors.ErrUnsupported
}

type overCapKey struct{}

// markOverCap is the HTTP server's ConnContext: the requests of a connection capListener
// accepted over its address's cap carry a mark that capPerAddress refuses.
func markOverCap(ctx context.Context, nc net.Conn) context.Context {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	if cc, ok := nc.(*countedConn); ok && cc.over {
		return context.WithValue(ctx, overCapKey{}, true)
	}
	return ctx
}

func overCap(ctx context.Context) bool { return ctx.Value(overCapKey{}) != nil }
