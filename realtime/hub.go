package realtime

import (
	"context"
	"errors"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Errors returned by the hub.
var (
	ErrShuttingDown   = errors.New("server is shutting down")
	ErrTooManyTopics  = errors.New("too many subscriptions on one connection")
	ErrNotSubscribed  = errors.New("not subscribed")
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
	conns     registry
	deadlines deadlines // streams' expiries
	presence  *presence
	typing    *typing
	pulse     *pulse
	cursors   *cursorSigner
	closing   atomic.Bool
	stopped   chan struct{}

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
	h := &Hub{cfg: cfg, log: cfg.Logger, seed: maphash.MakeSeed(), stopped: make(chan struct{}),
		cursors: newCursorSigner(cfg.CursorKey)}
	for i := range h.shard {
		h.shard[i].topics = make(map[string]*topic)
	}
	h.conns.init()
	h.deadlines.expire = (*Conn).expire
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
		if p := c.pinger.Load(); p != nil {
			p.ping()
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
	ld := t.loading
	s.mu.Unlock()
	if !ok {
		h.load(t, ld) // loaded (or failed) on return
		return t, ld.err
	}
	if ld == nil {
		return t, nil
	}
	select {
	case <-ld.done:
		return t, ld.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (h *Hub) load(t *topic, ld *topicLoad) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, head, err := h.cfg.Store.LoadTopic(ctx, t.name)
	t.mu.Lock()
	if err != nil {
		ld.err, t.dead = err, true
		t.mu.Unlock()
		s := &h.shard[h.shardOf(t.name)]
		s.mu.Lock()
		if s.topics[t.name] == t {
			delete(s.topics, t.name)
		}
		s.mu.Unlock()
		close(ld.done)
		return
	}
	t.id, t.head, t.loaded = id, head, true
	t.drainPending()
	t.mu.Unlock()
	close(ld.done)
	// A loaded topic keeps no loading state; acquire finds none and waits for nothing.
	s := &h.shard[h.shardOf(t.name)]
	s.mu.Lock()
	t.loading = nil
	s.mu.Unlock()
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
