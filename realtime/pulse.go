package realtime

import (
	"sync/atomic"
	"time"
)

// pulse is one heartbeat shared by every stream: a channel closed at each tick and replaced,
// which streams with a goroutine select on, and a call for those without one.
type pulse struct {
	ch atomic.Pointer[chan struct{}]
}

func newPulse(interval time.Duration, stop <-chan struct{}, tick func()) *pulse {
	p := &pulse{}
	ch := make(chan struct{})
	p.ch.Store(&ch)
	go p.run(interval, stop, tick)
	return p
}

// C returns a channel closed at the next tick.
func (p *pulse) C() <-chan struct{} { return *p.ch.Load() }

func (p *pulse) run(interval time.Duration, stop <-chan struct{}, tick func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			next := make(chan struct{})
			close(*p.ch.Swap(&next))
			tick()
		}
	}
}
