package api_test

import (
	"net/http"
	"strings"
	"switchboard/db"
	"testing"
)

// Typing goes to everyone else in the room, on every transport, and never back to the
// typist's own connections.
func TestTypingIsNotEchoedToTheSender(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		aliceSSE := e.dialSSE(alice, "rooms=general")
		aliceWS := e.dialWS(alice, "rooms=general")
		bobSSE := e.dialSSE(bob, "rooms=general")

		e.mustDo(http.StatusNoContent, "POST", "/api/rooms/general/typing", alice,
			map[string]any{"typing": true, "connection_id": aliceSSE.conn.ConnectionID})
		ev := nextOf(t, bobSSE, "user_typing_start")
		if ev.Room != "general" || !strings.Contains(string(ev.Data), `"user_id":"alice"`) || ev.ID != "" {
			t.Fatalf("bob got %+v", ev)
		}
		aliceWS.send(t, map[string]string{"type": "typing_stop", "room": "general"})
		nextOf(t, bobSSE, "user_typing_stop")

		// Bob types; that is the first typing event either of Alice's connections sees.
		e.mustDo(http.StatusNoContent, "POST", "/api/rooms/general/typing", bob, map[string]any{"typing": true})
		for name, c := range map[string]client{"sse": aliceSSE, "ws": aliceWS} {
			ev := nextOf(t, c, "user_typing_start", "user_typing_stop")
			if ev.Type != "user_typing_start" || !strings.Contains(string(ev.Data), `"user_id":"bob"`) {
				t.Fatalf("alice's %s connection got %+v", name, ev)
			}
		}
	})
}
