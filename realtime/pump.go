package realtime

import (
	"context"
	"sync"
	"sync/atomic"
)

// sink is a transport's writing end, as a pump drives it.
type sink interface {
	// send writes msgs, and, when closing, what ends the stream (kicked, token expired, …).
	send(msgs []Message, closing bool) error
	// heartbeat keeps an idle connection alive through proxies; it may return at once.
	heartbeat() error
	// close ends the transport's connection; it runs once, and makes any blocked send return.
	close()
}

// pump writes a connection's queue to its sink with no goroutine of its own while idle: a kick
// (events queued, a heartbeat due, the connection closed) starts a short-lived writer that
// drains the queue in batches and ends when it is empty. One writer runs at a time; a stalled
// client stalls only its own writer.
type pump struct {
	c      *Conn
	sink   sink
	ctx    context.Context // for reading the log during replays; ends with the stream
	cancel context.CancelFunc
	done   func()

	running atomic.Bool // a writer is draining the queue
	pingDue atomic.Bool
	ended   sync.Once
	msgs    []Message // reused by the writer; only one runs at a time
}

// startPump makes c's outbox and heartbeats drive s, and writes what is already waiting (the
// connected event). done runs once, when the stream has ended.
func startPump(c *Conn, s sink, done func()) *pump {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pump{c: c, sink: s, ctx: ctx, cancel: cancel, done: done}
	c.out.setNotify(p.kick)
	c.setPing(p.ping)
	p.kick()
	return p
}

// kick makes sure a writer will look at the queue. It never blocks: the outbox calls it while
// a publisher holds a topic's lock.
func (p *pump) kick() {
	if p.running.CompareAndSwap(false, true) {
		go p.run()
	}
}

// ping asks for a heartbeat at the next write.
func (p *pump) ping() {
	p.pingDue.Store(true)
	p.kick()
}

// run writes what is queued until nothing is.
func (p *pump) run() {
	for {
		msgs, err := p.c.Drain(p.ctx, p.msgs[:0], maxBatch)
		var werr error
		if len(msgs) > 0 || err != nil {
			p.pingDue.Store(false) // data keeps the connection alive as well as a heartbeat
			werr = p.sink.send(msgs, err != nil)
			p.c.hub.observe(msgs)
			clear(msgs)
		} else if p.pingDue.Swap(false) {
			werr = p.sink.heartbeat()
		}
		if cap(msgs) > 64 {
			msgs = nil // an idle stream keeps no burst-sized buffer
		}
		p.msgs = msgs
		if err != nil || werr != nil {
			p.c.Close(ReasonClientGone) // unless it closed for its own reason first
			p.end()
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
