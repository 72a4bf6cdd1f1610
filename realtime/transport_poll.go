package realtime

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// pollState is what a long-poll connection keeps between requests.
type pollState struct {
	mu      sync.Mutex // held by the request currently waiting
	cancel  atomic.Pointer[chan struct{}]
	timer   *time.Timer   // the linger: the connection ends when nobody polls within it; set in Connect
	timeout time.Duration // how long a request waits, announced in connected
}

// ErrCursorMismatch is returned by Poll when the client's cursor is not where the connection
// left off (a response was lost): the client must resume from its cursor instead.
var ErrCursorMismatch = errors.New("cursor is not the connection's")

// ErrNotPoll is returned by Poll on a connection that is no long-poll one.
var ErrNotPoll = errors.New("not a long-poll connection")

// Poll waits up to wait for messages on a long-poll connection and returns at most max of them
// with the cursor after them. It returns as soon as there is at least one message. A poll
// that arrives while another is waiting makes the older one return empty at once. Once the
// connection has delivered anything, expect must be the cursor it returned last (a client that
// lost a response presents an older one, or none): otherwise Poll returns ErrCursorMismatch.
func (c *Conn) Poll(ctx context.Context, wait time.Duration, max int, expect string) ([]Message, string, error) {
	if c.poll == nil {
		return nil, "", ErrNotPoll
	}
	mine := make(chan struct{})
	if prev := c.poll.cancel.Swap(&mine); prev != nil {
		close(*prev)
	}
	c.poll.mu.Lock()
	defer c.poll.mu.Unlock()
	if c.cons.started && expect != c.Cursor() {
		return nil, "", ErrCursorMismatch
	}
	c.Touch()
	defer func() {
		c.Touch()
		c.mu.Lock()
		gone := c.gone
		c.mu.Unlock()
		if !gone {
			c.poll.timer.Reset(c.hub.cfg.PollLinger)
		}
	}()
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	for {
		msgs, err := c.Drain(ctx, nil, max)
		if len(msgs) > 0 || err != nil {
			c.hub.observe(msgs) // handed to the response: the transport's last step here
			return msgs, c.Cursor(), err
		}
		select {
		case <-c.Ready():
		case <-timeout.C:
			return nil, c.Cursor(), nil
		case <-mine:
			return nil, c.Cursor(), nil
		case <-ctx.Done():
			return nil, c.Cursor(), ctx.Err()
		}
	}
}

// expirePoll ends a long-poll connection that nobody polled within PollLinger.
func (h *Hub) expirePoll(c *Conn) {
	if !c.poll.mu.TryLock() {
		c.poll.timer.Reset(h.cfg.PollLinger) // a poll is waiting right now
		return
	}
	c.poll.mu.Unlock()
	if time.Since(time.Unix(0, c.lastActive.Load())) < h.cfg.PollLinger {
		c.poll.timer.Reset(h.cfg.PollLinger)
		return
	}
	c.Close(ReasonPollExpired)
	h.Disconnect(c)
}
