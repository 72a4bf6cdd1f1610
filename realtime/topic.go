package realtime

import (
	"context"
	"slices"
	"sync"
	"time"
)

// topic is the hub's live state for one topic on this node: who is subscribed, and how far
// the durable frames delivered to them have come. It exists while it has subscribers.
type topic struct {
	name    string
	loading *topicLoad // until id and head are loaded, then nil; under the shard's lock
	id      int64      // durable id; set before loading ends

	mu      sync.Mutex // guards the fields below; taken after Conn.mu, before outbox.mu
	subs    []*Conn
	index   map[*Conn]int     // position of each subscriber in subs; only while there are many
	head    uint64            // offset of the last durable frame delivered
	pending map[uint64]*Frame // durable frames that arrived ahead of head+1
	loaded  bool
	filling bool // a gap fill is scheduled
	dead    bool // removed from the hub; look it up again
}

// topicLoad is a topic's loading while it lasts: a loaded topic keeps none (every user's own
// topic would).
type topicLoad struct {
	done chan struct{} // closed once loading ended
	err  error         // set before done is closed
}

func newTopic(name string) *topic {
	return &topic{name: name, loading: &topicLoad{done: make(chan struct{})}}
}

// indexFrom is how many subscribers a topic has before it indexes them: a user's own topic,
// which most connections are alone in, is searched instead, and costs no map.
const indexFrom = 16

// find returns c's position in subs, or -1.
func (t *topic) find(c *Conn) int {
	if t.index != nil {
		if i, ok := t.index[c]; ok {
			return i
		}
		return -1
	}
	for i, s := range t.subs {
		if s == c {
			return i
		}
	}
	return -1
}

// add registers c; it reports false when c was already registered.
func (t *topic) add(c *Conn) bool {
	if t.find(c) >= 0 {
		return false
	}
	t.subs = append(t.subs, c)
	switch {
	case t.index != nil:
		t.index[c] = len(t.subs) - 1
	case len(t.subs) > indexFrom:
		t.index = make(map[*Conn]int, len(t.subs))
		for i, s := range t.subs {
			t.index[s] = i
		}
	}
	return true
}

func (t *topic) remove(c *Conn) {
	i := t.find(c)
	if i < 0 {
		return
	}
	last := len(t.subs) - 1
	t.subs[i] = t.subs[last]
	t.subs[last] = nil
	t.subs = t.subs[:last]
	if t.index == nil {
		return
	}
	delete(t.index, c)
	if i < last {
		t.index[t.subs[i]] = i
	}
	if len(t.subs) <= indexFrom/2 {
		t.index = nil // few again: searching is cheaper than the map
	}
}

// fanout hands f to every subscriber without blocking. A subscriber whose queue is full is
// closed as slow; it resumes from its cursor.
func (t *topic) fanout(f *Frame) {
	it := item{frame: f}
	for _, c := range t.subs {
		if f.ExceptUser != "" && c.user.ID == f.ExceptUser {
			continue
		}
		c.push(it)
	}
}

// publish delivers f in offset order: durable frames that arrive early wait in pending until
// the gap before them is filled. It reports whether a gap fill should be scheduled.
func (t *topic) publish(f *Frame) (needFill bool) {
	if !f.Durable() {
		if t.loaded {
			t.fanout(f)
		}
		return false
	}
	if !t.loaded || f.Offset > t.head+1 {
		if t.pending == nil {
			t.pending = make(map[uint64]*Frame)
		}
		t.pending[f.Offset] = f
		if t.loaded && !t.filling {
			t.filling = true
			return true
		}
		return false
	}
	if f.Offset <= t.head {
		return false // already delivered
	}
	t.fanout(f)
	t.head = f.Offset
	t.drainPending()
	return false
}

// drainPending delivers pending frames that now follow head.
func (t *topic) drainPending() {
	for len(t.pending) > 0 {
		f, ok := t.pending[t.head+1]
		if !ok {
			break
		}
		delete(t.pending, f.Offset)
		t.fanout(f)
		t.head = f.Offset
	}
	for off := range t.pending {
		if off <= t.head {
			delete(t.pending, off)
		}
	}
}

// firstPending returns the lowest pending offset, 0 when none.
func (t *topic) firstPending() uint64 {
	if len(t.pending) == 0 {
		return 0
	}
	offs := make([]uint64, 0, len(t.pending))
	for off := range t.pending {
		offs = append(offs, off)
	}
	return slices.Min(offs)
}

// fillGap waits briefly for frames still in flight, then reads what is missing before the
// first pending frame from the log. What the log no longer has is skipped: each subscriber's
// consumer sees the hole and resumes from its own position, which yields a reset.
func (h *Hub) fillGap(t *topic) {
	time.Sleep(h.cfg.GapWait)
	t.mu.Lock()
	from, to, dead := t.head, t.firstPending(), t.dead
	if dead {
		t.filling = false
		t.pending = nil
	}
	t.mu.Unlock()
	if dead {
		return // nobody left to deliver to
	}
	if to == 0 || to <= from+1 {
		t.mu.Lock()
		t.filling = false
		t.drainPending()
		t.mu.Unlock()
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []*Frame
	_, _, err := h.cfg.Store.ReadTopic(ctx, t.id, from, int(to-from-1), func(offset uint64, typ string, payload []byte, audience string) {
		got = append(got, &Frame{Topic: t.name, TopicID: t.id, Offset: offset, Type: EventType(typ), Payload: payload,
			Audience: ParseAudience(audience)})
	})
	t.mu.Lock()
	defer t.mu.Unlock()
	t.filling = false
	if err != nil {
		h.log.Warn("filling a gap in a topic", "topic", t.name, "from", from, "to", to, "err", err)
	}
	for _, f := range got {
		if f.Offset == t.head+1 {
			t.fanout(f)
			t.head = f.Offset
		}
	}
	if t.head < to-1 && err == nil {
		t.head = to - 1 // trimmed from the log: consumers see the hole and reset
	}
	t.drainPending()
	if len(t.pending) > 0 && !t.filling {
		t.filling = true
		go h.fillGap(t)
	}
}
