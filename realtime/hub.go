package realtime

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Config tunes a Hub. The zero value of every field but Store selects a sensible default.
type Config struct {
	Store Store  // the event log; required
	Epoch uint64 // the log's epoch, written into every cursor

	QueueSize  int           // outbound queue bound per connection, in frames (default 1024)
	QueueBytes int           // outbound queue bound per connection, in payload bytes (default 4 MiB)
	MaxTopics  int           // topics one connection may subscribe to (default 128)
	Heartbeat  time.Duration // interval of stream heartbeats (default 15 s)
	MaxAge     time.Duration // streams end after MaxAge plus up to 50 % jitter (default 10 min; <0: never)
	PollLinger time.Duration // a long-poll connection ends when not polled for this long (default 50 s)
	GapWait    time.Duration // how long an out-of-order frame waits before the log is read (default 100 ms)

	PresenceGrace time.Duration // a user leaving a room, or the server, is announced after this (default 5 s)
	// PresenceRoomLimit is the largest room whose arrivals and departures are announced one by
	// one (user_joined, user_left); larger rooms get only room_info (default 1,000).
	PresenceRoomLimit int
	RoomInfoDelay     time.Duration // room_info changes within this go out as one (default 100 ms)
	TypingExpiry      time.Duration // a typing start without a stop ends after this (default 5 s)
	// OnPresence, if set, is told when a user comes online, sets a status, or goes offline
	// (for the presence table). It is called with presence state locked: it must not block.
	OnPresence func(PresenceChange)
	// OnDisconnect, if set, is called once for every connection that Connect returned, when it
	// is removed (by its transport, expiry or shutdown); Conn.Reason says why. It must not block.
	OnDisconnect func(*Conn)
	// Broker, when set, connects this hub to the other nodes of a cluster (presence, typing,
	// heartbeats). Durable events reach other nodes through the store, not the broker.
	Broker         Broker
	HeartbeatEvery time.Duration // how often this node tells the cluster it is alive (default 1 s)
	NodeTimeout    time.Duration // a node silent this long is gone, with its connections (default 5 s)

	// ObserveLatency, if set, is told how long each live event took from Publish to being
	// written to a client. It is called on the writer's goroutine: it must be cheap.
	ObserveLatency func(time.Duration)

	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.QueueSize <= 0 {
		c.QueueSize = 1024
	}
	if c.QueueBytes <= 0 {
		c.QueueBytes = 4 << 20
	}
	if c.MaxTopics <= 0 {
		c.MaxTopics = 128
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.MaxAge == 0 {
		c.MaxAge = 10 * time.Minute
	}
	if c.PollLinger <= 0 {
		c.PollLinger = 50 * time.Second
	}
	if c.GapWait <= 0 {
		c.GapWait = 100 * time.Millisecond
	}
	if c.PresenceGrace <= 0 {
		c.PresenceGrace = 5 * time.Second
	}
	if c.PresenceRoomLimit <= 0 {
		c.PresenceRoomLimit = 1000
	}
	if c.RoomInfoDelay <= 0 {
		c.RoomInfoDelay = 100 * time.Millisecond
	}
	if c.TypingExpiry <= 0 {
		c.TypingExpiry = 5 * time.Second
	}
	if c.HeartbeatEvery <= 0 {
		c.HeartbeatEvery = time.Second
	}
	if c.NodeTimeout <= 0 {
		c.NodeTimeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Errors returned by the hub.
var (
	ErrShuttingDown   = errors.New("server is shutting down")
	ErrTooManyTopics  = errors.New("too many subscriptions on one connection")
	ErrNotSubscribed  = errors.New("not subscribed")
	ErrUnknownConn    = errors.New("unknown connection")
	ErrStoreRequired  = errors.New("realtime: Config.Store is required")
	errTopicNameLimit = errors.New("topic name too long")
)

const topicShards = 64

// Hub owns live state: topics, their subscribers, and the registry of connections. Publishing
// encodes nothing and never blocks: it hands a shared Frame to every subscriber's bounded queue.
type Hub struct {
	cfg   Config
	log   *slog.Logger
	seed  maphash.Seed
	shard [topicShards]struct {
		mu     sync.RWMutex // guards topics
		topics map[string]*topic
	}
	conns    registry
	presence *presence
	typing   *typing
	pulse    *pulse
	closing  atomic.Bool
	stopped  chan struct{}

	published meter         // frames published
	delivered atomic.Uint64 // frames handed to subscribers' outboxes
	counters  struct {
		slow      atomic.Uint64 // connections closed because their outbox overflowed
		recovered atomic.Uint64 // resumed subscriptions that replayed what they missed
		resets    atomic.Uint64 // subscriptions told to reload (history gap or foreign epoch)
	}
	stop sync.Once
}

// New returns a running hub. Call Close when done with it.
func New(cfg Config) (*Hub, error) {
	if cfg.Store == nil {
		return nil, ErrStoreRequired
	}
	cfg.setDefaults()
	h := &Hub{cfg: cfg, log: cfg.Logger, seed: maphash.MakeSeed(), stopped: make(chan struct{})}
	for i := range h.shard {
		h.shard[i].topics = make(map[string]*topic)
	}
	h.conns.init()
	h.presence, h.typing = newPresence(h), newTyping(h)
	h.pulse = newPulse(cfg.Heartbeat, h.stopped, h.pingParked)
	go h.runCluster()
	return h, nil
}

// Config returns the hub's configuration with defaults applied.
func (h *Hub) Config() Config { return h.cfg }

// pingParked asks every stream without a goroutine of its own for a heartbeat.
func (h *Hub) pingParked() {
	for _, c := range h.conns.all() {
		if fn := c.pinger.Load(); fn != nil {
			(*fn)()
		}
	}
}

// Pulse returns a channel closed at the next heartbeat. Stream writers select on it.
func (h *Hub) Pulse() <-chan struct{} { return h.pulse.C() }

// Close stops the hub's background work. Connections should be shut down first.
func (h *Hub) Close() { h.stop.Do(func() { close(h.stopped) }) }

func (h *Hub) shardOf(name string) int {
	return int(maphash.String(h.seed, name) % topicShards)
}

func (h *Hub) lookup(name string) *topic {
	s := &h.shard[h.shardOf(name)]
	s.mu.RLock()
	t := s.topics[name]
	s.mu.RUnlock()
	return t
}

// acquire returns the live topic named name, creating and loading it when it is new.
func (h *Hub) acquire(ctx context.Context, name string) (*topic, error) {
	s := &h.shard[h.shardOf(name)]
	s.mu.Lock()
	t, ok := s.topics[name]
	if !ok {
		t = newTopic(name)
		s.topics[name] = t
	}
	s.mu.Unlock()
	if !ok {
		h.load(t)
	}
	select {
	case <-t.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return t, t.err
}

func (h *Hub) load(t *topic) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, head, err := h.cfg.Store.LoadTopic(ctx, t.name)
	t.mu.Lock()
	if err != nil {
		t.err, t.dead = err, true
		t.mu.Unlock()
		s := &h.shard[h.shardOf(t.name)]
		s.mu.Lock()
		if s.topics[t.name] == t {
			delete(s.topics, t.name)
		}
		s.mu.Unlock()
		close(t.ready)
		return
	}
	t.id, t.head, t.loaded = id, head, true
	t.drainPending()
	t.mu.Unlock()
	close(t.ready)
}

// release drops t from the hub once it has no subscribers.
func (h *Hub) release(t *topic) {
	s := &h.shard[h.shardOf(t.name)]
	s.mu.Lock()
	t.mu.Lock()
	if len(t.subs) == 0 && t.loaded && !t.dead {
		t.dead = true
		if s.topics[t.name] == t {
			delete(s.topics, t.name)
		}
	}
	t.mu.Unlock()
	s.mu.Unlock()
}

// Publish delivers f to the subscribers of f.Topic on this node. Durable frames are delivered
// in offset order, each once, whatever order they arrive in. Publish never blocks on a client.
func (h *Hub) Publish(f *Frame) {
	if f.At.IsZero() {
		f.At = time.Now()
	}
	t := h.lookup(f.Topic)
	if t == nil {
		h.published.mark(1)
		return // nobody here listens
	}
	t.mu.Lock()
	fill := t.publish(f)
	n := len(t.subs)
	t.mu.Unlock()
	h.published.mark(1)
	h.delivered.Add(uint64(n))
	if fill {
		go h.fillGap(t)
	}
}

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
	RemoteAddr    string
	UserAgent     string
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
	c := &Conn{id: o.ID, user: o.User, transport: o.Transport, remoteAddr: o.RemoteAddr,
		userAgent: o.UserAgent, connectedAt: now, hub: h, resumed: o.Resumed,
		out: newOutbox(h.cfg.QueueSize, h.cfg.QueueBytes), topics: make(map[string]*topic)}
	c.lastActive.Store(now.UnixNano())
	h.presence.connect(c.user)
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

func (h *Hub) armDeadline(c *Conn, expires, now time.Time) {
	if c.transport == TransportPoll {
		c.timer = time.AfterFunc(h.cfg.PollLinger, func() { h.expirePoll(c) })
		return
	}
	reason, at := ReasonMaxAge, time.Time{}
	if h.cfg.MaxAge > 0 {
		at = now.Add(h.cfg.MaxAge + rand.N(h.cfg.MaxAge/2+1))
	}
	if !expires.IsZero() && (at.IsZero() || expires.Before(at)) {
		reason, at = ReasonTokenExpired, expires
	}
	if at.IsZero() {
		return
	}
	var final *Frame
	if reason == ReasonTokenExpired {
		final = &Frame{Type: EventTokenExpired, Payload: mustEncode(Event{Type: EventTokenExpired,
			Data: map[string]string{"expired_at": expires.UTC().Format(TimeFormat)}})}
	}
	c.timer = time.AfterFunc(time.Until(at), func() { c.closeWith(reason, final) })
}

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
		if _, ok := c.topics[ctl.topic]; !ok && len(c.topics) >= h.cfg.MaxTopics {
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
		c.topics[ctl.topic] = t
		c.mu.Unlock()
		if _, room := RoomOf(ctl.topic); room && added {
			h.presence.enter(ctl.topic, c.user)
		}
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
	t, ok := c.topics[topic]
	if !ok {
		c.mu.Unlock()
		return ErrNotSubscribed
	}
	delete(c.topics, topic)
	t.mu.Lock()
	t.remove(c)
	c.push(item{ctl: &control{topic: topic, topicID: t.id, announce: true, why: why}})
	t.mu.Unlock()
	c.mu.Unlock()
	h.release(t)
	if _, room := RoomOf(topic); room {
		h.presence.leave(topic, c.user)
	}
	return nil
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
	if c.timer != nil {
		c.timer.Stop()
	}
	for _, t := range topics {
		h.release(t)
		if _, room := RoomOf(t.name); room {
			h.presence.leave(t.name, c.user)
		}
	}
	h.presence.disconnect(c.user)
	h.conns.remove(c)
	if fn := h.cfg.OnDisconnect; fn != nil {
		fn(c)
	}
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

// Stats counts what the hub holds and does.
type Stats struct {
	Connections     int               `json:"connections"`
	ByTransport     map[Transport]int `json:"by_transport"`
	Topics          int               `json:"topics"`
	Rooms           int               `json:"rooms"`
	Subscriptions   int               `json:"subscriptions"`
	EventsPerSecond float64           `json:"events_per_second"` // published, over the last 10 s
	Published       uint64            `json:"published_total"`
	Delivered       uint64            `json:"delivered_total"` // frames handed to subscribers
	SlowClosed      uint64            `json:"slow_disconnects_total"`
	Recovered       uint64            `json:"resumes_recovered_total"`
	Resets          uint64            `json:"resumes_reset_total"`
}

// Stats returns current counts.
func (h *Hub) Stats() Stats {
	st := Stats{ByTransport: make(map[Transport]int), EventsPerSecond: h.published.rate(10), Published: h.published.total(),
		Delivered: h.delivered.Load(), SlowClosed: h.counters.slow.Load(), Recovered: h.counters.recovered.Load(),
		Resets: h.counters.resets.Load()}
	for _, tr := range []Transport{TransportSSE, TransportWS, TransportPoll} {
		st.ByTransport[tr] = 0
	}
	for _, c := range h.conns.all() {
		st.Connections++
		st.ByTransport[c.transport]++
	}
	for i := range h.shard {
		s := &h.shard[i]
		s.mu.RLock()
		st.Topics += len(s.topics)
		for name, t := range s.topics {
			if _, ok := RoomOf(name); ok {
				st.Rooms++
			}
			t.mu.Lock()
			st.Subscriptions += len(t.subs)
			t.mu.Unlock()
		}
		s.mu.RUnlock()
	}
	return st
}

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
