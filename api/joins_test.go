package api_test

import (
	"net/http"
	"switchboard/db"
	"testing"
)

// Joining and leaving over REST changes a live stream's rooms and moves its cursor.
func TestJoinAndLeaveOverREST(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		stream := e.dialSSE(alice, "")
		body := map[string]string{"connection_id": stream.conn.ConnectionID}
		e.mustDo(http.StatusOK, "POST", "/api/rooms/lobby/join", alice, body)
		joined := nextOf(t, stream, "room_joined")
		if joined.Room != "lobby" || joined.ID == "" {
			t.Fatalf("room_joined %+v", joined)
		}
		e.post(alice, "lobby", "in lobby")
		if m := nextOf(t, stream, "chat_message").message(t); m.Content != "in lobby" {
			t.Fatalf("got %+v", m)
		}
		e.mustDo(http.StatusOK, "POST", "/api/rooms/lobby/leave", alice, body)
		if left := nextOf(t, stream, "room_left"); left.Room != "lobby" || left.ID == joined.ID {
			t.Fatalf("room_left %+v", left)
		}
		e.post(alice, "lobby", "after leaving")
		e.mustDo(http.StatusOK, "POST", "/api/rooms/lobby2/join", alice, body)
		if ev := nextOf(t, stream, "chat_message", "room_joined"); ev.Type != "room_joined" {
			t.Fatalf("received %+v after leaving", ev)
		}
	})
}
