package api_test

import (
	"net/http"
	"switchboard/db"
	"testing"
)

// Removing a member announces member_left to the room and takes the member's connections out
// of it at once, on every transport: the next message they get is from a room they are still in.
func TestRemovedMemberLeavesOnEveryTransport(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		key := e.createRoom(alice, map[string]any{"name": "Ops", "key": "ops", "private": true})
		e.mustDo(http.StatusCreated, "POST", "/api/rooms/ops/members", alice, map[string]string{"user_id": "bob"})
		watcher := e.dialSSE(alice, "rooms="+key)
		p := e.dialPoll(bob, "rooms=ops,lobby&timeout=5")
		connectedOf(t, p)
		bobs := map[string]client{"SSE": e.dialSSE(bob, "rooms=ops,lobby"), "WebSocket": e.dialWS(bob, "rooms=ops,lobby"), "long-poll": p}

		e.mustDo(http.StatusNoContent, "DELETE", "/api/rooms/ops/members/bob", alice, nil)
		if ev := nextOf(t, watcher, "member_left"); ev.Room != key || ev.ID == "" ||
			!jsonHas(t, ev.Data, "user_id", "bob") || !jsonHas(t, ev.Data, "by", "alice") {
			t.Fatalf("member_left %+v", ev)
		}
		for name, c := range bobs {
			if ev := nextOf(t, c, "room_left"); ev.Room != key || !jsonHas(t, ev.Data, "reason", "removed") {
				t.Fatalf("%s: room_left %s %s", name, ev.Room, ev.Data)
			}
		}
		e.post(alice, key, "after removal")
		e.post(alice, "lobby", "sentinel")
		for name, c := range bobs {
			if m := nextOf(t, c, "chat_message").message(t); m.Content != "sentinel" {
				t.Fatalf("%s: a removed member still received %q in %s", name, m.Content, m.Room)
			}
		}
	})
}
