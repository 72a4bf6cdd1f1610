package api

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
)

// addrCounts counts what each client address holds open, up to max each.
type addrCounts struct {
	max int
	mu  sync.Mutex // guards n
	n   map[string]int
}

func newAddrCounts(max int) *addrCounts {
	return &addrCounts{max: max, n: make(map[string]int)}
}

// take counts one more for addr, unless addr holds max already.
func (a *addrCounts) take(addr string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n[addr] >= a.max {
		return false
	}
	a.n[addr]++
	return true
}

// give uncounts one that take counted.
func (a *addrCounts) give(addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n[addr]--; a.n[addr] <= 0 {
		delete(a.n, addr)
	}
}

// tooManyAddrConns refuses a client address that holds max connections already.
func tooManyAddrConns(max int) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: "too_many_connections", RetryAfter: 5,
		Message: fmt.Sprintf("your address already holds %d connections, streams and requests under way here, the most this server allows one address; close some", max)}
}

// addrHold is one request's place in its address's count: given back when the request ends,
// or, for a stream, when the stream does.
type addrHold struct {
	counts *addrCounts
	addr   string
	kept   bool // a stream holds it; set and read by the request's goroutine
	once   sync.Once
}

func (h *addrHold) release() { h.once.Do(func() { h.counts.give(h.addr) }) }

const addrHoldKey = "addr_hold"

// capPerAddress refuses a request with 429 too_many_connections when its client address
// (c.RealIP: behind --trust-proxy, the forwarded one) already has MaxConnsPerIP requests
// under way and streams open, and any request on a TCP connection that capListener accepted
// over its address's cap, which it then closes.
func (s *Server) capPerAddress(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		max := s.cfg.Limits.MaxConnsPerIP
		if overCap(c.Request().Context()) {
			c.Response().Header().Set(echo.HeaderConnection, "close")
			return tooManyAddrConns(max)
		}
		if s.perAddr == nil {
			return next(c)
		}
		h := &addrHold{counts: s.perAddr, addr: c.RealIP()}
		if !s.perAddr.take(h.addr) {
			return tooManyAddrConns(max)
		}
		c.Set(addrHoldKey, h)
		defer func() {
			if !h.kept {
				h.release()
			}
		}()
		return next(c)
	}
}

// holdForStream keeps the request's place in its address's count until the returned function
// runs: a stream counts for as long as it is open, not only while its request is handled.
func holdForStream(c echo.Context) (release func()) {
	h, _ := c.Get(addrHoldKey).(*addrHold)
	if h == nil {
		return func() {}
	}
	h.kept = true
	return h.release
}
