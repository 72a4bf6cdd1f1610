package api_test

import (
	"net/http"
	"net/url"
	"slices"
	"switchboard/db"
	"testing"
)

// Everything durable that happens in a room while a client is away — a member joining, an
// edit, a read receipt, a delete, a member leaving — is replayed when it resumes, on every
// transport: in order, once, and followed by what comes next.
func TestDurableRoomEventsReplayOnResume(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		key := e.createRoom(alice, map[string]any{"name": "Team", "key": "team", "private": true})
		stream := e.dialSSE(alice, "rooms="+key)
		e.post(alice, key, "before")
		cursor := nextOf(t, stream, "chat_message").ID
		stream.cancel()

		// While alice is away.
		e.mustDo(http.StatusCreated, "POST", "/api/rooms/team/members", alice, map[string]string{"user_id": "bob"})
		draft := e.post(bob, key, "draft")
		e.mustDo(http.StatusOK, "PATCH", "/api/rooms/team/messages/"+draft.ID, bob, map[string]string{"content": "final"})
		e.mustDo(http.StatusOK, "POST", "/api/rooms/team/read", alice, map[string]string{"message_id": draft.ID})
		e.mustDo(http.StatusNoContent, "DELETE", "/api/rooms/team/messages/"+draft.ID, alice, nil)
		e.mustDo(http.StatusNoContent, "DELETE", "/api/rooms/team/members/bob", alice, nil)

		resumed := map[string]client{
			"SSE":       e.dialSSE(alice, "", "Last-Event-ID", cursor),
			"WebSocket": e.dialWS(alice, "last_event_id="+url.QueryEscape(cursor)),
			"long-poll": e.dialPoll(alice, "timeout=5&cursor="+url.QueryEscape(cursor)),
		}
		e.post(alice, key, "after") // the sentinel: nothing replayed comes again after it
		want := []struct{ typ, field, value string }{
			{"member_joined", "user_id", "bob"},
			{"chat_message", "content", "draft"},
			{"chat_message_updated", "content", "final"},
			{"read_receipt", "message_id", draft.ID},
			{"chat_message_deleted", "id", draft.ID},
			{"member_left", "user_id", "bob"},
			{"chat_message", "content", "after"},
		}
		durable := []string{"member_joined", "member_left", "chat_message", "chat_message_updated",
			"chat_message_deleted", "read_receipt"}
		for name, c := range resumed {
			for i, w := range want {
				ev := nextOf(t, c, durable...)
				if ev.Type != w.typ || ev.Room != key || ev.ID == "" || !jsonHas(t, ev.Data, w.field, w.value) {
					t.Fatalf("%s: replayed event %d is %s %s %s (id %q), want %s with %s %s",
						name, i, ev.Type, ev.Room, ev.Data, ev.ID, w.typ, w.field, w.value)
				}
			}
		}
	})
}

// The lastEventId query parameter, which EventSource polyfills send, resumes like Last-Event-ID.
func TestLastEventIdQueryResumes(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		stream := e.dialSSE(alice, "rooms=general")
		e.post(alice, "general", "seen")
		cursor := nextOf(t, stream, "chat_message").ID
		stream.cancel()
		e.post(alice, "general", "missed")

		resumed := e.dialSSE(alice, "lastEventId="+url.QueryEscape(cursor))
		if !resumed.conn.Resumed || !slices.Contains(resumed.conn.Rooms, "general") {
			t.Fatalf("connected %+v", resumed.conn)
		}
		if m := nextOf(t, resumed, "chat_message").message(t); m.Content != "missed" {
			t.Fatalf("resumed with %q", m.Content)
		}
	})
}
