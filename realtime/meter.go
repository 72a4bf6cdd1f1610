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
}

func (m *meter) mark(n uint64) {
	sec := time.Now().Unix()
	i := sec % 60
	m.mu.Lock()
	if m.stamps[i] != sec {
		m.stamps[i], m.buckets[i] = sec, 0
	}
	m.buckets[i] += n
	m.mu.Unlock()
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
