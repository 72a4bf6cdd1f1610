package realtime

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Presence statuses a user may set; "offline" is the server's to set.
const (
	StatusOnline  = "online"
	StatusAway    = "away"
	StatusBusy    = "busy"
	StatusOffline = "offline"
)

// PresenceChange is a user's presence as it changes: coming online (first connection),
// setting a status, or going offline (the last connection gone for the grace period).
type PresenceChange struct {
	User        User
	Status      string
	CurrentPage string
	At          time.Time
}

// PresenceInfo is one user present in a room.
type PresenceInfo struct {
	UserID      string   `json:"user_id"`
	UserName    string   `json:"user_name"`
	Status      string   `json:"status"`
	CurrentPage string   `json:"current_page,omitempty"`
	LastSeen    WireTime `json:"last_seen"`
}

// presence tracks who is in which room. A user is in a room while any of their connections —
// on this node or, in a cluster, on another — is subscribed to it; several tabs count once.
// Leaving, of a room or of the server, takes effect only after a grace period, so that a
// reconnect emits nothing. Each node emits presence events to its own subscribers when the
// cluster-wide answer changes, and tells the other nodes of its own changes.
type presence struct {
	hub *Hub

	mu     sync.Mutex                        // guards the fields below; taken before any topic.mu, since it publishes
	rooms  map[string]map[string]*roomMember // room topic → user id → this node's member
	users  map[string]*userState             // user id → this node's state
	remote map[string]map[string]nodeSet     // room topic → user id → other nodes where present
	others map[string]*remoteUser            // user id → what other nodes say of them
	nodes  map[string]time.Time              // other nodes → their last heartbeat
	dirty  map[string]bool                   // rooms whose room_info is due
}

type roomMember struct {
	conns int
	leave *time.Timer // pending leave, during the grace period
}

type userState struct {
	user     *User // never changed in place: connections share it
	conns    int
	status   string
	page     string
	lastSeen int64       // Unix nanoseconds
	offline  *time.Timer // pending offline, during the grace period
}

type remoteUser struct {
	info  PresenceInfo
	nodes nodeSet
}

type nodeSet map[string]bool

func newPresence(h *Hub) *presence {
	return &presence{hub: h, rooms: make(map[string]map[string]*roomMember), users: make(map[string]*userState),
		remote: make(map[string]map[string]nodeSet), others: make(map[string]*remoteUser), nodes: make(map[string]time.Time),
		dirty: make(map[string]bool)}
}

// present reports whether a user is in a room anywhere in the cluster.
func (p *presence) present(topic, userID string) bool {
	return p.rooms[topic][userID] != nil || len(p.remote[topic][userID]) > 0
}

// onlineCount is how many users are in a room anywhere in the cluster.
func (p *presence) onlineCount(topic string) int {
	n := len(p.rooms[topic])
	for id, nodes := range p.remote[topic] {
		if len(nodes) > 0 && p.rooms[topic][id] == nil {
			n++
		}
	}
	return n
}

// connect counts a new connection of u and returns the copy of u the connection keeps: the
// user's entry's own when it says the same (one copy per user, not per connection).
func (p *presence) connect(u User) *User {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.users[u.ID]
	kept := &u
	if st != nil && sameUser(*st.user, u) {
		kept = st.user
	}
	if st == nil {
		st = &userState{user: kept, status: StatusOnline}
		if o := p.others[u.ID]; o != nil && len(o.nodes) > 0 {
			st.status, st.page = o.info.Status, o.info.CurrentPage // online elsewhere already
		}
		p.users[u.ID] = st
	}
	st.conns++
	st.lastSeen = time.Now().UnixNano()
	if st.offline != nil {
		st.offline.Stop() // back within the grace period: nothing happened
		st.offline = nil
		return kept
	}
	if st.conns == 1 {
		p.hub.broadcast(kindUser, userDelta{User: u.ID, Info: p.info(u.ID), Online: true})
		if !p.onlineElsewhere(u.ID) {
			p.notify(st)
		}
	}
	return kept
}

// sameUser reports whether a and b say the same of a user.
func sameUser(a, b User) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Avatar == b.Avatar &&
		slices.Equal(a.Roles, b.Roles) && slices.Equal(a.Permissions, b.Permissions)
}

func (p *presence) onlineElsewhere(userID string) bool {
	o := p.others[userID]
	return o != nil && len(o.nodes) > 0
}

// disconnect counts a connection of u gone; after the grace period with none left, u is offline
// here, and offline altogether unless another node still has them.
func (p *presence) disconnect(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.users[u.ID]
	if st == nil {
		return
	}
	st.conns--
	st.lastSeen = time.Now().UnixNano()
	if st.conns > 0 {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(p.hub.cfg.PresenceGrace, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if st.offline != t || p.users[u.ID] != st {
			return // superseded
		}
		delete(p.users, u.ID)
		p.hub.broadcast(kindUser, userDelta{User: u.ID, Online: false})
		if !p.onlineElsewhere(u.ID) {
			st.status, st.page = StatusOffline, ""
			p.notify(st)
		}
	})
	st.offline = t
}

func (p *presence) notify(st *userState) {
	if fn := p.hub.cfg.OnPresence; fn != nil {
		fn(PresenceChange{User: *st.user, Status: st.status, CurrentPage: st.page, At: time.Unix(0, st.lastSeen)})
	}
}

// enter records that a connection of u subscribed to a room topic.
func (p *presence) enter(topic string, u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	room := p.rooms[topic]
	if room == nil {
		room = make(map[string]*roomMember)
		p.rooms[topic] = room
	}
	m := room[u.ID]
	if m == nil {
		was := p.present(topic, u.ID)
		m = &roomMember{}
		room[u.ID] = m
		p.hub.broadcast(kindRoom, roomDelta{Room: topic, User: u.ID, Info: p.info(u.ID), Present: true})
		if !was {
			p.joined(topic, u.ID)
		}
	}
	m.conns++
	if m.leave != nil {
		m.leave.Stop() // a reconnect within the grace period
		m.leave = nil
	}
}

// leave records that a connection of u left a room topic. When it was u's last there, u leaves
// the room after the grace period.
func (p *presence) leave(topic string, u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.rooms[topic][u.ID]
	if m == nil || m.conns == 0 {
		return
	}
	m.conns--
	if m.conns > 0 {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(p.hub.cfg.PresenceGrace, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		room := p.rooms[topic]
		if room[u.ID] != m || m.leave != t {
			return // superseded
		}
		delete(room, u.ID)
		if len(room) == 0 {
			delete(p.rooms, topic)
		}
		p.hub.broadcast(kindRoom, roomDelta{Room: topic, User: u.ID, Present: false})
		if !p.present(topic, u.ID) {
			p.left(topic, u.ID)
		}
	})
	m.leave = t
}

// joined and left tell this node's subscribers of a room that a user arrived or went, and the
// new count. In a room with more users than PresenceRoomLimit, arrivals and departures are not
// announced one by one — that would cost every member a message per member — only the count.
// Called with p.mu held.
func (p *presence) joined(topic, userID string) {
	if p.onlineCount(topic) <= p.hub.cfg.PresenceRoomLimit {
		p.publish(topic, EventUserJoined, p.userData(topic, userID))
	}
	p.roomInfoDue(topic)
}

func (p *presence) left(topic, userID string) {
	if p.onlineCount(topic) < p.hub.cfg.PresenceRoomLimit {
		data := p.userData(topic, userID)
		data.Status = StatusOffline
		p.publish(topic, EventUserLeft, data)
	}
	p.roomInfoDue(topic)
}

// roomInfoDue schedules a room's room_info. Changes within RoomInfoDelay go out as one event
// with the count at the end, so a crowd arriving at once does not send one count per arrival.
func (p *presence) roomInfoDue(topic string) {
	if len(p.dirty) == 0 {
		time.AfterFunc(p.hub.cfg.RoomInfoDelay, p.flushRoomInfo)
	}
	p.dirty[topic] = true
}

func (p *presence) flushRoomInfo() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for topic := range p.dirty {
		key, _ := RoomOf(topic)
		p.publish(topic, EventRoomInfo, map[string]any{"room": key, "online_count": p.onlineCount(topic)})
	}
	clear(p.dirty)
}

// setStatus records a status chosen by u and tells the rooms u is in. It reports false when u
// has no connection on this node.
func (p *presence) setStatus(u User, status, page string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.users[u.ID]
	if st == nil || st.conns == 0 {
		return false
	}
	st.status, st.page, st.lastSeen = status, page, time.Now().UnixNano()
	if !sameUser(*st.user, u) {
		st.user = &u
	}
	p.notify(st)
	p.hub.broadcast(kindUser, userDelta{User: u.ID, Info: p.info(u.ID), Online: true, Status: true})
	p.announceStatus(u.ID)
	return true
}

// announceStatus sends user_presence to this node's subscribers of every room the user is in.
func (p *presence) announceStatus(userID string) {
	for _, topic := range p.roomsOf(userID) {
		p.publish(topic, EventUserPresence, p.userData(topic, userID))
	}
}

func (p *presence) roomsOf(userID string) []string {
	var out []string
	for topic := range p.rooms {
		if p.present(topic, userID) {
			out = append(out, topic)
		}
	}
	for topic := range p.remote {
		if p.rooms[topic][userID] == nil && p.present(topic, userID) {
			out = append(out, topic)
		}
	}
	return out
}

// inRoom lists the users present in a room topic anywhere in the cluster, sorted by id.
func (p *presence) inRoom(topic string) []PresenceInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []PresenceInfo
	for id := range p.rooms[topic] {
		out = append(out, p.info(id))
	}
	for id, nodes := range p.remote[topic] {
		if len(nodes) > 0 && p.rooms[topic][id] == nil {
			out = append(out, p.info(id))
		}
	}
	slices.SortFunc(out, func(a, b PresenceInfo) int { return strings.Compare(a.UserID, b.UserID) })
	return out
}

func (p *presence) info(userID string) PresenceInfo {
	if st := p.users[userID]; st != nil {
		return PresenceInfo{UserID: userID, UserName: st.user.Name, Status: st.status, CurrentPage: st.page, LastSeen: WireTime{time.Unix(0, st.lastSeen)}}
	}
	if o := p.others[userID]; o != nil {
		return o.info
	}
	return PresenceInfo{UserID: userID, Status: StatusOnline, LastSeen: WireTime{time.Now()}} // within a grace period
}

type presenceData struct {
	Room string `json:"room"`
	PresenceInfo
}

func (p *presence) userData(topic, userID string) presenceData {
	key, _ := RoomOf(topic)
	return presenceData{Room: key, PresenceInfo: p.info(userID)}
}

// publish sends an ephemeral event to this node's subscribers of a room topic. Called with p.mu
// held, so that a room's presence events go out in the order they happened.
func (p *presence) publish(topic string, typ EventType, data any) {
	key, _ := RoomOf(topic)
	p.hub.Publish(&Frame{Topic: topic, Type: typ, Payload: mustEncode(Event{Type: typ, Room: key, Data: data})})
}

// RoomPresence lists who is in a room.
func (h *Hub) RoomPresence(room string) []PresenceInfo { return h.presence.inRoom(RoomTopic(room)) }

// OnlineCount returns how many users are in a room.
func (h *Hub) OnlineCount(room string) int {
	h.presence.mu.Lock()
	defer h.presence.mu.Unlock()
	return h.presence.onlineCount(RoomTopic(room))
}

// SetStatus records u's chosen status and current page and sends user_presence to every room
// u is in. It reports false when u has no live connection here.
func (h *Hub) SetStatus(u User, status, page string) bool {
	return h.presence.setStatus(u, status, page)
}
