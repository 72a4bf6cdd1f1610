package realtime

import (
	"sync/atomic"
	"time"
)

// pulse is one heartbeat shared by every stream: a channel closed at each tick and replaced,
// which streams with a goroutine select on, and a call for those without one. The heartbeat
// event they write is encoded once per tick.
type pulse struct {
	ch   atomic.Pointer[chan struct{}]
	beat atomic.Pointer[heartbeat]
}

func newPulse(interval time.Duration, stop <-chan struct{}, tick func()) *pulse {
	p := &pulse{}
	ch := make(chan struct{})
	p.ch.Store(&ch)
	p.beat.Store(newHeartbeat(time.Now()))
	go p.run(interval, stop, tick)
	return p
}

// C returns a channel closed at the next tick.
func (p *pulse) C() <-chan struct{} { return *p.ch.Load() }

// heartbeat returns the heartbeat event of the latest tick.
func (p *pulse) heartbeat() *heartbeat { return p.beat.Load() }

func (p *pulse) run(interval time.Duration, stop <-chan struct{}, tick func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			p.beat.Store(newHeartbeat(now))
			next := make(chan struct{})
			close(*p.ch.Swap(&next))
			tick()
		}
	}
}

// heartbeat is the event an idle stream gets at each tick, framed for each transport. It is an
// event, not an SSE comment, because EventSource shows no comments: a page can watch a stream
// for silence only if the heartbeat is an event. Long-polls need none: every request answers
// within the poll timeout.
type heartbeat struct {
	sse []byte // event: heartbeat, data: the envelope
	ws  []byte // one WebSocket text frame holding the envelope
}

func newHeartbeat(now time.Time) *heartbeat {
	env := mustEncode(Event{Type: EventHeartbeat, TS: now})
	return &heartbeat{
		sse: appendSSE(nil, Message{Type: EventHeartbeat, Payload: env}),
		ws:  append(appendWSHeader(nil, len(env), false), env...),
	}
}
