package realtime

import (
	"context"
	"math/rand/v2"
	"time"
)

// Shutdown stops accepting connections and closes the live ones, spread evenly over window so
// that their reconnects do not arrive at once; each is told to resume elsewhere. It returns
// when all are gone, or when ctx ends, closing what is left at once.
func (h *Hub) Shutdown(ctx context.Context, window time.Duration) error {
	h.closing.Store(true)
	conns := h.conns.all()
	timers := make([]*time.Timer, 0, len(conns))
	for _, c := range conns {
		delay := time.Duration(0)
		if window > 0 {
			delay = rand.N(window)
		}
		timers = append(timers, time.AfterFunc(delay, func() {
			c.Close(ReasonShutdown)
			if c.transport == TransportPoll {
				h.Disconnect(c) // no stream to end: a waiting poll returns, the next finds none
			}
		}))
	}
	defer func() {
		for _, t := range timers {
			t.Stop()
		}
	}()
	select {
	case <-h.conns.drained():
		return nil
	case <-ctx.Done():
		for _, c := range h.conns.all() {
			c.Close(ReasonShutdown)
			c.abortWrites()
		}
		return ctx.Err()
	}
}

// Closing reports whether Shutdown has begun.
func (h *Hub) Closing() bool { return h.closing.Load() }
