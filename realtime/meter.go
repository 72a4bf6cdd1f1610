package realtime

import (
	"sync"
	"time"
)

// meter counts events per second over the last minute.
type meter struct {
	mu      sync.Mutex // guards the fields below
	buckets [60]uint64
	stamps  [60]int64 // the unix second each bucket counts
	sum     uint64    // since the start
}

func (m *meter) mark(n uint64) {
	sec := time.Now().Unix()
	i := sec % 60
	m.mu.Lock()
	if m.stamps[i] != sec {
		m.stamps[i], m.buckets[i] = sec, 0
	}
	m.buckets[i] += n
	m.sum += n
	m.mu.Unlock()
}

// total returns the count since the start.
func (m *meter) total() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sum
}

// rate returns the average per second over the last window seconds (1–59), not counting the
// second under way.
func (m *meter) rate(window int) float64 {
	now := time.Now().Unix()
	var sum uint64
	m.mu.Lock()
	for back := int64(1); back <= int64(window); back++ {
		sec := now - back
		if i := sec % 60; m.stamps[i] == sec {
			sum += m.buckets[i]
		}
	}
	m.mu.Unlock()
	return float64(sum) / float64(window)
}

// observe reports the publish-to-write latency of the live messages just written.
func (h *Hub) observe(msgs []Message) {
	fn := h.cfg.ObserveLatency
	if fn == nil {
		return
	}
	now := time.Now()
	for _, m := range msgs {
		if !m.At.IsZero() {
			fn(now.Sub(m.At))
		}
	}
}
