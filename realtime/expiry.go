package realtime

import (
	"math/rand/v2"
	"sync"
	"time"
)

// expiry is when a stream ends by itself: at its token's expiry or at its maximum age,
// whichever comes first. A fresh token moves the first (Conn.Extend) without a reconnect.
type expiry struct {
	mu     sync.Mutex // guards token and maxAge; held while the timer's verdict closes the stream
	token  int64      // the token's exp in Unix nanoseconds; 0: none
	maxAge int64      // Unix nanoseconds; 0: none (an int64 each: a time.Time is three times the size, on every connection)
}

// next returns the earlier of the two ends and the reason it gives; zero when there is none.
func (e *expiry) next() (time.Time, CloseReason) {
	if e.token != 0 && (e.maxAge == 0 || e.maxAge >= e.token) {
		return fromNanos(e.token), ReasonTokenExpired
	}
	return fromNanos(e.maxAge), ReasonMaxAge
}

// nanos returns t in Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos undoes nanos.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// armDeadline starts c's timer: a long-poll connection's linger, or a stream's expiry.
func (h *Hub) armDeadline(c *Conn, expires, now time.Time) {
	c.expiry.token = nanos(expires) // announced in connected; a long-poll's requests check their own
	if c.transport == TransportPoll {
		c.poll.timer = time.AfterFunc(h.cfg.PollLinger, func() { h.expirePoll(c) })
		return
	}
	if age := h.cfg.MaxStreamAge; age > 0 {
		c.expiry.maxAge = nanos(now.Add(age + rand.N(age/2+1)))
	}
	if at, _ := c.expiry.next(); !at.IsZero() {
		h.deadlines.set(c, at.UnixNano())
	}
}

// expire ends the stream when its expiry has come; an expiry moved meanwhile re-arms the timer.
func (c *Conn) expire() {
	e := &c.expiry
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.Reason() != ReasonNone {
		return // closed meanwhile: nothing to end, nothing to arm again
	}
	at, reason := e.next()
	if time.Until(at) > 0 {
		c.hub.deadlines.set(c, at.UnixNano())
		return
	}
	var final *Frame
	if reason == ReasonTokenExpired {
		final = &Frame{Type: EventTokenExpired, Payload: mustEncode(Event{Type: EventTokenExpired,
			Data: map[string]string{"expired_at": fromNanos(e.token).UTC().Format(TimeFormat)}})}
	}
	c.closeWith(reason, final)
}

// Expires returns when c's token expires, as far as the stream is concerned (zero: never).
func (c *Conn) Expires() time.Time {
	c.expiry.mu.Lock()
	defer c.expiry.mu.Unlock()
	return fromNanos(c.expiry.token)
}

// Extend moves the end of c's token to exp: its client presented a fresh token, verified by the
// caller, for the same user. A stream then ends at exp (or at its maximum age) instead; a
// long-poll connection, whose every request presents its token, has nothing to move. It
// returns ErrClosed when c has closed already, token expired or not.
func (c *Conn) Extend(exp time.Time) error {
	e := &c.expiry
	e.mu.Lock()
	defer e.mu.Unlock()
	if c.Reason() != ReasonNone {
		return ErrClosed
	}
	if c.transport == TransportPoll {
		return nil
	}
	e.token = nanos(exp)
	if at, _ := e.next(); !at.IsZero() {
		c.hub.deadlines.set(c, at.UnixNano())
	}
	return nil
}
