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
	token  time.Time  // the token's exp; zero: none
	maxAge time.Time  // zero: none
}

// next returns the earlier of the two ends and the reason it gives; zero when there is none.
func (e *expiry) next() (time.Time, CloseReason) {
	if !e.token.IsZero() && (e.maxAge.IsZero() || !e.maxAge.Before(e.token)) {
		return e.token, ReasonTokenExpired
	}
	return e.maxAge, ReasonMaxAge
}

// armDeadline starts c's timer: a long-poll connection's linger, or a stream's expiry.
func (h *Hub) armDeadline(c *Conn, expires, now time.Time) {
	c.expiry.token = expires // announced in connected; a long-poll's requests check their own
	if c.transport == TransportPoll {
		c.timer = time.AfterFunc(h.cfg.PollLinger, func() { h.expirePoll(c) })
		return
	}
	if age := h.cfg.MaxStreamAge; age > 0 {
		c.expiry.maxAge = now.Add(age + rand.N(age/2+1))
	}
	if at, _ := c.expiry.next(); !at.IsZero() {
		c.timer = time.AfterFunc(time.Until(at), c.expire)
	}
}

// expire ends the stream when its expiry has come; an expiry moved meanwhile re-arms the timer.
func (c *Conn) expire() {
	e := &c.expiry
	e.mu.Lock()
	defer e.mu.Unlock()
	at, reason := e.next()
	if wait := time.Until(at); wait > 0 {
		c.timer.Reset(wait)
		return
	}
	var final *Frame
	if reason == ReasonTokenExpired {
		final = &Frame{Type: EventTokenExpired, Payload: mustEncode(Event{Type: EventTokenExpired,
			Data: map[string]string{"expired_at": e.token.UTC().Format(TimeFormat)}})}
	}
	c.closeWith(reason, final)
}

// Expires returns when c's token expires, as far as the stream is concerned (zero: never).
func (c *Conn) Expires() time.Time {
	c.expiry.mu.Lock()
	defer c.expiry.mu.Unlock()
	return c.expiry.token
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
	e.token = exp
	if at, _ := e.next(); c.timer != nil && !at.IsZero() {
		c.timer.Reset(time.Until(at))
	}
	return nil
}
