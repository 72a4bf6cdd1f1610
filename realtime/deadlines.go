package realtime

import (
	"container/heap"
	"sync"
	"time"
)

// deadlines ends streams at their expiry (token or maximum age) with one timer for all of
// them: a min-heap of connections by deadline, and a timer set to the earliest. A time.Timer
// of its own cost every stream ~150 bytes and two objects; an entry here costs a pointer.
// A connection leaves the heap when it disconnects, so a closed stream is not kept alive
// until its token would have expired.
type deadlines struct {
	expire func(*Conn) // runs, without the lock, for each connection whose deadline came

	mu    sync.Mutex
	conns deadlineHeap // ordered by Conn.deadlineAt; Conn.deadlineIndex is each one's position
	timer *time.Timer  // fires at conns[0]'s deadline; made on first use
}

// set arms c to expire at at (Unix nanoseconds), or disarms it when at is 0.
func (d *deadlines) set(c *Conn, at int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case at == 0:
		if c.deadlineIndex >= 0 {
			heap.Remove(&d.conns, int(c.deadlineIndex))
		}
	case c.deadlineIndex >= 0:
		c.deadlineAt = at
		heap.Fix(&d.conns, int(c.deadlineIndex))
	default:
		c.deadlineAt = at
		heap.Push(&d.conns, c)
	}
	d.armLocked()
}

// remove disarms c; removing one not armed does nothing.
func (d *deadlines) remove(c *Conn) { d.set(c, 0) }

// armLocked sets the timer to the earliest deadline.
func (d *deadlines) armLocked() {
	if len(d.conns) == 0 {
		if d.timer != nil {
			d.timer.Stop()
		}
		return
	}
	wait := time.Until(time.Unix(0, d.conns[0].deadlineAt))
	if d.timer == nil {
		d.timer = time.AfterFunc(wait, d.fire)
		return
	}
	d.timer.Reset(wait)
}

// fire takes every connection whose deadline has come out of the heap and expires it; one
// whose deadline moved meanwhile is armed again by its expire.
func (d *deadlines) fire() {
	now := time.Now().UnixNano()
	var due []*Conn
	d.mu.Lock()
	for len(d.conns) > 0 && d.conns[0].deadlineAt <= now {
		due = append(due, heap.Pop(&d.conns).(*Conn))
	}
	d.armLocked()
	d.mu.Unlock()
	for _, c := range due {
		d.expire(c)
	}
}

// deadlineHeap is container/heap's view of the connections; d.mu guards it and the
// connections' deadline fields.
type deadlineHeap []*Conn

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].deadlineAt < h[j].deadlineAt }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].deadlineIndex, h[j].deadlineIndex = int32(i), int32(j)
}

func (h *deadlineHeap) Push(x any) {
	c := x.(*Conn)
	c.deadlineIndex = int32(len(*h))
	*h = append(*h, c)
}

func (h *deadlineHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.deadlineIndex = -1
	if cap(*h) > 64 && len(*h) < cap(*h)/4 {
		*h = append(deadlineHeap(nil), *h...) // many streams ended: let the storage shrink
	}
	return c
}
