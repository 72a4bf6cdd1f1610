package realtime

import (
	"sync"
	"time"
)

// typing tracks who is typing where. A user typing in several tabs shows once; a start that is
// not followed by a stop expires, and the server sends the stop itself.
type typing struct {
	hub *Hub

	mu     sync.Mutex // guards active; taken before any topic.mu, since it publishes
	active map[typingKey]*time.Timer
}

type typingKey struct{ topic, user string }

func newTyping(h *Hub) *typing { return &typing{hub: h, active: make(map[typingKey]*time.Timer)} }

// set records that u started (on) or stopped typing in topic. A local change is also told to
// the other nodes of a cluster; a remote one (local false) came from there.
func (ty *typing) set(topic string, u User, on, local bool) {
	if local {
		ty.hub.broadcast(kindTyping, typingDelta{Room: topic, User: User{ID: u.ID, Name: u.Name}, On: on})
	}
	ty.mu.Lock()
	defer ty.mu.Unlock()
	k := typingKey{topic, u.ID}
	t, was := ty.active[k]
	if was {
		t.Stop()
		delete(ty.active, k)
	}
	if !on {
		if was {
			ty.publish(topic, u, EventTypingStop)
		}
		return
	}
	if !was {
		ty.publish(topic, u, EventTypingStart)
	}
	var next *time.Timer
	next = time.AfterFunc(ty.hub.cfg.TypingExpiry, func() {
		ty.mu.Lock()
		defer ty.mu.Unlock()
		if ty.active[k] != next {
			return // refreshed or stopped meanwhile
		}
		delete(ty.active, k)
		ty.publish(topic, u, EventTypingStop)
	})
	ty.active[k] = next
}

func (ty *typing) publish(topic string, u User, typ EventType) {
	key, _ := RoomOf(topic)
	ty.hub.Publish(&Frame{Topic: topic, Type: typ, ExceptUser: u.ID, Payload: mustEncode(Event{Type: typ, Room: key,
		Data: map[string]string{"room": key, "user_id": u.ID, "user_name": u.Name}})})
}

// Typing records that u started (on) or stopped typing in a room and tells the room's other
// users; never u's own connections. Repeated starts refresh the expiry without a new event.
func (h *Hub) Typing(room string, u User, on bool) { h.typing.set(RoomTopic(room), u, on, true) }
