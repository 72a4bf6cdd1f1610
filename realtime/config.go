package realtime

import (
	"crypto/rand"
	"log/slog"
	"time"
)

// Config tunes a Hub. The zero value of every field but Store selects a sensible default.
type Config struct {
	Store Store  // the event log; required
	Epoch uint64 // the log's epoch, written into every cursor
	// CursorKey signs cursors, so that a cursor the server did not issue is refused whole.
	// Nodes of a cluster share it, and it outlives restarts (default: random, for this hub only).
	CursorKey []byte

	QueueSize        int           // outbound queue bound per connection, in frames (default 1024)
	QueueBytes       int           // outbound queue bound per connection, in payload bytes (default 4 MiB)
	MaxSubscriptions int           // topics one connection may subscribe to (default 128)
	Heartbeat        time.Duration // interval of stream heartbeats (default 15 s)
	MaxStreamAge     time.Duration // streams end after this plus up to 50 % jitter (default 10 min; <0: never)
	PollLinger       time.Duration // a long-poll connection ends when not polled for this long (default 50 s)
	GapWait          time.Duration // how long an out-of-order frame waits before the log is read (default 100 ms)

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
	// StateEvery is how often this node sends its whole presence state, so that the others
	// repair what a lost message left wrong (default 30 s).
	StateEvery time.Duration

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
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = 128
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.MaxStreamAge == 0 {
		c.MaxStreamAge = 10 * time.Minute
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
	if c.StateEvery <= 0 {
		c.StateEvery = 30 * time.Second
	}
	if c.NodeTimeout <= 0 {
		c.NodeTimeout = 5 * time.Second
	}
	if len(c.CursorKey) == 0 {
		c.CursorKey = make([]byte, 32)
		rand.Read(c.CursorKey)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}
