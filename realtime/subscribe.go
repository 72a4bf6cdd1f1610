package realtime

import (
	"context"
	"slices"
)

// subscribe registers c in the topic of ctl and queues ctl for c's consumer; it returns ctl
// completed with the topic id and start position.
func (h *Hub) subscribe(ctx context.Context, c *Conn, ctl control) (control, error) {
	if len(ctl.topic) > maxTopicNameSize {
		return ctl, errTopicNameLimit
	}
	for {
		t, err := h.acquire(ctx, ctl.topic)
		if err != nil {
			return ctl, err
		}
		c.mu.Lock()
		if c.gone {
			c.mu.Unlock()
			h.release(t)
			return ctl, ErrClosed
		}
		known := c.topicIndex(ctl.topic) >= 0
		if !known && len(c.topics) >= h.cfg.MaxSubscriptions {
			c.mu.Unlock()
			h.release(t) // loaded for nothing: do not keep it
			return ctl, ErrTooManyTopics
		}
		t.mu.Lock()
		if t.dead {
			t.mu.Unlock()
			c.mu.Unlock()
			continue // dropped while we waited; look it up again
		}
		ctl.topicID = t.id
		if !ctl.replay {
			ctl.start = t.head
		}
		added := t.add(c)
		if !c.push(item{ctl: &ctl}) {
			if added {
				t.remove(c)
			}
			t.mu.Unlock()
			c.mu.Unlock()
			h.release(t)
			return ctl, ErrClosed
		}
		t.mu.Unlock()
		if !known {
			c.topics = append(c.topics, t)
		}
		// Entered before c.mu is let go: a Disconnect or Unsubscribe waiting for it finds
		// the topic, and its leave must come after this enter, or the user stays forever.
		if _, room := RoomOf(ctl.topic); room && added {
			h.presence.enter(ctl.topic, *c.user)
		}
		c.mu.Unlock()
		return ctl, nil
	}
}

// Subscribe adds topic to a live connection; the client gets room_joined with its new cursor.
// Subscribing again is harmless and confirmed again.
func (h *Hub) Subscribe(ctx context.Context, c *Conn, topic string) error {
	_, err := h.subscribe(ctx, c, control{subscribe: true, topic: topic, announce: true})
	return err
}

// Unsubscribe removes topic from a live connection; the client gets room_left with why.
func (h *Hub) Unsubscribe(c *Conn, topic, why string) error {
	c.mu.Lock()
	i := c.topicIndex(topic)
	if i < 0 {
		c.mu.Unlock()
		return ErrNotSubscribed
	}
	t := c.topics[i]
	c.topics = slices.Delete(c.topics, i, i+1)
	t.mu.Lock()
	t.remove(c)
	c.push(item{ctl: &control{topic: topic, topicID: t.id, announce: true, why: why}})
	t.mu.Unlock()
	c.mu.Unlock()
	h.release(t)
	if _, room := RoomOf(topic); room {
		h.presence.leave(topic, *c.user)
	}
	return nil
}

// Subscribers returns the connections subscribed to topic on this node.
func (h *Hub) Subscribers(topic string) []*Conn {
	t := h.lookup(topic)
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.subs)
}
