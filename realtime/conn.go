package realtime

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Transport names how a connection is carried.
type Transport string

// Transports.
const (
	TransportSSE  Transport = "sse"
	TransportWS   Transport = "ws"
	TransportPoll Transport = "poll"
)

// User is who a connection belongs to, as the auth layer established it.
type User struct {
	ID          string
	Name        string
	Avatar      string
	Roles       []string
	Permissions []string
}

// CloseReason says why the server ended a connection. Transports map it to their own signals.
type CloseReason int

// Close reasons.
const (
	ReasonNone         CloseReason = iota
	ReasonClientGone               // the client went away
	ReasonShutdown                 // the server is stopping; resume elsewhere
	ReasonSlow                     // the outbound queue overflowed; resume from the cursor
	ReasonKicked                   // an administrator removed the user; do not reconnect
	ReasonTokenExpired             // the token's exp passed; refresh it and resume
	ReasonMaxAge                   // the stream reached its maximum age; resume
	ReasonPollExpired              // a long-poll connection was not polled in time
	ReasonReplaced                 // a newer connection took over this one
	ReasonError                    // the server could not continue (e.g. the log was unreadable)
	ReasonAbuse                    // the client kept exceeding its rate limits
)

var reasonNames = [...]string{"none", "client_gone", "shutdown", "slow_consumer", "kicked",
	"token_expired", "max_age", "poll_expired", "replaced", "server_error", "abuse"}

func (r CloseReason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// ErrClosed is returned by Conn methods once the connection is closed; Conn.Reason says why.
var ErrClosed = errors.New("connection closed")

// Conn is one client connection on any transport. The hub owns its registration; its
// transport owns the consumer side (Drain), which only one goroutine calls at a time.
type Conn struct {
	id          string
	user        *User // the user's own copy, shared with its presence entry
	transport   Transport
	remoteAddr  string
	userAgent   string
	connectedAt int64 // Unix nanoseconds
	hub         *Hub
	out         *outbox
	lastActive  atomic.Int64 // unix nanoseconds of the last delivery or client action

	mu     sync.Mutex // guards topics and gone; taken before any topic's mu
	topics []*topic   // topics this connection is registered in (at most MaxSubscriptions)
	gone   bool       // removed from the hub; no further subscriptions
	// Packed beside gone (a connection is ~500 bytes; each word counts, times every stream):
	resumed       bool  // connected with a cursor
	deadlineIndex int32 // the hub's deadlines: position in its heap, -1 when not there
	deadlineAt    int64 // the hub's deadlines: when this stream is due, in Unix nanoseconds

	initial []control // subscriptions made at connect, in order; the consumer's once it starts
	expiry  expiry    // the token's expiry, announced in connected; streams end then (Hub.deadlines)
	kill    atomic.Pointer[func()]
	pinger  atomic.Pointer[pump]   // a stream without a goroutine of its own: heartbeats ping it
	reason  atomic.Pointer[string] // words given with a kick

	cons consumer   // owned by the goroutine calling Drain
	poll *pollState // long-poll connections only; nil on streams
}

// ID returns the connection id clients use to name this connection in REST actions.
func (c *Conn) ID() string { return c.id }

// User returns the connection's user.
func (c *Conn) User() User { return *c.user }

// Transport returns how the connection is carried.
func (c *Conn) Transport() Transport { return c.transport }

// Ready is signalled when messages are waiting for Drain or the connection closed.
func (c *Conn) Ready() <-chan struct{} { return c.out.waker() }

// Reason returns why the connection closed, or ReasonNone while it is open.
func (c *Conn) Reason() CloseReason {
	c.out.mu.Lock()
	defer c.out.mu.Unlock()
	return c.out.reason
}

// Close ends the connection for reason. Its transport sees ErrClosed from Drain and ends the
// stream with the reason's signal.
func (c *Conn) Close(reason CloseReason) { c.closeWith(reason, nil) }

// CloseWith ends the connection for reason after delivering final, which frames queued before
// it would not be: the last word the client hears (the fault that ended it).
func (c *Conn) CloseWith(reason CloseReason, final *Frame) { c.closeWith(reason, final) }

func (c *Conn) closeWith(reason CloseReason, final *Frame) {
	if c.out.close(reason, final) && reason == ReasonSlow {
		c.abortWrites()
	}
}

// note returns the words given when the connection was closed, if any.
func (c *Conn) note() string {
	if p := c.reason.Load(); p != nil {
		return *p
	}
	return ""
}

// OnAbort registers how to break a write that is blocked on a stalled client; the hub calls it
// when the connection's queue overflows. Transports set it once, before their first write; a
// stream written by a pump needs none when aborting its outConn is enough.
func (c *Conn) OnAbort(fn func()) { c.kill.Store(&fn) }

// abortWrites breaks a blocked write: the transport's way, or a parked stream's own (its pump's
// connection), which so costs no closure per stream.
func (c *Conn) abortWrites() {
	if fn := c.kill.Load(); fn != nil {
		go (*fn)()
	} else if p := c.pinger.Load(); p != nil {
		go p.out.abort()
	}
}

// setPing sets the pump a heartbeat pings, or none.
func (c *Conn) setPing(p *pump) { c.pinger.Store(p) }

// Send queues a frame for this connection alone (a reply, a fault).
func (c *Conn) Send(f *Frame) error {
	if !c.push(item{frame: f}) {
		return ErrClosed
	}
	return nil
}

// push queues it without blocking. When the outbox overflows, the connection is closed as slow
// and a write blocked on the stalled client is broken off.
func (c *Conn) push(it item) bool {
	ok, overflowed := c.out.push(it)
	if overflowed {
		c.hub.counters.slow.Add(1)
		c.abortWrites()
	}
	return ok
}

// Touch records client activity.
func (c *Conn) Touch() { c.lastActive.Store(time.Now().UnixNano()) }

// Info is a snapshot of a connection for listings.
type Info struct {
	ID          string    `json:"connection_id"`
	UserID      string    `json:"user_id"`
	UserName    string    `json:"user_name,omitempty"`
	Transport   Transport `json:"transport"`
	Rooms       []string  `json:"rooms"`
	ConnectedAt WireTime  `json:"connected_at"`
	LastActive  WireTime  `json:"last_activity"`
	RemoteAddr  string    `json:"remote_addr"`
	UserAgent   string    `json:"user_agent"`
}

// Info returns a snapshot of c.
func (c *Conn) Info() Info {
	return Info{ID: c.id, UserID: c.user.ID, UserName: c.user.Name, Transport: c.transport,
		Rooms: c.Rooms(), ConnectedAt: WireTime{time.Unix(0, c.connectedAt)}, LastActive: WireTime{time.Unix(0, c.lastActive.Load())},
		RemoteAddr: c.remoteAddr, UserAgent: c.userAgent}
}

// Rooms returns the keys of the rooms c is subscribed to.
func (c *Conn) Rooms() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	rooms := make([]string, 0, len(c.topics))
	for _, t := range c.topics {
		if key, ok := RoomOf(t.name); ok {
			rooms = append(rooms, key)
		}
	}
	return rooms
}

// Subscribed reports whether c is registered in topic.
func (c *Conn) Subscribed(topic string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.topicIndex(topic) >= 0
}

// topicIndex returns the position of the topic named name in c.topics, or -1. c.mu is held.
func (c *Conn) topicIndex(name string) int {
	for i, t := range c.topics {
		if t.name == name {
			return i
		}
	}
	return -1
}
