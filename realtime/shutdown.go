package realtime

import (
	"context"
	"math/rand/v2"
	"time"
)

// ShutdownRetry is the least delay the shutdown event suggests before reconnecting; each
// connection is told a delay of its own, up to twice it.
const ShutdownRetry = time.Second

// Shutdown stops accepting connections and closes the live ones, spread evenly over window so
// that their reconnects do not arrive at once; each gets the shutdown event last, which tells
// it to resume elsewhere and when. It returns when all are gone, or when ctx ends, closing
// what is left at once.
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
			c.CloseWith(ReasonShutdown, shutdownFrame())
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
			c.CloseWith(ReasonShutdown, shutdownFrame())
			c.abortWrites()
		}
		return ctx.Err()
	}
}

// Closing reports whether Shutdown has begun.
func (h *Hub) Closing() bool { return h.closing.Load() }

// shutdownFrame is the shutdown event for one connection, with a delay of its own.
func shutdownFrame() *Frame {
	retry := ShutdownRetry + rand.N(ShutdownRetry)
	return &Frame{Type: EventShutdown, Payload: mustEncode(Event{Type: EventShutdown,
		Data: map[string]int64{"retry_ms": retry.Milliseconds()}})}
}
