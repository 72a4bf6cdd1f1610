package api_test

import (
	"strings"
	"switchboard/db"
	"switchboard/realtime"
	"testing"

	"github.com/coder/websocket"
)

// A WebSocket client that sends garbage gets a fault for each message and stays connected.
func TestWebSocketGarbageGetsFaults(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		ws := e.dialWS(e.token("alice", "Alice"), "")
		cases := []struct {
			send any
			code string
		}{
			{"not json", "invalid_json"},
			{`{"type":`, "invalid_json"},
			{`[1,2]`, "invalid_json"},
			{`{"type":5}`, "validation_failed"},
			{`{"room":"general"}`, "validation_failed"},
			{map[string]any{"type": "launch_missiles", "ref": "r1"}, "unknown_type"},
			{map[string]any{"type": "join_room", "room": "bad room"}, "validation_failed"},
			{map[string]any{"type": "chat_message", "room": "general"}, "validation_failed"},
			{map[string]any{"type": "chat_message", "room": "general", "data": map[string]string{"content": ""}}, "validation_failed"},
			{map[string]any{"type": "chat_message", "room": "general", "data": map[string]string{"content": "a\x00b"}}, "validation_failed"},
			{map[string]any{"type": "leave_room", "room": "general"}, "not_subscribed"},
		}
		for _, c := range cases {
			ws.send(t, c.send)
			ev := nextOf(t, ws, "fault")
			var f realtime.Fault
			decode(t, ev.Data, &f)
			if f.Code != c.code || f.Message == "" {
				t.Fatalf("sent %v: fault %+v, want code %s", c.send, f, c.code)
			}
		}
		ws.send(t, map[string]string{"type": "ping", "ref": "still-there"})
		if ev := nextOf(t, ws, "pong", "fault"); ev.Type != "pong" || !strings.Contains(string(ev.Data), "still-there") {
			t.Fatalf("after garbage: %+v", ev)
		}
	})
}

// A WebSocket joins a public room in-band: room_joined answers, and the room's messages follow.
func TestWebSocketJoinsAPublicRoomInBand(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		key := e.createRoom(bob, map[string]any{"name": "Town Square"})
		ws := e.dialWS(alice, "")
		ws.send(t, map[string]string{"type": "join_room", "room": key})
		if ev := nextOf(t, ws, "room_joined", "fault"); ev.Type != "room_joined" || ev.Room != key || ev.ID == "" {
			t.Fatalf("in-band join answered %+v", ev)
		}
		e.post(bob, key, "welcome")
		if ev := nextOf(t, ws, "chat_message"); ev.Room != key || ev.message(t).Content != "welcome" {
			t.Fatalf("after joining got %s %s", ev.Room, ev.Data)
		}
	})
}

// A WebSocket client message larger than the read limit (32 KiB by default) closes the socket
// with 1009; one just under it does not.
func TestWebSocketReadLimitClosesWithMessageTooBig(t *testing.T) {
	e := newEnv(t, db.SQLite)
	ws := e.dialWS(e.token("alice", "Alice"), "rooms=general")
	padded := func(size int) string {
		head := `{"type":"ping","ref":"`
		return head + strings.Repeat("x", size-len(head)-2) + `"}`
	}
	ws.send(t, padded(31<<10))
	nextOf(t, ws, "pong", "fault") // answered: the socket is still open
	ws.send(t, padded(33<<10))
	if code, _ := ws.closeStatus(t); code != websocket.StatusMessageTooBig {
		t.Fatalf("closed with %v, want %v", code, websocket.StatusMessageTooBig)
	}
}

// Every in-band action that carries a ref is acknowledged once carried out — after the events
// it causes for this socket (room_joined before the join's ack) — and a chat message's ack
// holds the stored message. Actions without a ref get no ack.
func TestWebSocketActionsWithARefAreAcknowledged(t *testing.T) {
	e := newEnv(t, db.SQLite)
	ws := e.dialWS(e.token("alice", "Alice"), "")
	type ack struct {
		Ref    string `json:"ref"`
		Action string `json:"action"`
		Result *struct {
			ID       string `json:"id"`
			Content  string `json:"content"`
			ClientID string `json:"client_id"`
		} `json:"result"`
	}
	acked := func(ref string) ack {
		t.Helper()
		ev := nextOf(t, ws, "ack", "fault")
		var a ack
		decode(t, ev.Data, &a)
		if ev.Type != "ack" || a.Ref != ref {
			t.Fatalf("waiting for the ack of %s: %s %s", ref, ev.Type, ev.Data)
		}
		return a
	}
	ws.send(t, map[string]string{"type": "join_room", "room": "general", "ref": "j1"})
	if ev := nextOf(t, ws, "room_joined", "ack", "fault"); ev.Type != "room_joined" {
		t.Fatalf("the join answered %s %s before room_joined", ev.Type, ev.Data)
	}
	if a := acked("j1"); a.Action != "join_room" || a.Result != nil {
		t.Fatalf("join ack %+v", a)
	}
	ws.send(t, map[string]any{"type": "chat_message", "room": "general", "ref": "m1",
		"data": map[string]string{"content": "hello", "client_id": "c-1"}})
	if a := acked("m1"); a.Action != "chat_message" || a.Result == nil || a.Result.ID == "" ||
		a.Result.Content != "hello" || a.Result.ClientID != "c-1" {
		t.Fatalf("message ack %+v", a)
	}
	for _, m := range []map[string]any{
		{"type": "typing_start", "room": "general", "ref": "t1"},
		{"type": "typing_stop", "room": "general", "ref": "t2"},
		{"type": "presence_update", "ref": "p1", "data": map[string]string{"status": "away"}},
		{"type": "leave_room", "room": "general", "ref": "l1"},
	} {
		ws.send(t, m)
		if a := acked(m["ref"].(string)); a.Action != m["type"] {
			t.Fatalf("%s acknowledged as %+v", m["type"], a)
		}
	}
	ws.send(t, map[string]string{"type": "join_room", "room": "general"})
	ws.send(t, map[string]string{"type": "ping", "ref": "after"})
	if ev := nextOf(t, ws, "ack", "pong"); ev.Type != "pong" {
		t.Fatalf("an action without a ref was acknowledged: %s", ev.Data)
	}
}
