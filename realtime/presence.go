package realtime

import (
	"slices"
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
	UserID      string    `json:"user_id"`
	UserName    string    `json:"user_name"`
	Status      string    `json:"status"`
	CurrentPage string    `json:"current_page,omitempty"`
	LastSeen    time.Time `json:"last_seen"`
}

// presence tracks who is in which room on this node. A user is in a room while any of their
// connections is subscribed to it; several tabs count once. Leaving, of a room or of the
// server, takes effect only after a grace period, so that a reconnect emits nothing.
type presence struct {
	hub *Hub

	mu    sync.Mutex                        // guards the fields below; taken before any topic.mu, since it publishes
	rooms map[string]map[string]*roomMember // room topic → user id → member
	users map[string]*userState
}

type roomMember struct {
	conns int
	leave *time.Timer // pending user_left, during the grace period
}

type userState struct {
	user     User
	conns    int
	status   string
	page     string
	lastSeen time.Time
	offline  *time.Timer // pending offline, during the grace period
}

func newPresence(h *Hub) *presence {
	return &presence{hub: h, rooms: make(map[string]map[string]*roomMember), users: make(map[string]*userState)}
}

// connect counts a new connection of u.
func (p *presence) connect(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.users[u.ID]
	if st == nil {
		st = &userState{user: u, status: StatusOnline}
		p.users[u.ID] = st
	}
	st.conns++
	st.lastSeen = time.Now()
	if st.offline != nil {
		st.offline.Stop() // back within the grace period: nothing happened
		st.offline = nil
		return
	}
	if st.conns == 1 {
		p.notify(st)
	}
}

// disconnect counts a connection of u gone; after the grace period with none left, u is offline.
func (p *presence) disconnect(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.users[u.ID]
	if st == nil {
		return
	}
	st.conns--
	st.lastSeen = time.Now()
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
		st.status, st.page = StatusOffline, ""
		p.notify(st)
	})
	st.offline = t
}

func (p *presence) notify(st *userState) {
	if fn := p.hub.cfg.OnPresence; fn != nil {
		fn(PresenceChange{User: st.user, Status: st.status, CurrentPage: st.page, At: st.lastSeen})
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
		m = &roomMember{}
		room[u.ID] = m
	}
	m.conns++
	if m.conns > 1 {
		return
	}
	if m.leave != nil {
		m.leave.Stop() // a reconnect within the grace period
		m.leave = nil
		return
	}
	p.publish(topic, EventUserJoined, p.userData(topic, u.ID))
	p.publishRoomInfo(topic)
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
	data := p.userData(topic, u.ID)
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
		p.publish(topic, EventUserLeft, data)
		p.publishRoomInfo(topic)
	})
	m.leave = t
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
	st.status, st.page, st.lastSeen = status, page, time.Now()
	st.user = u
	p.notify(st)
	for topic, room := range p.rooms {
		if m := room[u.ID]; m != nil && m.conns > 0 {
			p.publish(topic, EventUserPresence, p.userData(topic, u.ID))
		}
	}
	return true
}

// inRoom lists the users present in a room topic, sorted by id.
func (p *presence) inRoom(topic string) []PresenceInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PresenceInfo, 0, len(p.rooms[topic]))
	for id := range p.rooms[topic] {
		out = append(out, p.info(id))
	}
	slices.SortFunc(out, func(a, b PresenceInfo) int {
		if a.UserID < b.UserID {
			return -1
		}
		if a.UserID > b.UserID {
			return 1
		}
		return 0
	})
	return out
}

func (p *presence) info(userID string) PresenceInfo {
	st := p.users[userID]
	if st == nil { // gone, within the room's grace period
		return PresenceInfo{UserID: userID, Status: StatusOnline, LastSeen: time.Now()}
	}
	return PresenceInfo{UserID: userID, UserName: st.user.Name, Status: st.status, CurrentPage: st.page, LastSeen: st.lastSeen}
}

type presenceData struct {
	Room string `json:"room"`
	PresenceInfo
}

func (p *presence) userData(topic, userID string) presenceData {
	key, _ := RoomOf(topic)
	return presenceData{Room: key, PresenceInfo: p.info(userID)}
}

func (p *presence) publishRoomInfo(topic string) {
	key, _ := RoomOf(topic)
	p.publish(topic, EventRoomInfo, map[string]any{"room": key, "online_count": len(p.rooms[topic])})
}

// publish sends an ephemeral event to a room topic. Called with p.mu held, so that a room's
// presence events go out in the order they happened.
func (p *presence) publish(topic string, typ EventType, data any) {
	key, _ := RoomOf(topic)
	p.hub.Publish(&Frame{Topic: topic, Type: typ, Payload: mustEncode(Event{Type: typ, Room: key, Data: data})})
}

// RoomPresence lists who is in a room on this node.
func (h *Hub) RoomPresence(room string) []PresenceInfo { return h.presence.inRoom(RoomTopic(room)) }

// OnlineCount returns how many users are in a room on this node.
func (h *Hub) OnlineCount(room string) int { return len(h.presence.inRoom(RoomTopic(room))) }

// SetStatus records u's chosen status and current page and sends user_presence to every room
// u is in. It reports false when u has no live connection here.
func (h *Hub) SetStatus(u User, status, page string) bool {
	return h.presence.setStatus(u, status, page)
}
