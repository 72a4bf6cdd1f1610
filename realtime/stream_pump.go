package realtime

import (
	"context"
	"sync"
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
	c      *Conn
	sink   sink
	out    *outConn
	ctx    context.Context // for reading the log during replays; ends with the stream
	cancel context.CancelFunc
	done   func()

	running atomic.Bool // a writer is draining the queue
	pingDue atomic.Bool
	ended   sync.Once
	msgs    []Message // reused by the writer; only one runs at a time
}

// startPump makes c's outbox and heartbeats drive s, which writes to out, and writes what is
// already waiting (the connected event). done runs once, when the stream has ended.
func startPump(c *Conn, s sink, out *outConn, done func()) *pump {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pump{c: c, sink: s, out: out, ctx: ctx, cancel: cancel, done: done}
	out.onDrained(p.kick)
	c.out.setNotify(p.kick)
	c.setPing(p.ping)
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
			go p.run(true)
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
// hands such work to one.
func (p *pump) run(mayWait bool) {
	for {
		busy, err := p.out.state()
		if err != nil { // a kept write failed: end now, not at the next event or heartbeat
			p.gone(mayWait)
			return
		}
		if busy {
			p.running.Store(false)
			// The flush's end kicks once busy is over; checked again after running is clear.
			if p.out.busy() || !p.running.CompareAndSwap(false, true) {
				return
			}
			continue
		}
		msgs, replayDue, err := p.c.drain(p.ctx, p.msgs[:0], maxBatch, mayWait)
		if err != nil { // closed: its last messages, then the end of the stream
			p.msgs = msgs
			p.waitable(mayWait, p.close)
			return
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
		if cap(msgs) > 64 {
			msgs = nil // an idle stream keeps no burst-sized buffer
		}
		p.msgs = msgs
		if werr != nil {
			p.gone(mayWait)
			return
		}
		if replayDue {
			go p.run(true)
			return
		}
		if len(msgs) > 0 {
			continue
		}
		p.running.Store(false)
		// A push after Drain found nothing may have kicked while running was still set.
		if !p.c.out.ready() && !p.pingDue.Load() {
			return
		}
		if !p.running.CompareAndSwap(false, true) {
			return // a newer kick has its own writer
		}
	}
}

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

// close writes a closed connection's last messages (p.msgs) and what ends the stream, waits
// for them to go out, and ends the stream.
func (p *pump) close() {
	msgs := p.msgs
	_ = p.sink.send(msgs, true)
	p.c.hub.observe(msgs)
	clear(msgs)
	_ = p.out.wait()
	p.c.Close(ReasonClientGone) // unless it closed for its own reason first
	p.end()
}

// end stops the stream and runs done, once.
func (p *pump) end() {
	p.ended.Do(func() {
		p.c.out.setNotify(nil)
		p.c.setPing(nil)
		p.cancel()
		p.sink.close()
		p.done()
	})
}
