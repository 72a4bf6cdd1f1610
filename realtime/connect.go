package realtime

import (
	"context"
	"time"
)

// Subscription asks for a topic at connect time.
type Subscription struct {
	Topic string
	// From, when set, resumes after this offset: the log replays what came after it.
	From *uint64
	// Reset marks a position the client lost (a cursor from another epoch): it starts at the
	// head and gets a reset event for the topic.
	Reset bool
}

// ConnectOptions describe a new connection.
type ConnectOptions struct {
	ID            string // connection id; generated when empty
	User          User
	Transport     Transport
	Subscriptions []Subscription
	Resumed       bool      // the client presented a cursor
	Expires       time.Time // token expiry: the stream ends with token_expired then (zero: never)
	// PollTimeout is how long a long-poll request waits for events, announced in connected so
	// that the client knows when an unanswered poll is lost.
	PollTimeout time.Duration
	RemoteAddr  string
	UserAgent   string
}

// Connect registers a connection and its subscriptions. The first message it delivers is
// "connected" with the cursor; a resumed subscription then replays what it missed.
func (h *Hub) Connect(ctx context.Context, o ConnectOptions) (*Conn, error) {
	if h.closing.Load() {
		return nil, ErrShuttingDown
	}
	if o.ID == "" {
		o.ID = newConnID()
	}
	now := time.Now()
	c := &Conn{id: o.ID, transport: o.Transport, remoteAddr: o.RemoteAddr,
		userAgent: o.UserAgent, connectedAt: now.UnixNano(), hub: h, resumed: o.Resumed,
		out: newOutbox(h.cfg.QueueSize, h.cfg.QueueBytes)}
	if o.Transport == TransportPoll {
		c.poll = &pollState{timeout: o.PollTimeout}
	}
	c.lastActive.Store(now.UnixNano())
	c.deadlineIndex = -1
	c.user = h.presence.connect(o.User)
	for _, s := range o.Subscriptions {
		ctl := control{subscribe: true, topic: s.Topic, initial: true, reset: s.Reset}
		if s.From != nil {
			ctl.start, ctl.replay = *s.From, true
		}
		registered, err := h.subscribe(ctx, c, ctl)
		if err != nil {
			h.Disconnect(c)
			return nil, err
		}
		c.initial = append(c.initial, registered)
	}
	h.armDeadline(c, o.Expires, now)
	// Visible to lookups only now that it is complete; a Shutdown that began meanwhile did not
	// see it, so refuse it here.
	h.conns.add(c)
	if h.closing.Load() {
		h.Disconnect(c)
		return nil, ErrShuttingDown
	}
	return c, nil
}

// Disconnect removes c from the hub and its topics and closes it if it is still open. The
// transport calls it when its stream ends; calling it again does nothing.
func (h *Hub) Disconnect(c *Conn) {
	c.Close(ReasonClientGone)
	c.mu.Lock()
	if c.gone {
		c.mu.Unlock()
		return
	}
	c.gone = true
	topics := c.topics
	c.topics = nil
	for _, t := range topics {
		t.mu.Lock()
		t.remove(c)
		t.mu.Unlock()
	}
	c.mu.Unlock()
	if c.poll != nil && c.poll.timer != nil {
		c.poll.timer.Stop()
	}
	// Under the expiry's lock: an Extend or expire that comes later sees the connection closed
	// and arms nothing again.
	c.expiry.mu.Lock()
	h.deadlines.remove(c)
	c.expiry.mu.Unlock()
	for _, t := range topics {
		h.release(t)
		if _, room := RoomOf(t.name); room {
			h.presence.leave(t.name, *c.user)
		}
	}
	h.presence.disconnect(*c.user)
	h.conns.remove(c)
	if fn := h.cfg.OnDisconnect; fn != nil {
		fn(c)
	}
}

// Conn returns the live connection with the given id.
func (h *Hub) Conn(id string) (*Conn, bool) { return h.conns.get(id) }

// ConnCount returns how many connections are live.
func (h *Hub) ConnCount() int { return h.conns.count() }

// Conns returns a snapshot of live connections.
func (h *Hub) Conns() []*Conn { return h.conns.all() }

// UserConns returns the live connections of one user.
func (h *Hub) UserConns(userID string) []*Conn { return h.conns.ofUser(userID) }

// Kick closes every connection of a user with a kicked event carrying reason. Clients must
// not reconnect on their own. It returns how many connections were closed.
func (h *Hub) Kick(userID, reason string) int {
	final := &Frame{Type: EventKicked, Payload: mustEncode(Event{Type: EventKicked,
		Data: map[string]string{"reason": reason}})}
	conns := h.conns.ofUser(userID)
	for _, c := range conns {
		c.reason.Store(&reason)
		c.closeWith(ReasonKicked, final)
	}
	return len(conns)
}
