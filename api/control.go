package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/db"
	"switchboard/realtime"
)

// Cluster joins this node to the others sharing its PostgreSQL database: their committed
// events reach this node's hub, the hubs exchange presence and typing, and REST actions can
// reach connections held by other nodes over a control channel.
type Cluster struct {
	bus    *db.Bus
	server atomic.Pointer[Server] // set by New; messages before it are for nobody here yet
	closed sync.Once

	mu      sync.Mutex // guards waiting
	waiting map[string]chan controlReply
}

var _ realtime.Broker = (*Cluster)(nil)

// StartCluster connects this node to the cluster through the database at url (PostgreSQL).
// Start does, and makes it the hub's Broker and the API's Config.Cluster.
func StartCluster(store *db.DB, url string) (*Cluster, error) {
	c := &Cluster{waiting: make(map[string]chan controlReply)}
	bus, err := store.StartBus(url, db.BusHandlers{Event: c.onEvent, Message: c.onMessage, Resync: c.onResync})
	if err != nil {
		return nil, err
	}
	c.bus = bus
	return c, nil
}

// Broadcast sends a hub message to the other nodes.
func (c *Cluster) Broadcast(kind string, data []byte) { c.bus.Broadcast(kind, data) }

// Healthy reports whether this node hears the others; a node that does not is degraded.
func (c *Cluster) Healthy() bool { return c.bus.Healthy() }

// Close leaves the cluster; closing it again does nothing.
func (c *Cluster) Close() { c.closed.Do(c.bus.Close) }

func (c *Cluster) onEvent(ev db.Appended) {
	if s := c.server.Load(); s != nil {
		s.publish(ev)
	}
}

func (c *Cluster) onResync() {
	if s := c.server.Load(); s != nil {
		s.hub.Resync()
	}
}

func (c *Cluster) onMessage(from, kind string, data []byte) {
	s := c.server.Load()
	if s == nil {
		return
	}
	switch {
	case realtime.HandlesKind(kind):
		s.hub.Remote(from, kind, data)
	case kind == kindControl:
		var req controlRequest
		if json.Unmarshal(data, &req) == nil {
			go s.serveControl(from, req) // a control action may take locks; keep the bus moving
		}
	case kind == kindReply:
		var rep controlReply
		if json.Unmarshal(data, &rep) == nil {
			rep.Node = from
			c.mu.Lock()
			ch := c.waiting[rep.Re]
			c.mu.Unlock()
			if ch != nil {
				select {
				case ch <- rep:
				default:
				}
			}
		}
	}
}

// Control messages: a request every node receives, and the replies of those it concerns.
const (
	kindControl = "ctl.req"
	kindReply   = "ctl.rep"
	// controlWait bounds how long a request waits for other nodes' replies.
	controlWait = 2 * time.Second
)

type controlRequest struct {
	ID     string    `json:"id"`
	Op     string    `json:"op"` // join, leave, locate, close, token, kick, list, claim, unsubscribe
	Conn   string    `json:"conn,omitempty"`
	User   string    `json:"user,omitempty"`
	Room   string    `json:"room,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Keep   []string  `json:"keep,omitempty"` // unsubscribe: users to leave subscribed
	All    bool      `json:"all,omitempty"`  // unsubscribe: every user's connections
	Until  time.Time `json:"until,omitzero"` // token: the fresh token's expiry; kick: the block's end
}

type controlReply struct {
	Re    string          `json:"re"`
	Node  string          `json:"-"`
	Found bool            `json:"found"`
	Error *remoteError    `json:"error,omitempty"`
	Count int             `json:"count,omitempty"`
	Conns []realtime.Info `json:"conns,omitempty"`
}

// remoteError is an Error as it crosses the control channel.
type remoteError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func toRemoteError(err error) *remoteError {
	e := asError(err)
	return &remoteError{Status: e.Status, Code: e.Code, Message: e.Message, Field: e.Field}
}

func (r *remoteError) err() *Error {
	return &Error{Status: r.Status, Code: r.Code, Message: r.Message, Field: r.Field}
}

// ask broadcasts a request and collects replies until every live node answered, one answer
// settles it (done), or the wait runs out.
func (s *Server) ask(ctx context.Context, req controlRequest, done func(controlReply) bool) []controlReply {
	c := s.cfg.Cluster
	if c == nil {
		return nil
	}
	var id [9]byte
	rand.Read(id[:])
	req.ID = hex.EncodeToString(id[:])
	ch := make(chan controlReply, 64)
	c.mu.Lock()
	c.waiting[req.ID] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiting, req.ID)
		c.mu.Unlock()
	}()
	data, _ := json.Marshal(req)
	c.bus.Broadcast(kindControl, data)
	expect := len(s.hub.Nodes())
	var replies []controlReply
	timer := time.NewTimer(controlWait)
	defer timer.Stop()
	for len(replies) < expect {
		select {
		case rep := <-ch:
			replies = append(replies, rep)
			if done != nil && done(rep) {
				return replies
			}
		case <-timer.C:
			return replies
		case <-ctx.Done():
			return replies
		}
	}
	return replies
}

// tell broadcasts a request that needs no answer.
func (s *Server) tell(req controlRequest) {
	if c := s.cfg.Cluster; c != nil {
		data, _ := json.Marshal(req)
		c.bus.Broadcast(kindControl, data)
	}
}

// serveControl carries out another node's request on this node's connections and replies.
func (s *Server) serveControl(from string, req controlRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), controlWait)
	defer cancel()
	rep := controlReply{Re: req.ID}
	switch req.Op {
	case "join", "leave", "locate", "close", "token":
		conn, ok := s.hub.Conn(req.Conn)
		if !ok {
			break
		}
		rep.Found = true
		if conn.User().ID != req.User {
			rep.Error = toRemoteError(forbidden("connection %s belongs to another user", req.Conn))
			break
		}
		var err error
		switch req.Op {
		case "join":
			err = s.subscribe(ctx, conn, req.Room)
		case "leave":
			err = s.unsubscribe(conn, req.Room)
		case "close":
			s.closeOwn(conn)
		case "token":
			err = extendConn(conn, req.Until)
		}
		if err != nil {
			rep.Error = toRemoteError(err)
		}
	case "kick":
		rep.Count = s.kickLocal(req)
	case "list":
		rep.Conns = s.localConns(req.User, req.Room)
	case "claim": // a long-poll connection resumed on another node: this copy is stale
		// Only its own user's resume retires it: a leaked id kills nobody's connection.
		if conn, ok := s.hub.Conn(req.Conn); ok && conn.Transport() == realtime.TransportPoll && conn.User().ID == req.User {
			conn.Close(realtime.ReasonReplaced)
			s.closeConn(conn)
		}
		return
	case "unsubscribe":
		s.unsubscribeLocal(req)
		return
	default:
		return
	}
	if req.Op == "join" || req.Op == "leave" || req.Op == "locate" || req.Op == "close" || req.Op == "token" {
		if !rep.Found {
			rep.Error = nil
		}
	}
	data, _ := json.Marshal(rep)
	if c := s.cfg.Cluster; c != nil {
		c.bus.Broadcast(kindReply, data)
	}
}

// remoteConn asks the cluster to carry out req (join, leave, locate, close, token) on a
// connection of req.User held by another node. It returns a 404 Error when no node holds it.
func (s *Server) remoteConn(ctx context.Context, req controlRequest) error {
	replies := s.ask(ctx, req, func(r controlReply) bool { return r.Found })
	for _, r := range replies {
		if r.Found {
			if r.Error != nil {
				return r.Error.err()
			}
			return nil
		}
	}
	return notFound("connection_not_found", "no live connection %s", req.Conn)
}

// unsubscribeLocal takes this node's connections out of a room: one user's, or everyone's but
// the users to keep.
func (s *Server) unsubscribeLocal(req controlRequest) {
	topic := realtime.RoomTopic(req.Room)
	keep := make(map[string]bool, len(req.Keep))
	for _, id := range req.Keep {
		keep[id] = true
	}
	for _, conn := range s.hub.Subscribers(topic) {
		if uid := conn.User().ID; (req.All && !keep[uid]) || (!req.All && uid == req.User) {
			_ = s.hub.Unsubscribe(conn, topic, req.Reason)
		}
	}
}
