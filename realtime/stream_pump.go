package realtime

import (
	"context"
	"slices"
	"sync/atomic"
)

// sink is a transport's writing end, as a pump drives it.
type sink interface {
	// send writes msgs, and, when closing, what ends the stream (kicked, token expired, …).
	// It must not wait for the client unless closing (a stream's end runs on a goroutine of
	// its own): what the socket does not take at once is kept by the sink's outConn.
	send(msgs []Message, closing bool) error
	// heartbeat keeps an idle connection alive through proxies; it must not wait either.
	heartbeat() error
	// close ends the transport's connection; it runs once, and makes any blocked send return.
	close()
}

// pump writes a connection's queue to its sink with no goroutine of its own: a kick (events
// queued, a heartbeat due, the connection closed, a kept write gone out) hands it to one of
// the shared writers, which drains the queue in batches without waiting and moves on. One
// writer runs a pump at a time. While the socket is still taking an earlier batch (a slow or
// stalled client), the pump leaves events in the outbox, which overflows for a client that
// does not recover. Reading the log for a replay, and ending the stream, run on a goroutine
// of their own.
type pump struct {
	c    *Conn
	sink sink
	out  *outConn
	done func()

	read atomic.Pointer[readContext] // for reading the log during replays: made for the first; endedRead once the stream ended

	running atomic.Bool // a writer is draining the queue
	pingDue atomic.Bool
	ended   atomic.Bool // end has run (a sync.Once is three times the size, on every stream)
	last    []Message   // a closed connection's last messages, for close

	kickFn func() // p.kick, made once: the outbox and outConn point here
}

// startPump makes c's outbox and heartbeats drive s, which writes to out, and writes what is
// already waiting (the connected event). done runs once, when the stream has ended.
func startPump(c *Conn, s sink, out *outConn, done func()) *pump {
	p := &pump{c: c, sink: s, out: out, done: done}
	p.kickFn = p.kick
	out.onDrained(&p.kickFn)
	c.out.setNotify(&p.kickFn)
	c.setPing(p)
	p.kick()
	return p
}

// kick makes sure a writer will look at the queue. It never blocks: the outbox calls it while
// a publisher holds a topic's lock.
func (p *pump) kick() {
	if p.running.CompareAndSwap(false, true) {
		if p.out.nonBlocking() {
			runPooled(p)
		} else {
			go p.run(true, nil)
		}
	}
}

// ping asks for a heartbeat at the next write.
func (p *pump) ping() {
	p.pingDue.Store(true)
	p.kick()
}

// run writes what is queued until nothing is, or the socket takes no more for now. mayWait
// says whether it runs on a goroutine of its own, which may wait for the log; a shared writer
// hands such work to one. Batches are drained into scratch, the caller's storage (a shared
// writer's, reused for every pump it runs: an idle stream keeps none), which run returns,
// grown or not.
func (p *pump) run(mayWait bool, scratch []Message) []Message {
	for {
		busy, err := p.out.state()
		if err != nil { // a kept write failed: end now, not at the next event or heartbeat
			p.gone(mayWait)
			return scratch
		}
		if busy {
			p.running.Store(false)
			// The flush's end kicks once busy is over; checked again after running is clear.
			if p.out.busy() || !p.running.CompareAndSwap(false, true) {
				return scratch
			}
			continue
		}
		msgs, replayDue, err := p.c.drain(p.readCtx(mayWait), scratch[:0], maxBatch, mayWait)
		if err != nil { // closed: its last messages, then the end of the stream
			if mayWait {
				p.last = msgs
			} else {
				p.last = slices.Clone(msgs) // scratch stays the shared writer's
			}
			p.waitable(mayWait, p.close)
			return scratch
		}
		var werr error
		if len(msgs) > 0 {
			p.pingDue.Store(false) // data keeps the connection alive as well as a heartbeat
			werr = p.sink.send(msgs, false)
			p.c.hub.observe(msgs)
			clear(msgs)
		} else if p.pingDue.Swap(false) {
			werr = p.sink.heartbeat()
		}
		scratch = msgs
		if cap(scratch) > 64 {
			scratch = nil // a writer keeps no burst-sized buffer
		}
		if werr != nil {
			p.gone(mayWait)
			return scratch
		}
		if replayDue {
			go p.run(true, nil)
			return scratch
		}
		if len(msgs) > 0 {
			continue
		}
		p.running.Store(false)
		// A push after Drain found nothing may have kicked while running was still set.
		if !p.c.out.ready() && !p.pingDue.Load() {
			return scratch
		}
		if !p.running.CompareAndSwap(false, true) {
			return scratch // a newer kick has its own writer
		}
	}
}

// readCtx returns the context a replay reads the log in; a writer that may not wait reads
// nothing, and gets one that is never used. The stream's own is made on first need: an idle
// stream, which never replays, keeps none.
func (p *pump) readCtx(mayWait bool) context.Context {
	if !mayWait {
		return context.Background()
	}
	for {
		if rc := p.read.Load(); rc != nil {
			return rc.ctx
		}
		ctx, cancel := context.WithCancel(context.Background())
		if p.read.CompareAndSwap(nil, &readContext{ctx, cancel}) {
			return ctx
		}
		cancel()
	}
}

// readContext is a stream's context for reading the log, with what cancels it.
type readContext struct {
	ctx    context.Context
	cancel context.CancelFunc
}

// endedRead is the read context of every stream that has ended: cancelled.
var endedRead = func() *readContext {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return &readContext{ctx, cancel}
}()

// gone ends a stream whose writes failed: the client left or stalled.
func (p *pump) gone(mayWait bool) {
	p.c.Close(ReasonClientGone) // unless it closed for its own reason first
	p.waitable(mayWait, p.end)
}

// waitable runs fn, which may wait, here when the writer may wait, else on a goroutine of its
// own: a shared writer never waits.
func (p *pump) waitable(mayWait bool, fn func()) {
	if mayWait {
		fn()
	} else {
		go fn()
	}
}

// close writes a closed connection's last messages (p.last) and what ends the stream, waits
// for them to go out, and ends the stream.
func (p *pump) close() {
	msgs := p.last
	_ = p.sink.send(msgs, true)
	p.c.hub.observe(msgs)
	clear(msgs)
	_ = p.out.wait()
	p.c.Close(ReasonClientGone) // unless it closed for its own reason first
	p.end()
}

// end stops the stream and runs done, once.
func (p *pump) end() {
	if !p.ended.CompareAndSwap(false, true) {
		return
	}
	p.c.out.setNotify(nil)
	p.c.setPing(nil)
	if rc := p.read.Swap(endedRead); rc != nil {
		rc.cancel()
	}
	p.sink.close()
	p.done()
}
