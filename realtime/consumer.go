package realtime

import (
	"context"
	"fmt"
	"time"
)

// control is a change to a connection's subscriptions. The hub queues it in the connection's
// outbox in the same critical section that registers the connection in the topic, so the
// consumer applies it exactly between the frames published before and after.
type control struct {
	subscribe bool   // false: unsubscribe
	topic     string // topic name
	topicID   int64
	start     uint64 // subscribe: the position to start from
	replay    bool   // subscribe: replay the log after start (a resume)
	reset     bool   // subscribe: the client's position is lost; tell it to reload
	initial   bool   // subscribe: part of Connect; announced by "connected", not "room_joined"
	announce  bool   // emit room_joined / room_left
	why       string // unsubscribe: reason given in room_left
}

// consumer turns a connection's outbox into Messages. Its state belongs to the one goroutine
// that calls Drain (a stream's writer loop, or the current long-poll request).
type consumer struct {
	pos     positions
	batch   []item
	next    int32 // position in batch (a batch is bounded by the queue size); beside started: one word
	started bool
	replay  *control         // the subscription whose log is being replayed, if any
	cursor  []byte           // the wire form of pos, in arena, until pos changes
	arena   []byte           // this Drain's cursors; reused by the next
	left    map[int64]uint64 // last delivered offset of topics unsubscribed from
}

// maxRemembered bounds how many left topics a connection remembers the position of.
const maxRemembered = 256

func (k *consumer) rememberLeft(topicID int64, offset uint64) {
	if k.left == nil || len(k.left) >= maxRemembered {
		k.left = make(map[int64]uint64)
	}
	k.left[topicID] = offset
}

// replayPageSize is how many logged events one replay read fetches.
const replayPageSize = 256

// Drain appends to dst the messages ready for c, at most max, without waiting for new ones. It
// first replays from the log whatever a resumed subscription missed. Once the connection is
// closed it returns any final message (kicked, token_expired) with ErrClosed.
func (c *Conn) Drain(ctx context.Context, dst []Message, max int) ([]Message, error) {
	dst, _, err := c.drain(ctx, dst, max, true)
	return dst, err
}

// drain is Drain; without mayRead it stops where the log would have to be read for a replay
// and reports replayDue instead, for a caller that must not wait (a shared writer).
func (c *Conn) drain(ctx context.Context, dst []Message, max int, mayRead bool) (_ []Message, replayDue bool, _ error) {
	k := &c.cons
	if cap(k.arena) > 16<<10 {
		k.arena = nil // let a burst's buffer go
	}
	k.arena, k.cursor = k.arena[:0], nil // the previous Drain's messages are written by now
	if !k.started {
		k.started = true
		for _, s := range c.initial {
			k.pos.set(s.topicID, s.start)
		}
		dst = append(dst, c.connectedMessage())
		c.initial = nil // announced; an idle connection keeps no copy
	}
	for len(dst) < max {
		if k.replay != nil && !c.out.isClosed() { // a closed connection stops replaying at once
			if !mayRead {
				replayDue = true
				break
			}
			var err error
			if dst, err = c.replayPage(ctx, dst, max-len(dst)); err != nil {
				if ctx.Err() != nil {
					c.Close(ReasonClientGone) // the client left mid-replay
				} else {
					c.hub.log.Warn("replay failed", "conn", c.id, "topic", k.replay.topic, "err", err)
					c.Close(ReasonError)
				}
				return dst, false, ErrClosed
			}
			continue
		}
		k.replay = nil
		if int(k.next) < len(k.batch) {
			it := k.batch[k.next]
			k.next++
			dst = c.apply(it, dst)
			continue
		}
		batch, final, _, closed := c.out.take(k.batch)
		k.batch, k.next = batch, 0
		if closed {
			if final != nil {
				dst = append(dst, Message{Type: final.Type, Payload: final.Payload, frame: final})
			}
			return dst, false, ErrClosed
		}
		if len(batch) == 0 {
			break
		}
	}
	if len(dst) > 0 {
		c.Touch()
	}
	return dst, replayDue, nil
}

// Cursor returns the connection's current cursor as its consumer last left it.
func (c *Conn) Cursor() string { return string(c.currentCursor()) }

// currentCursor returns the wire form of the consumer's positions, appended to its arena when
// they changed.
func (c *Conn) currentCursor() []byte {
	k := &c.cons
	if k.cursor == nil {
		start := len(k.arena)
		k.arena = c.hub.cursors.appendCursor(k.arena, c.user.ID, c.hub.cfg.Epoch, k.pos)
		k.cursor = k.arena[start:len(k.arena):len(k.arena)]
	}
	return k.cursor
}

func (k *consumer) moved() { k.cursor = nil }

func (c *Conn) apply(it item, dst []Message) []Message {
	k := &c.cons
	if ctl := it.ctl; ctl != nil {
		return c.applyControl(ctl, dst)
	}
	f := it.frame
	if !f.Durable() {
		return append(dst, Message{Type: f.Type, Payload: f.Payload, At: f.At, frame: f})
	}
	i, ok := k.pos.find(f.TopicID)
	if !ok || f.Offset <= k.pos[i].Offset {
		return dst // not subscribed (any more), or already delivered by a replay
	}
	if f.Offset > k.pos[i].Offset+1 {
		// A hole: the hub skipped offsets it could not fill. The log has them; read it.
		k.replay = &control{topic: f.Topic, topicID: f.TopicID, start: k.pos[i].Offset, replay: true}
		return dst
	}
	k.pos[i].Offset = f.Offset
	k.moved()
	if !f.visibleTo(c.user) {
		return dst // not for this user: the position passes over it
	}
	return append(dst, Message{Type: f.Type, Cursor: c.currentCursor(), Payload: f.Payload, At: f.At, frame: f})
}

func (c *Conn) applyControl(ctl *control, dst []Message) []Message {
	k := &c.cons
	if !ctl.subscribe {
		if i, ok := k.pos.find(ctl.topicID); ok {
			k.rememberLeft(ctl.topicID, k.pos[i].Offset)
		}
		k.pos.remove(ctl.topicID)
		k.moved()
		if ctl.announce {
			dst = append(dst, c.roomMessage(EventRoomLeft, ctl.topic, ctl.why))
		}
		return dst
	}
	if _, exists := k.pos.find(ctl.topicID); exists && !ctl.initial {
		if ctl.announce { // a repeated join: confirm it, keep the position
			dst = append(dst, c.roomMessage(EventRoomJoined, ctl.topic, ""))
		}
		return dst
	}
	start := ctl.start
	if prev, ok := k.left[ctl.topicID]; ok && !ctl.replay {
		// Re-joining a topic this connection left: a replay may have taken it further than
		// the hub's head, which lags while publishes are in flight. Never go back.
		start = max(start, prev)
	}
	k.pos.set(ctl.topicID, start)
	k.moved()
	if ctl.announce {
		dst = append(dst, c.roomMessage(EventRoomJoined, ctl.topic, ""))
	}
	if ctl.reset {
		c.hub.counters.resets.Add(1)
		dst = append(dst, resetMessage(ctl.topic, "cursor_epoch", c.currentCursor()))
	}
	if ctl.replay {
		k.replay = ctl
	}
	return dst
}

// replayPage delivers the next page of the log of the subscription being replayed.
func (c *Conn) replayPage(ctx context.Context, dst []Message, room int) ([]Message, error) {
	k := &c.cons
	job := k.replay
	i, ok := k.pos.find(job.topicID)
	if !ok { // unsubscribed meanwhile
		k.replay = nil
		return dst, nil
	}
	after := k.pos[i].Offset
	limit := min(room, replayPageSize)
	var page []*Frame // a page's frames: made per page, an idle connection keeps no scratch
	head, trimmed, err := c.hub.cfg.Store.ReadTopic(ctx, job.topicID, after, limit,
		func(offset uint64, typ string, payload []byte, audience string) {
			page = append(page, &Frame{Topic: job.topic, TopicID: job.topicID, Offset: offset,
				Type: EventType(typ), Payload: payload, Audience: ParseAudience(audience)})
		})
	if err != nil {
		return dst, fmt.Errorf("reading %s after %d: %w", job.topic, after, err)
	}
	lost := after < trimmed || after > head ||
		(len(page) > 0 && page[0].Offset != after+1) || // trimmed while we read
		(len(page) == 0 && after < head)
	if lost {
		// Retention has dropped events this client never saw, or the position is not one this
		// log ever issued: never replay partially; tell the client to reload the topic.
		k.pos[i].Offset = head
		k.moved()
		k.replay = nil
		c.hub.counters.resets.Add(1)
		return append(dst, resetMessage(job.topic, "history_gap", c.currentCursor())), nil
	}
	for _, f := range page {
		k.pos[i].Offset = f.Offset
		k.moved()
		if f.visibleTo(c.user) {
			dst = append(dst, Message{Type: f.Type, Cursor: c.currentCursor(), Payload: f.Payload, frame: f})
		}
	}
	if len(page) < limit {
		k.replay = nil // caught up with the log; live frames take over
		if job.initial {
			c.hub.counters.recovered.Add(1)
		}
	}
	return dst, nil
}

// pollTimeoutMS is how long a long-poll request waits, in milliseconds; 0 on streams.
func (c *Conn) pollTimeoutMS() int64 {
	if c.poll == nil {
		return 0
	}
	return c.poll.timeout.Milliseconds()
}

func (c *Conn) connectedMessage() Message {
	rooms := make([]string, 0, len(c.initial))
	for _, s := range c.initial {
		if key, ok := RoomOf(s.topic); ok {
			rooms = append(rooms, key)
		}
	}
	data := struct {
		ConnectionID  string    `json:"connection_id"`
		UserID        string    `json:"user_id"`
		Transport     Transport `json:"transport"`
		Rooms         []string  `json:"rooms"`
		Resumed       bool      `json:"resumed"`
		HeartbeatMS   int64     `json:"heartbeat_ms"`
		PollTimeoutMS int64     `json:"poll_timeout_ms,omitempty"`
		ExpiresAt     string    `json:"expires_at,omitempty"`
	}{ConnectionID: c.id, UserID: c.user.ID, Transport: c.transport, Rooms: rooms, Resumed: c.resumed,
		HeartbeatMS: c.hub.cfg.Heartbeat.Milliseconds(), PollTimeoutMS: c.pollTimeoutMS()}
	if exp := c.Expires(); !exp.IsZero() {
		data.ExpiresAt = exp.UTC().Format(TimeFormat)
	}
	return Message{Type: EventConnected, Cursor: c.currentCursor(),
		Payload: mustEncode(Event{Type: EventConnected, Data: data, TS: time.Now()})}
}

func (c *Conn) roomMessage(typ EventType, topic, why string) Message {
	key, _ := RoomOf(topic)
	data := struct {
		Room   string `json:"room"`
		Topic  string `json:"topic"`
		Reason string `json:"reason,omitempty"`
	}{key, topic, why}
	return Message{Type: typ, Cursor: c.currentCursor(),
		Payload: mustEncode(Event{Type: typ, Room: key, Data: data, TS: time.Now()})}
}

func resetMessage(topic, reason string, cursor []byte) Message {
	key, _ := RoomOf(topic)
	data := struct {
		Topic  string `json:"topic"`
		Room   string `json:"room,omitempty"`
		Reason string `json:"reason"`
	}{topic, key, reason}
	return Message{Type: EventReset, Cursor: cursor,
		Payload: mustEncode(Event{Type: EventReset, Room: key, Data: data, TS: time.Now()})}
}
