package realtime

import (
	"sync/atomic"
	"time"
)

// pulse is one heartbeat shared by every stream: a channel closed at each tick and replaced.
// Streams select on it instead of each holding a ticker of its own.
type pulse struct {
	ch atomic.Pointer[chan struct{}]
}

func newPulse(interval time.Duration, stop <-chan struct{}) *pulse {
	p := &pulse{}
	ch := make(chan struct{})
	p.ch.Store(&ch)
	go p.run(interval, stop)
	return p
}

// C returns a channel closed at the next tick.
func (p *pulse) C() <-chan struct{} { return *p.ch.Load() }

func (p *pulse) run(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			next := make(chan struct{})
			close(*p.ch.Swap(&next))
		}
	}
}
