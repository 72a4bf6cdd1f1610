package db

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// deadlineConn is a socket to PostgreSQL whose every read and write gives up when the database
// call it serves is over: when the call's context is cancelled or reaches its deadline, and in
// any case when the server has sent nothing for stall. lib/pq cannot do this itself: it
// cancels a query by sending a CancelRequest on a new connection, which a stopped server never
// reads, while the query's own read blocks until the server answers. A read that gives up
// here returns a *net.OpError, which makes lib/pq mark the connection bad, and the connection
// reports itself broken from then on, so the pool discards it.
//
// A pgConn tells it which call is under way (use); lib/pq does the reading and writing, one
// call at a time, and its own deadlines (connect_timeout) are kept as well.
type deadlineConn struct {
	net.Conn
	stall  time.Duration
	broken atomic.Bool // a read or write failed: the protocol's state is unknown

	mu        sync.Mutex      // guards the fields below and the deadlines set on Conn
	call      context.Context // the call under way; nil: none
	unbounded bool            // the call waits as long as its context says, however long
	gen       uint64          // counts calls, so that a late cancellation spares the next
	stop      func() bool     // unregisters the call's cancellation
	readBy    time.Time       // lib/pq's own read deadline
	writeBy   time.Time       // lib/pq's own write deadline
}

// longAwaitedKey marks a context whose database calls may wait without the stall bound.
type longAwaitedKey struct{}

// longAwaited returns ctx for database calls that may legitimately wait long for the server,
// such as migrations (which wait for another node's, and may rewrite large tables): only
// ctx's own deadline bounds them.
func longAwaited(ctx context.Context) context.Context {
	return context.WithValue(ctx, longAwaitedKey{}, true)
}

// longAgo is a deadline that has passed.
var longAgo = time.Unix(1, 0)

// use makes ctx the call under way (nil: none): a read or write in progress gives up when ctx
// ends, and later ones start with its deadline.
func (c *deadlineConn) use(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stop != nil {
		c.stop()
		c.stop = nil
	}
	c.gen++
	c.call, c.unbounded = ctx, ctx != nil && ctx.Value(longAwaitedKey{}) != nil
	if ctx == nil {
		return
	}
	gen := c.gen
	c.stop = context.AfterFunc(ctx, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.gen == gen {
			c.Conn.SetDeadline(longAgo)
		}
	})
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	err := c.Conn.SetReadDeadline(c.deadline(c.readBy))
	c.mu.Unlock()
	n := 0
	if err == nil {
		n, err = c.Conn.Read(b)
	}
	return n, c.failed("read", err)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	err := c.Conn.SetWriteDeadline(c.deadline(c.writeBy))
	c.mu.Unlock()
	n := 0
	if err == nil {
		n, err = c.Conn.Write(b)
	}
	return n, c.failed("write", err)
}

// deadline returns when an operation starting now gives up: the earliest of own (lib/pq's
// deadline, if any), the call's deadline, and stall from now. It is in the past once the call
// has ended.
func (c *deadlineConn) deadline(own time.Time) time.Time {
	by := own
	earlier := func(t time.Time) {
		if by.IsZero() || t.Before(by) {
			by = t
		}
	}
	if !c.unbounded {
		earlier(time.Now().Add(c.stall))
	}
	if c.call != nil {
		if c.call.Err() != nil {
			return longAgo
		}
		if d, ok := c.call.Deadline(); ok {
			earlier(d)
		}
	}
	return by
}

// failed marks the connection broken after an error, and says why a read or write that ran
// out of time gave up: the call's context ended, or the server did not answer in time.
func (c *deadlineConn) failed(op string, err error) error {
	if err == nil {
		return nil
	}
	c.broken.Store(true)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	c.mu.Lock()
	call := c.call
	c.mu.Unlock()
	cause := fmt.Errorf("the database server did not answer in time (waiting at most %s): %w", c.stall, err)
	if call != nil {
		if d, ok := call.Deadline(); call.Err() != nil || ok && !time.Now().Before(d) {
			cause = context.DeadlineExceeded
			if call.Err() != nil {
				cause = call.Err()
			}
		}
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: cause}
}

// SetDeadline, SetReadDeadline and SetWriteDeadline record lib/pq's own deadlines, which every
// later read or write honours along with the call's.
func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readBy, c.writeBy = t, t
	return c.Conn.SetDeadline(t)
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.readBy = t
	return c.Conn.SetReadDeadline(t)
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writeBy = t
	return c.Conn.SetWriteDeadline(t)
}
