package realtime

import (
	"math"
	"sync"
	"sync/atomic"
)

// item is one entry of a connection's outbox: a shared frame, or a change to the
// connection's subscriptions that its consumer applies in order with the frames around it.
type item struct {
	frame *Frame
	ctl   *control
}

// outbox is a connection's bounded outbound queue. Publishers push without blocking; the one
// consumer takes everything queued at once. A push that would exceed the bounds closes the
// outbox instead: the client resumes from its cursor and loses nothing.
type outbox struct {
	wake   atomic.Pointer[chan struct{}] // capacity 1: signalled when items arrive or the outbox closes; made when first asked for
	notify atomic.Pointer[func()]        // called instead, when set (a stream with no goroutine waiting)

	mu    sync.Mutex // guards the fields below
	items []item
	final *Frame // sent before the close signal (kicked, token_expired), if any
	// 32-bit counts (a queue holds far fewer), packed beside closed: every stream has an outbox.
	bytes    int32
	maxItems int32
	maxBytes int32
	closed   bool
	reason   CloseReason
}

func newOutbox(maxItems, maxBytes int) *outbox {
	return &outbox{maxItems: int32(min(maxItems, math.MaxInt32)), maxBytes: int32(min(maxBytes, math.MaxInt32))}
}

// waker returns the channel signalled when items arrive or the outbox closes. It is made on
// first use: a stream written by the shared writers never waits on it, and keeps none.
func (o *outbox) waker() <-chan struct{} {
	if w := o.wake.Load(); w != nil {
		return *w
	}
	ch := make(chan struct{}, 1)
	if !o.wake.CompareAndSwap(nil, &ch) {
		return *o.wake.Load()
	}
	ch <- struct{}{} // what arrived before the channel existed: the waiter looks once
	return ch
}

// push queues it. It reports false, without blocking, when the outbox is closed or full; a
// full outbox closes with ReasonSlow.
func (o *outbox) push(it item) (ok, overflowed bool) {
	var size int32
	if it.frame != nil {
		size = int32(min(len(it.frame.Payload), math.MaxInt32))
	}
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return false, false
	}
	if len(o.items) >= int(o.maxItems) || (int64(o.bytes)+int64(size) > int64(o.maxBytes) && len(o.items) > 0) {
		o.closeLocked(ReasonSlow, nil)
		o.mu.Unlock()
		return false, true
	}
	o.items = append(o.items, it)
	o.bytes += size
	o.mu.Unlock()
	o.signal()
	return true, false
}

func (o *outbox) signal() {
	if fn := o.notify.Load(); fn != nil {
		(*fn)()
		return
	}
	w := o.wake.Load()
	if w == nil {
		return // nobody waits yet; waker signals once when made
	}
	select {
	case *w <- struct{}{}:
	default:
	}
}

// setNotify replaces the wake channel with a call, or goes back to the channel with nil. fn must
// not block: it runs while a publisher holds a topic's lock. It points into its owner (a pump's
// field), so that the outbox allocates nothing for it.
func (o *outbox) setNotify(fn *func()) { o.notify.Store(fn) }

// ready reports whether items are waiting or the outbox closed.
func (o *outbox) ready() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.items) > 0 || o.closed
}

// close ends the outbox for reason; final, if set, is delivered before the close signal. It
// reports whether this call closed it.
func (o *outbox) close(reason CloseReason, final *Frame) bool {
	o.mu.Lock()
	first := o.closeLocked(reason, final)
	o.mu.Unlock()
	o.signal()
	return first
}

func (o *outbox) closeLocked(reason CloseReason, final *Frame) bool {
	if o.closed {
		return false
	}
	o.closed, o.reason, o.final = true, reason, final
	o.items, o.bytes = nil, 0
	return true
}

// take returns everything queued and hands back the previous batch's storage for reuse. Once
// the outbox is closed it returns the final frame (once) and the close reason.
func (o *outbox) take(prev []item) (batch []item, final *Frame, reason CloseReason, closed bool) {
	clear(prev)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		final, o.final = o.final, nil
		return nil, final, o.reason, true
	}
	batch = o.items
	if cap(prev) > 256 {
		prev = nil // let a burst's storage go once it has drained
	}
	o.items, o.bytes = prev[:0], 0
	return batch, nil, 0, false
}

// isClosed reports whether the outbox has been closed.
func (o *outbox) isClosed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed
}
