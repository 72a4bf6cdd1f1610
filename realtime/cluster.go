package realtime

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Broker carries what one node's hub must tell the other nodes of a cluster: presence,
// typing and heartbeats. Durable events do not go through it: the store announces them as it
// commits them, and each node hands them to Hub.Publish. It is declared here with plain types
// so that the database package satisfies it without importing this one.
type Broker interface {
	// Broadcast sends a message to every other node, without blocking.
	Broadcast(kind string, data []byte)
}

// Message kinds on the broker. Other kinds belong to other layers.
const (
	hubPrefix     = "hub."
	kindRoom      = "hub.room"   // a user arrived in or left a room on a node
	kindUser      = "hub.user"   // a user came online, went offline, or set a status on a node
	kindTyping    = "hub.typing" // a user started or stopped typing
	kindHeartbeat = "hub.beat"   // a node is alive
	kindHello     = "hub.hello"  // a node (re)joined: tell it your state
	kindState     = "hub.state"  // a node's whole presence state, in answer to hello
)

// HandlesKind reports whether a broker message kind is the hub's to handle.
func HandlesKind(kind string) bool { return strings.HasPrefix(kind, hubPrefix) }

type roomDelta struct {
	Room    string       `json:"room"`
	User    string       `json:"user"`
	Info    PresenceInfo `json:"info"`
	Present bool         `json:"present"`
}

type userDelta struct {
	User   string       `json:"user"`
	Info   PresenceInfo `json:"info"`
	Online bool         `json:"online"`
	Status bool         `json:"status,omitempty"` // a status change: tell the user's rooms
}

type typingDelta struct {
	Room string `json:"room"`
	User User   `json:"user"`
	On   bool   `json:"on"`
}

type nodeState struct {
	Rooms map[string][]string     `json:"rooms"` // room topic → users present on the node
	Users map[string]PresenceInfo `json:"users"` // users online on the node
}

// broadcast sends a hub message to the other nodes, when there are any.
func (h *Hub) broadcast(kind string, v any) {
	if h.cfg.Broker == nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		h.log.Error("encoding a cluster message", "kind", kind, "err", err)
		return
	}
	h.cfg.Broker.Broadcast(kind, b)
}

// Remote handles a message another node's hub broadcast.
func (h *Hub) Remote(from, kind string, data []byte) {
	p := h.presence
	switch kind {
	case kindTyping:
		var d typingDelta
		if json.Unmarshal(data, &d) == nil {
			h.typing.set(d.Room, d.User, d.On, false)
		}
		return
	case kindHello:
		p.sendState()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.nodes[from] = time.Now()
	switch kind {
	case kindRoom:
		var d roomDelta
		if json.Unmarshal(data, &d) == nil {
			p.remoteRoom(from, d.Room, d.User, d.Info, d.Present)
		}
	case kindUser:
		var d userDelta
		if json.Unmarshal(data, &d) == nil {
			p.remoteUser(from, d)
		}
	case kindState:
		var s nodeState
		if json.Unmarshal(data, &s) == nil {
			p.replaceNode(from, s)
		}
	}
}

// runCluster beats this node's heartbeat, greets the cluster, sends its whole presence state
// now and then (a message the broker dropped under load leaves nothing wrong for longer), and
// forgets nodes that went silent, until the hub is closed.
func (h *Hub) runCluster() {
	if h.cfg.Broker == nil {
		return
	}
	h.broadcast(kindHello, struct{}{})
	t := time.NewTicker(h.cfg.HeartbeatEvery)
	defer t.Stop()
	state := time.NewTicker(h.cfg.StateEvery)
	defer state.Stop()
	for {
		select {
		case <-h.stopped:
			return
		case <-state.C:
			h.presence.sendState()
			continue
		case <-t.C:
		}
		h.broadcast(kindHeartbeat, struct{}{})
		p := h.presence
		p.mu.Lock()
		for node, last := range p.nodes {
			if time.Since(last) > h.cfg.NodeTimeout {
				h.log.Warn("cluster: node went silent; forgetting its connections", "node", node)
				p.forgetNode(node)
			}
		}
		p.mu.Unlock()
	}
}

// Nodes returns the other nodes heard from recently.
func (h *Hub) Nodes() []string {
	p := h.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.nodes))
	for n := range p.nodes {
		out = append(out, n)
	}
	return out
}

// NodeCount returns how many other nodes were heard from recently.
func (h *Hub) NodeCount() int {
	p := h.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.nodes)
}

// Resync catches this node up after it may have missed other nodes' messages (its listening
// connection was lost): every live topic is read from the log past what it delivered, and the
// other nodes are asked for their presence state again.
func (h *Hub) Resync() {
	for i := range h.shard {
		s := &h.shard[i]
		s.mu.RLock()
		topics := make([]*topic, 0, len(s.topics))
		for _, t := range s.topics {
			topics = append(topics, t)
		}
		s.mu.RUnlock()
		for _, t := range topics {
			h.catchUp(t)
		}
	}
	h.broadcast(kindHello, struct{}{})
}

// catchUp delivers what the log has past a topic's head.
func (h *Hub) catchUp(t *topic) {
	t.mu.Lock()
	from, loaded, id := t.head, t.loaded, t.id
	t.mu.Unlock()
	if !loaded {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		var got []*Frame
		_, _, err := h.cfg.Store.ReadTopic(ctx, id, from, replayPageSize, func(offset uint64, typ string, payload []byte, audience string) {
			got = append(got, &Frame{Topic: t.name, TopicID: id, Offset: offset, Type: EventType(typ), Payload: payload,
				Audience: ParseAudience(audience)})
		})
		if err != nil {
			h.log.Warn("cluster: catching up a topic", "topic", t.name, "err", err)
			return
		}
		for _, f := range got {
			h.Publish(f)
		}
		if len(got) < replayPageSize {
			return
		}
		from = got[len(got)-1].Offset
	}
}
