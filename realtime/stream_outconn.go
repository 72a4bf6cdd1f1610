package realtime

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// outConn is a stream's connection as its writers see it: a write never waits. What the
// socket does not take at once is kept, and a goroutine started for it writes the rest within
// the write timeout; until it has, later writes queue behind it and busy reports true, so the
// pump leaves events in the outbox, where a stalled client's overflow is noticed as before.
// Every stream's writes can so run on the shared writers (stream_writers.go): no goroutine and no
// deadline per batch. Every write passes through mu, whole, so bytes reach the socket in the
// order and the pieces they were written in, also when a WebSocket's pong from another
// goroutine arrives during a batch.
type outConn struct {
	net.Conn
	raw     syscall.RawConn // nil: the connection is no socket (TLS, a test pipe); writes wait
	timeout time.Duration   // for a kept write; 0: none
	drained atomic.Pointer[func()]
	aborted atomic.Bool

	mu       sync.Mutex
	flushing bool       // a goroutine is writing buf out (beside mu and aborted: no padding word)
	idle     *sync.Cond // signalled when a flush ends; made by the first wait that needs it
	buf      []byte     // what the socket did not take, and what was written after it
	err      error      // the first failure; every later write returns it
}

// errWouldWait is never returned to callers; it marks a socket that takes no more for now.
var errWouldWait = errors.New("socket would block")

func newOutConn(nc net.Conn, timeout time.Duration) *outConn {
	c := &outConn{}
	c.attach(nc, timeout)
	return c
}

// attach makes nc the connection written to.
func (c *outConn) attach(nc net.Conn, timeout time.Duration) {
	c.Conn, c.timeout = nc, timeout
	if sc, ok := nc.(syscall.Conn); ok && rawWrites {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
		}
	}
}

// nonBlocking reports whether writes never wait, so that a shared writer may make them.
func (c *outConn) nonBlocking() bool { return c.raw != nil }

// onDrained sets what runs when a kept write has gone out (or failed): the pump continues.
// fn points into its owner (a pump's field): the connection allocates nothing for it.
func (c *outConn) onDrained(fn *func()) { c.drained.Store(fn) }

// Write sends p, or keeps it: behind a flush, or what the socket did not take. It fails only
// with an earlier failure.
func (c *outConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.flushing {
		c.keep(p)
		return len(p), nil
	}
	c.writeLocked(p)
	if c.err != nil {
		return 0, c.err
	}
	return len(p), nil
}

// busy reports whether kept bytes are still going out.
func (c *outConn) busy() bool {
	busy, _ := c.state()
	return busy
}

// state reports whether kept bytes are still going out, and the failure that ended writing,
// if one did (a kept write that timed out on a stalled client).
func (c *outConn) state() (busy bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushing, c.err
}

// wait returns once nothing kept is left to write, and the first failure if any.
func (c *outConn) wait() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.flushing {
		if c.idle == nil {
			c.idle = sync.NewCond(&c.mu)
		}
		c.idle.Wait()
	}
	return c.err
}

// abort breaks off a write blocked on a stalled client, and every write after it.
func (c *outConn) abort() {
	c.aborted.Store(true)
	_ = c.Conn.SetWriteDeadline(time.Unix(1, 0))
}

// Close closes the connection. One given up on — aborted, a write timed out, or bytes still
// kept for it — is reset rather than closed in order (nginx's reset_timedout_connection): the
// kernel drops what the client never read at once, instead of holding it in a closed socket
// and probing the client's zero window for minutes. The client resumes from the last event it
// read.
func (c *outConn) Close() error {
	c.mu.Lock()
	stalled := c.aborted.Load() || c.flushing || errors.Is(c.err, os.ErrDeadlineExceeded)
	c.mu.Unlock()
	if stalled {
		resetOnClose(c.Conn)
	}
	return c.Conn.Close()
}

// resetOnClose makes closing nc send a reset (SO_LINGER 0), where nc is TCP (or TLS over it)
// or wraps it with SetLinger.
func resetOnClose(nc net.Conn) {
	if tc, ok := nc.(interface{ NetConn() net.Conn }); ok {
		nc = tc.NetConn()
	}
	if l, ok := nc.(interface{ SetLinger(int) error }); ok {
		_ = l.SetLinger(0)
	}
}

func (c *outConn) keep(p []byte) {
	if c.buf == nil {
		c.buf = getBuf()
	}
	c.buf = append(c.buf, p...)
}

// writeLocked writes b without waiting; what the socket does not take is kept and a flush
// starts. b may be the caller's; it is not retained.
func (c *outConn) writeLocked(b []byte) {
	if c.raw == nil {
		c.err = c.writeWaiting(b)
		return
	}
	n, err := c.tryWrite(b)
	switch {
	case errors.Is(err, errWouldWait):
		c.keep(b[n:])
		c.flushing = true
		go c.flush()
	case err != nil:
		c.err = err
	}
}

// tryWrite makes one write(2) that does not wait: n bytes went out, and errWouldWait says the
// socket took no more. A passed deadline (abort) fails it.
func (c *outConn) tryWrite(b []byte) (n int, err error) {
	if c.aborted.Load() {
		return 0, errAborted
	}
	var werr error
	rerr := c.raw.Write(func(fd uintptr) bool {
		for {
			n, werr = writeFD(fd, b)
			if werr != syscall.EINTR {
				return true // never wait for the socket here: that is flush's job
			}
		}
	})
	if rerr != nil {
		return 0, rerr
	}
	n = max(n, 0)
	switch {
	case werr == syscall.EAGAIN || (werr == nil && n < len(b)):
		return n, errWouldWait
	case werr != nil:
		return n, werr
	}
	return n, nil
}

// flush writes what is kept, waiting for the socket within the timeout, until nothing is
// left; then the pump is told.
func (c *outConn) flush() {
	for {
		c.mu.Lock()
		b := c.buf
		if len(b) == 0 || c.err != nil {
			// Fast writes run without a deadline. Cleared before flushing ends: once it has,
			// the next flush may set its own, which this must not undo.
			if c.timeout > 0 && !c.aborted.Load() {
				_ = c.Conn.SetWriteDeadline(time.Time{})
			}
			c.buf, c.flushing = nil, false
			if c.idle != nil {
				c.idle.Broadcast()
			}
			c.mu.Unlock()
			if b != nil {
				putBuf(b)
			}
			if fn := c.drained.Load(); fn != nil {
				(*fn)()
			}
			return
		}
		c.buf = nil
		c.mu.Unlock()
		err := c.writeWaiting(b)
		putBuf(b)
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
		}
	}
}

// writeWaiting writes b, waiting for the socket within the timeout.
func (c *outConn) writeWaiting(b []byte) error {
	if c.timeout > 0 {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	if c.aborted.Load() { // an abort between the check and the write set the deadline first
		return errAborted
	}
	_, err := c.Conn.Write(b)
	return err
}
