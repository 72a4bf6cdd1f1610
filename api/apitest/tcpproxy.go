package apitest

import (
	"net"
	"sync"
	"testing"
)

// TCPProxy forwards TCP connections to a target, such as the test database, and fails them
// the two ways a server fails: cut (every connection dropped and new ones refused, as when
// the server is down) and frozen (every connection kept open and nothing forwarded either
// way, as when its process is stopped: the sockets still accept what is sent to them).
type TCPProxy struct {
	ln     net.Listener
	target string
	closed chan struct{} // closed when the test ends

	mu     sync.Mutex // guards the fields below
	down   bool
	frozen bool
	thawed chan struct{} // closed while not frozen
	conns  map[net.Conn]struct{}
}

// NewTCPProxy starts a proxy to target (host:port), stopped when t ends.
func NewTCPProxy(t testing.TB, target string) *TCPProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &TCPProxy{ln: ln, target: target, closed: make(chan struct{}), thawed: make(chan struct{}),
		conns: make(map[net.Conn]struct{})}
	close(p.thawed)
	t.Cleanup(p.close)
	go p.accept()
	return p
}

// Addr is where the proxy listens, host:port.
func (p *TCPProxy) Addr() string { return p.ln.Addr().String() }

// Cut drops every connection and refuses new ones until Restore.
func (p *TCPProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	p.closeConns()
}

// Restore accepts connections again after Cut.
func (p *TCPProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// Freeze stops forwarding until Thaw: what either side sends is held, connections stay open
// and new ones are accepted, but nothing reaches the other side.
func (p *TCPProxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.frozen {
		p.frozen, p.thawed = true, make(chan struct{})
	}
}

// Thaw forwards again, starting with what was held.
func (p *TCPProxy) Thaw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.frozen = false
		close(p.thawed)
	}
}

func (p *TCPProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go p.forward(s, c)
		go p.forward(c, s)
	}
}

// forward copies src to dst, holding what it read while the proxy is frozen. The end of src
// (or its failure) reaches dst only when thawed, as a stopped server reads it only on resuming.
func (p *TCPProxy) forward(dst, src net.Conn) {
	defer func() {
		dst.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if !p.waitThawed() {
			return
		}
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// waitThawed waits while the proxy is frozen; false when it was closed meanwhile.
func (p *TCPProxy) waitThawed() bool {
	p.mu.Lock()
	thawed := p.thawed
	p.mu.Unlock()
	select {
	case <-thawed:
		return true
	case <-p.closed:
		return false
	}
}

func (p *TCPProxy) closeConns() {
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *TCPProxy) close() {
	close(p.closed)
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	p.closeConns()
}
