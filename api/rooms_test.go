package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"switchboard/db"
	"switchboard/realtime"
)

// presenceOf decodes the data of a presence event.
func presenceOf(t *testing.T, ev envelope) (userID string, onlineCount int, status string) {
	t.Helper()
	var d struct {
		UserID      string `json:"user_id"`
		OnlineCount int    `json:"online_count"`
		Status      string `json:"status"`
	}
	decode(t, ev.Data, &d)
	return d.UserID, d.OnlineCount, d.Status
}

// Two users with three tabs between them: online counts, joins and leaves count each user once,
// a reconnect within the grace period emits nothing, and typing shows once and expires.
func TestPresenceAndTypingAcrossTabs(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind, withHub(func(h *realtime.Config) {
			h.PresenceGrace = 300 * time.Millisecond
			h.TypingExpiry = 300 * time.Millisecond
		}))
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		presence := []string{"user_joined", "user_left", "room_info", "user_presence"}

		tab1 := e.dialSSE(alice, "rooms=lobby")
		if ev := nextOf(t, tab1, presence...); ev.Type != "user_joined" {
			t.Fatalf("first presence event %+v", ev)
		}
		if _, n, _ := presenceOf(t, nextOf(t, tab1, presence...)); n != 1 {
			t.Fatalf("online count %d, want 1", n)
		}
		tab2 := e.dialWS(alice, "rooms=lobby") // a second tab of the same user: nobody new
		bobTab := e.dialSSE(bob, "rooms=lobby")
		for name, c := range map[string]client{"tab1": tab1, "tab2": tab2} {
			ev := nextOf(t, c, presence...)
			if user, _, _ := presenceOf(t, ev); ev.Type != "user_joined" || user != "bob" {
				t.Fatalf("%s: after bob joined got %s %s", name, ev.Type, ev.Data)
			}
			if _, n, _ := presenceOf(t, nextOf(t, c, presence...)); n != 2 {
				t.Fatalf("%s: online count %d, want 2", name, n)
			}
		}
		var list struct {
			OnlineCount int `json:"online_count"`
			Users       []struct {
				UserID string `json:"user_id"`
				Status string `json:"status"`
			} `json:"users"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/rooms/lobby/presence", alice, nil), &list)
		if list.OnlineCount != 2 || len(list.Users) != 2 || list.Users[0].UserID != "alice" || list.Users[0].Status != "online" {
			t.Fatalf("presence list %+v", list)
		}

		// Typing in both of Alice's tabs shows once, and expires without a stop.
		e.mustDo(http.StatusNoContent, "POST", "/api/rooms/lobby/typing", alice, map[string]any{"typing": true})
		tab2.send(t, map[string]string{"type": "typing_start", "room": "lobby"})
		if ev := nextOf(t, bobTab, "user_typing_start", "user_typing_stop"); ev.Type != "user_typing_start" {
			t.Fatalf("bob got %s", ev.Type)
		}
		if ev := nextOf(t, bobTab, "user_typing_start", "user_typing_stop"); ev.Type != "user_typing_stop" {
			t.Fatalf("typing in a second tab showed again: %s", ev.Type)
		}

		// Status changes reach the room and the presence table.
		e.mustDo(http.StatusOK, "PUT", "/api/presence", bob, map[string]string{"status": "away", "current_page": "/inbox"})
		if user, _, status := presenceOf(t, nextOf(t, tab1, presence...)); user != "bob" || status != "away" {
			t.Fatalf("user_presence for %s: %s", user, status)
		}
		waitUntil(t, "bob's status reaching the presence table", func() bool {
			p, err := e.db.PresenceOf(context.Background(), []string{"bob"})
			return err == nil && p["bob"].Status == "away" && p["bob"].CurrentPage == "/inbox"
		})

		// Bob drops and comes back within the grace period: nobody hears of it.
		bobTab.cancel()
		bobTab = e.dialSSE(bob, "rooms=lobby")

		// Alice closes one of her two tabs: she is still in the room. Carol, who comes and goes
		// once that close is through, keeps time: her user_left is due a grace period after she
		// left, later than Alice's would be; a message Bob posts after it is the sentinel.
		tab1.cancel()
		waitUntil(t, "alice's first tab gone", func() bool { return len(e.hub.UserConns("alice")) == 1 })
		e.dialSSE(e.token("carol", "Carol"), "rooms=lobby").cancel()
		if ev := nextOf(t, bobTab, "user_left"); !jsonHas(t, ev.Data, "user_id", "carol") {
			t.Fatalf("with one of alice's tabs still open bob got user_left %s", ev.Data)
		}
		e.post(bob, "lobby", "sentinel")
		if ev := nextOf(t, bobTab, "user_left", "chat_message"); ev.Type != "chat_message" {
			t.Fatalf("with one of alice's tabs still open bob got user_left %s", ev.Data)
		}

		// Alice's last tab closes: now she leaves, and that is the next presence event Bob sees.
		tab2.ws.CloseNow()
		ev := nextOf(t, bobTab, "user_joined", "user_left")
		if user, _, _ := presenceOf(t, ev); ev.Type != "user_left" || user != "alice" {
			t.Fatalf("after alice's last tab closed bob got %s %s", ev.Type, ev.Data)
		}
		if ev := nextOf(t, bobTab, presence...); ev.Type != "room_info" || !strings.Contains(string(ev.Data), `"online_count":1`) {
			t.Fatalf("after alice left bob got %s %s", ev.Type, ev.Data)
		}
	})
}

// createRoom creates a room over REST and returns its key.
func (e *env) createRoom(token string, body map[string]any) string {
	e.t.Helper()
	var r struct {
		Key string `json:"key"`
	}
	decode(e.t, e.mustDo(http.StatusCreated, "POST", "/api/rooms", token, body), &r)
	return r.Key
}

// A non-member cannot subscribe to, read or post in a private room over any transport or REST;
// removing a member stops their live delivery at once.
func TestPrivateRoomsAreForMembersOnly(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		key := e.createRoom(alice, map[string]any{"name": "Secret plans", "private": true})
		if key != "secret-plans" {
			t.Fatalf("key %q derived from the name", key)
		}
		bobSSE := e.dialSSE(bob, "")
		bobWS := e.dialWS(bob, "")
		// Where the request would have created a missing room, the key is plainly taken: 403.
		// Elsewhere the room answers as if it did not exist (privacy_test.go).
		refused := []struct {
			method, path string
			status       int
		}{
			{"GET", "/api/rooms/" + key, http.StatusNotFound},
			{"GET", "/api/rooms/" + key + "/messages", http.StatusNotFound},
			{"GET", "/api/rooms/" + key + "/presence", http.StatusNotFound},
			{"POST", "/api/rooms/" + key + "/typing", http.StatusNotFound},
			{"POST", "/api/rooms/" + key + "/messages", http.StatusForbidden},
			{"POST", "/api/rooms/" + key + "/join", http.StatusForbidden},
		}
		for _, r := range refused {
			body := map[string]any{"content": "let me in", "connection_id": bobSSE.conn.ConnectionID, "typing": true}
			if r.method == "GET" {
				body = nil
			}
			if status, out := e.do(r.method, r.path, bob, body); status != r.status {
				t.Fatalf("%s %s by a non-member: %d %s, want %d", r.method, r.path, status, out, r.status)
			}
		}
		// A stream naming the room opens without it, on every transport, and says why: the
		// request's other rooms work, and the client can tell the app.
		namingSSE, namingWS := e.dialSSE(bob, "rooms=general,"+key), e.dialWS(bob, "rooms=general,"+key)
		namingPoll := e.dialPoll(bob, "rooms=general,"+key)
		for name, c := range map[string]struct {
			client
			rooms []string
		}{"SSE": {namingSSE, namingSSE.conn.Rooms}, "WebSocket": {namingWS, namingWS.conn.Rooms},
			"long-poll": {namingPoll, connectedOf(t, namingPoll).Rooms}} {
			if len(c.rooms) != 1 || c.rooms[0] != "general" {
				t.Fatalf("%s naming the private room: connected with rooms %v, want [general]", name, c.rooms)
			}
			ev := nextOf(t, c, "room_left")
			var why struct {
				Reason string `json:"reason"`
				Status int    `json:"status"`
			}
			decode(t, ev.Data, &why)
			if ev.Room != key || why.Reason != "forbidden" || why.Status != http.StatusForbidden {
				t.Fatalf("%s naming the private room: %s %s %s", name, ev.Type, ev.Room, ev.Data)
			}
		}
		bobWS.send(t, map[string]string{"type": "join_room", "room": key})
		if ev := nextOf(t, bobWS, "fault", "room_joined"); ev.Type != "fault" {
			t.Fatalf("in-band join by a non-member: %s", ev.Type)
		}
		// A cursor naming the private room, taken from alice, grants bob nothing and names
		// nothing: it is not one issued to him (cursor forgeries: delivery_test.go).
		aliceSSE := e.dialSSE(alice, "rooms="+key)
		if status, out := e.do("GET", "/events?last_event_id="+aliceSSE.conn.Cursor, bob, nil); status != http.StatusBadRequest || strings.Contains(string(out), key) {
			t.Fatalf("bob resuming with alice's cursor: %d %s", status, out)
		}

		// Alice adds bob: he sees the room now, and may join it.
		e.mustDo(http.StatusCreated, "POST", "/api/rooms/"+key+"/members", alice, map[string]string{"user_id": "bob", "role": "member"})
		if ev := nextOf(t, bobSSE, "room_created"); ev.Room != key {
			t.Fatalf("room_created %+v", ev)
		}
		if ev := nextOf(t, aliceSSE, "member_joined"); !jsonHas(t, ev.Data, "user_id", "bob") {
			t.Fatalf("member_joined %s", ev.Data)
		}
		e.mustDo(http.StatusOK, "POST", "/api/rooms/"+key+"/join", bob, map[string]string{"connection_id": bobSSE.conn.ConnectionID})
		nextOf(t, bobSSE, "room_joined")
		e.post(alice, key, "welcome")
		welcome := nextOf(t, bobSSE, "chat_message")
		if m := welcome.message(t); m.Content != "welcome" {
			t.Fatalf("got %+v", m)
		}
		inRoom := welcome.ID // a cursor naming the room

		// Alice removes him: his stream leaves the room at once.
		e.mustDo(http.StatusNoContent, "DELETE", "/api/rooms/"+key+"/members/bob", alice, nil)
		if ev := nextOf(t, bobSSE, "room_left"); !jsonHas(t, ev.Data, "reason", "removed") {
			t.Fatalf("room_left %s", ev.Data)
		}
		// His own cursor from before resumes without the room, on every transport, and says so.
		resumedSSE := e.dialSSE(bob, "", "Last-Event-ID", inRoom)
		if len(resumedSSE.conn.Rooms) != 0 {
			t.Fatalf("bob resumed into %v after his removal", resumedSSE.conn.Rooms)
		}
		resumedWS, resumedPoll := e.dialWS(bob, "last_event_id="+inRoom), e.dialPoll(bob, "cursor="+inRoom)
		for name, c := range map[string]client{"SSE": resumedSSE, "WebSocket": resumedWS, "long-poll": resumedPoll} {
			if ev := nextOf(t, c, "room_left"); ev.Room != key || !jsonHas(t, ev.Data, "reason", "forbidden") {
				t.Fatalf("%s resume after removal: %s %s %s", name, ev.Type, ev.Room, ev.Data)
			}
		}
		e.post(alice, key, "after removal")
		e.post(alice, "public-sentinel", "sentinel")
		e.mustDo(http.StatusOK, "POST", "/api/rooms/public-sentinel/join", bob, map[string]string{"connection_id": bobSSE.conn.ConnectionID})
		e.post(alice, "public-sentinel", "second sentinel")
		if m := nextOf(t, bobSSE, "chat_message").message(t); m.Content != "second sentinel" {
			t.Fatalf("a removed member still received %q", m.Content)
		}
		if status, _ := e.do("GET", "/api/rooms/"+key+"/messages", bob, nil); status != http.StatusNotFound {
			t.Fatalf("a removed member reads history: %d", status)
		}
	})
}

func jsonHas(t *testing.T, raw json.RawMessage, field, want string) bool {
	t.Helper()
	var m map[string]any
	decode(t, raw, &m)
	return m[field] == want
}

type roomView struct {
	Key         string `json:"key"`
	Name        string `json:"name"`
	MemberCount int    `json:"member_count"`
	Unread      int    `json:"unread_count"`
	MyRole      string `json:"my_role"`
	LastMessage *struct {
		Content string `json:"content"`
	} `json:"last_message"`
}

func (e *env) rooms(token string) map[string]roomView {
	e.t.Helper()
	var out struct {
		Rooms []roomView `json:"rooms"`
	}
	decode(e.t, e.mustDo(http.StatusOK, "GET", "/api/rooms", token, nil), &out)
	byKey := map[string]roomView{}
	for _, r := range out.Rooms {
		byKey[r.Key] = r
	}
	return byKey
}

// Unread counts move with new messages and with read; edits and deletes reach every subscriber.
func TestReadStateEditsAndDeletes(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob, carol := e.token("alice", "Alice"), e.token("bob", "Bob"), e.token("carol", "Carol")
		key := e.createRoom(alice, map[string]any{"name": "Team", "key": "team"})
		e.mustDo(http.StatusCreated, "POST", "/api/rooms/team/members", alice, map[string]string{"user_id": "bob"})
		sse := e.dialSSE(alice, "rooms=team")
		ws := e.dialWS(bob, "rooms=team")

		var sent []message
		for _, c := range []string{"one", "two", "three"} {
			sent = append(sent, e.post(bob, key, c))
		}
		r := e.rooms(alice)["team"]
		if r.Unread != 3 || r.MemberCount != 2 || r.MyRole != "admin" || r.LastMessage == nil || r.LastMessage.Content != "three" {
			t.Fatalf("alice's view %+v", r)
		}
		if bobs := e.rooms(bob)["team"]; bobs.Unread != 0 {
			t.Fatalf("bob's own messages count as unread: %+v", bobs)
		}
		var read struct {
			Unread int `json:"unread_count"`
		}
		decode(t, e.mustDo(http.StatusOK, "POST", "/api/rooms/team/read", alice, map[string]string{"message_id": sent[1].ID}), &read)
		if read.Unread != 1 {
			t.Fatalf("unread after reading two of three: %d", read.Unread)
		}
		if ev := nextOf(t, ws, "read_receipt"); !jsonHas(t, ev.Data, "message_id", sent[1].ID) || ev.ID == "" {
			t.Fatalf("read_receipt %+v", ev)
		}
		e.post(bob, key, "four")
		if got := e.rooms(alice)["team"].Unread; got != 2 {
			t.Fatalf("unread after a new message: %d", got)
		}

		// Edits by the author reach everyone; others may not edit.
		e.mustDo(http.StatusOK, "PATCH", "/api/rooms/team/messages/"+sent[0].ID, bob, map[string]string{"content": "one, edited"})
		for name, c := range map[string]client{"sse": sse, "ws": ws} {
			ev := nextOf(t, c, "chat_message_updated")
			if m := ev.message(t); m.Content != "one, edited" || !jsonHas(t, ev.Data, "id", sent[0].ID) {
				t.Fatalf("%s got %s", name, ev.Data)
			}
		}
		if status, _ := e.do("PATCH", "/api/rooms/team/messages/"+sent[0].ID, alice, map[string]string{"content": "not mine"}); status != http.StatusForbidden {
			t.Fatalf("editing someone else's message: %d", status)
		}
		// Deletes: not by an unrelated member, yes by the room admin.
		e.mustDo(http.StatusCreated, "POST", "/api/rooms/team/members", alice, map[string]string{"user_id": "carol"})
		if status, _ := e.do("DELETE", "/api/rooms/team/messages/"+sent[2].ID, carol, nil); status != http.StatusForbidden {
			t.Fatalf("a plain member deleted another's message: %d", status)
		}
		e.mustDo(http.StatusNoContent, "DELETE", "/api/rooms/team/messages/"+sent[2].ID, alice, nil)
		for name, c := range map[string]client{"sse": sse, "ws": ws} {
			if ev := nextOf(t, c, "chat_message_deleted"); !jsonHas(t, ev.Data, "id", sent[2].ID) {
				t.Fatalf("%s got %s", name, ev.Data)
			}
		}
		var page struct {
			Messages []message `json:"messages"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/rooms/team/messages", alice, nil), &page)
		for _, m := range page.Messages {
			if m.ID == sent[2].ID {
				t.Fatal("a deleted message is still in the history")
			}
		}
		if status, _ := e.do("DELETE", "/api/rooms/team/messages/"+sent[2].ID, alice, nil); status != http.StatusNotFound {
			t.Fatalf("deleting twice: %d", status)
		}
	})
}

// Rooms are created, listed, renamed and archived with the events each change implies.
func TestRoomLifecycle(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		bobSSE := e.dialSSE(bob, "")
		key := e.createRoom(alice, map[string]any{"name": "Design Review", "type": "support", "description": "weekly"})
		if ev := nextOf(t, bobSSE, "room_created"); ev.Room != key || ev.ID == "" {
			t.Fatalf("a public room's room_created %+v", ev)
		}
		if status, _ := e.do("POST", "/api/rooms", alice, map[string]any{"name": "Design Review"}); status != http.StatusConflict {
			t.Fatalf("a second room with the same key: %d", status)
		}
		// Direct rooms are unique per pair, whoever creates them.
		var dm1, dm2 struct {
			Key     string `json:"key"`
			Private bool   `json:"private"`
		}
		decode(t, e.mustDo(http.StatusCreated, "POST", "/api/rooms", alice, map[string]any{"type": "direct", "members": []string{"bob"}}), &dm1)
		decode(t, e.mustDo(http.StatusOK, "POST", "/api/rooms", bob, map[string]any{"type": "direct", "members": []string{"alice"}}), &dm2)
		if dm1.Key != dm2.Key || !dm1.Private {
			t.Fatalf("direct rooms %+v and %+v", dm1, dm2)
		}
		if _, ok := e.rooms(bob)[dm1.Key]; !ok {
			t.Fatal("bob does not see his direct room")
		}
		if _, ok := e.rooms(e.token("carol", "Carol"))[dm1.Key]; ok {
			t.Fatal("carol sees someone else's direct room")
		}

		e.mustDo(http.StatusOK, "POST", "/api/rooms/"+key+"/join", bob, map[string]string{"connection_id": bobSSE.conn.ConnectionID})
		if status, _ := e.do("PATCH", "/api/rooms/"+key, bob, map[string]string{"name": "Mine now"}); status != http.StatusForbidden {
			t.Fatalf("a non-admin renamed the room: %d", status)
		}
		e.mustDo(http.StatusOK, "PATCH", "/api/rooms/"+key, alice, map[string]any{"name": "Design Review (weekly)", "settings": map[string]any{"color": "teal"}})
		if ev := nextOf(t, bobSSE, "room_updated"); !jsonHas(t, ev.Data, "name", "Design Review (weekly)") {
			t.Fatalf("room_updated %s", ev.Data)
		}
		if status, _ := e.do("DELETE", "/api/rooms/"+key, bob, nil); status != http.StatusForbidden {
			t.Fatalf("a non-admin archived the room: %d", status)
		}
		e.mustDo(http.StatusNoContent, "DELETE", "/api/rooms/"+key, alice, nil)
		if ev := nextOf(t, bobSSE, "room_left"); !jsonHas(t, ev.Data, "reason", "archived") {
			t.Fatalf("room_left %s", ev.Data)
		}
		if status, _ := e.do("POST", "/api/rooms/"+key+"/messages", alice, map[string]string{"content": "hello?"}); status != http.StatusNotFound {
			t.Fatalf("posting to an archived room: %d", status)
		}
	})
}

// Bad input to the room APIs gets the JSON error body with the right status.
func TestRoomAPIsRefuseBadInput(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob, mo := e.token("alice", "Alice"), e.token("bob", "Bob"), e.token("mo", "Mo")
		key := e.createRoom(alice, map[string]any{"name": "Ops", "key": "ops"})
		e.mustDo(http.StatusCreated, "POST", "/api/rooms/ops/members", alice, map[string]string{"user_id": "mo", "role": "moderator"})
		msg := e.post(alice, key, "mine")
		cases := []struct {
			name, method, path, token string
			body                      any
			status                    int
			code, field               string
		}{
			{"unknown room", "GET", "/api/rooms/nowhere", alice, nil, 404, "room_not_found", ""},
			{"members of unknown room", "POST", "/api/rooms/nowhere/members", alice, `{"user_id":"bob"}`, 404, "room_not_found", ""},
			{"bad role", "POST", "/api/rooms/ops/members", alice, `{"user_id":"bob","role":"owner"}`, 400, "validation_failed", "role"},
			{"no user", "POST", "/api/rooms/ops/members", alice, `{"role":"member"}`, 400, "validation_failed", "user_id"},
			{"adding as non-admin", "POST", "/api/rooms/ops/members", bob, `{"user_id":"carol"}`, 403, "forbidden", ""},
			{"removing a non-member", "DELETE", "/api/rooms/ops/members/zed", alice, nil, 404, "member_not_found", ""},
			{"moderator demoting the admin", "POST", "/api/rooms/ops/members", mo, `{"user_id":"alice","role":"member"}`, 403, "forbidden", ""},
			{"moderator demoting itself", "POST", "/api/rooms/ops/members", mo, `{"user_id":"mo","role":"member"}`, 403, "forbidden", ""},
			{"user id with NUL", "DELETE", "/api/rooms/ops/members/a%00b", alice, nil, 400, "validation_failed", "user"},
			{"user id not UTF-8", "DELETE", "/api/rooms/ops/members/%FF", alice, nil, 400, "validation_failed", "user"},
			{"user id too long", "POST", "/api/rooms/ops/members", alice, `{"user_id":"` + strings.Repeat("u", 129) + `"}`, 400, "validation_failed", "user_id"},
			{"editing someone else's message", "PATCH", "/api/rooms/ops/messages/" + msg.ID, bob, `{"content":"x"}`, 403, "forbidden", ""},
			{"editing to nothing", "PATCH", "/api/rooms/ops/messages/" + msg.ID, alice, `{"content":""}`, 400, "validation_failed", "content"},
			{"editing an unknown message", "PATCH", "/api/rooms/ops/messages/01a2c3d4-0000-7000-8000-000000000000", alice, `{"content":"x"}`, 404, "message_not_found", ""},
			{"editing a garbage id", "PATCH", "/api/rooms/ops/messages/garbage", alice, `{"content":"x"}`, 404, "message_not_found", ""},
			{"status outside the enum", "PUT", "/api/presence", alice, `{"status":"invisible"}`, 400, "validation_failed", "status"},
			{"status missing", "PUT", "/api/presence", alice, `{}`, 400, "validation_failed", "status"},
			{"room without name", "POST", "/api/rooms", alice, `{"type":"group"}`, 400, "validation_failed", "name"},
			{"room of unknown type", "POST", "/api/rooms", alice, `{"name":"x","type":"channel"}`, 400, "validation_failed", "type"},
			{"room with bad key", "POST", "/api/rooms", alice, `{"name":"x","key":"no spaces"}`, 400, "validation_failed", "key"},
			{"room taken", "POST", "/api/rooms", alice, `{"name":"Ops"}`, 409, "room_exists", "key"},
			{"direct room with nobody", "POST", "/api/rooms", alice, `{"type":"direct","members":[]}`, 400, "validation_failed", "members"},
			{"settings not an object", "PATCH", "/api/rooms/ops", alice, `{"settings":[1]}`, 400, "validation_failed", "settings"},
			{"empty name", "PATCH", "/api/rooms/ops", alice, `{"name":"  "}`, 400, "validation_failed", "name"},
			{"read unknown message", "POST", "/api/rooms/ops/read", alice, `{"message_id":"01a2c3d4-0000-7000-8000-000000000000"}`, 404, "message_not_found", ""},
			{"read garbage", "POST", "/api/rooms/ops/read", alice, `{"message_id":"x"}`, 400, "validation_failed", "message_id"},
			{"room list cursor garbage", "GET", "/api/rooms?cursor=x.y", alice, nil, 400, "validation_failed", "cursor"},
			{"room list limit zero", "GET", "/api/rooms?limit=0", alice, nil, 400, "validation_failed", "limit"},
			{"room list limit not a number", "GET", "/api/rooms?limit=ten", alice, nil, 400, "validation_failed", "limit"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				status, body := e.do(c.method, c.path, c.token, c.body)
				if status != c.status {
					t.Fatalf("status %d, want %d: %s", status, c.status, body)
				}
				var eb errorBody
				decode(t, body, &eb)
				if eb.Error.Code != c.code || eb.Error.Field != c.field || eb.Error.Message == "" {
					t.Fatalf("error %+v, want code %q field %q", eb.Error, c.code, c.field)
				}
			})
		}
	})
}

// GET /api/rooms/:room describes a room with the caller's view of it: role, unread count, who
// is online and the last message.
func TestGetRoom(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		key := e.createRoom(alice, map[string]any{"name": "Design Review", "type": "support", "description": "weekly",
			"settings": map[string]any{"color": "teal"}})
		e.mustDo(http.StatusCreated, "POST", "/api/rooms/"+key+"/members", alice, map[string]string{"user_id": "bob"})
		e.dialSSE(bob, "rooms="+key)
		e.post(alice, key, "agenda")
		var r struct {
			roomView
			Type        string         `json:"type"`
			Private     bool           `json:"private"`
			Description string         `json:"description"`
			Settings    map[string]any `json:"settings"`
			CreatedBy   string         `json:"created_by"`
			OnlineCount int            `json:"online_count"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/rooms/"+key, bob, nil), &r)
		if r.Key != key || r.Name != "Design Review" || r.Type != "support" || r.Private || r.Description != "weekly" ||
			r.Settings["color"] != "teal" || r.CreatedBy != "alice" {
			t.Fatalf("room %+v", r)
		}
		if r.MemberCount != 2 || r.MyRole != "member" || r.Unread != 1 || r.OnlineCount != 1 ||
			r.LastMessage == nil || r.LastMessage.Content != "agenda" {
			t.Fatalf("bob's view of the room %+v (last message %+v)", r, r.LastMessage)
		}
	})
}

// The room list carries what a chat app's sidebar shows: for each room its type, whether it is
// private, its member count and when it last saw activity (its last message, or its creation);
// for a direct room, the other user, as each of the two sees it.
func TestRoomListDescribesEachRoomForTheSidebar(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice Liddell"), e.token("bob", "Bob")
		quiet := e.createRoom(alice, map[string]any{"name": "Quiet corner", "private": true})
		busy := e.createRoom(alice, map[string]any{"name": "Busy room"})
		var dm struct {
			Key string `json:"key"`
		}
		decode(t, e.mustDo(http.StatusCreated, "POST", "/api/rooms", alice, map[string]any{"type": "direct", "members": []string{"bob"}}), &dm)
		e.post(alice, busy, "first")
		last := e.post(bob, busy, "latest")
		e.post(bob, dm.Key, "psst")

		type view struct {
			Key            string `json:"key"`
			Type           string `json:"type"`
			Private        bool   `json:"private"`
			MemberCount    int    `json:"member_count"`
			Unread         int    `json:"unread_count"`
			CreatedAt      string `json:"created_at"`
			LastActivityAt string `json:"last_activity_at"`
			LastMessage    *struct {
				ID        string `json:"id"`
				CreatedAt string `json:"created_at"`
			} `json:"last_message"`
			DirectWith *struct {
				UserID   string `json:"user_id"`
				UserName string `json:"user_name"`
			} `json:"direct_with"`
		}
		list := func(token string) map[string]view {
			var out struct {
				Rooms []view `json:"rooms"`
			}
			decode(t, e.mustDo(http.StatusOK, "GET", "/api/rooms", token, nil), &out)
			byKey := map[string]view{}
			for _, r := range out.Rooms {
				byKey[r.Key] = r
			}
			return byKey
		}

		rooms := list(alice)
		q, b, d := rooms[quiet], rooms[busy], rooms[dm.Key]
		if !q.Private || q.Type != "group" || q.MemberCount != 1 || q.LastMessage != nil || q.DirectWith != nil {
			t.Fatalf("the private room %+v", q)
		}
		if q.LastActivityAt == "" || q.LastActivityAt != q.CreatedAt {
			t.Fatalf("an empty room's last activity %q, want its creation %q", q.LastActivityAt, q.CreatedAt)
		}
		if b.Private || b.MemberCount != 2 || b.LastMessage == nil || b.LastMessage.ID != last.ID ||
			b.LastActivityAt != b.LastMessage.CreatedAt || b.LastActivityAt < b.CreatedAt || b.DirectWith != nil {
			t.Fatalf("the busy room %+v (last message %+v)", b, b.LastMessage)
		}
		if d.Type != "direct" || !d.Private || d.MemberCount != 2 || d.Unread != 1 || d.DirectWith == nil ||
			d.DirectWith.UserID != "bob" || d.DirectWith.UserName != "Bob" {
			t.Fatalf("alice's direct room %+v (with %+v)", d, d.DirectWith)
		}
		if d.LastActivityAt < b.LastActivityAt {
			t.Fatalf("the direct room's last activity %s is before the busy room's %s", d.LastActivityAt, b.LastActivityAt)
		}
		if theirs := list(bob)[dm.Key]; theirs.DirectWith == nil || theirs.DirectWith.UserID != "alice" ||
			theirs.DirectWith.UserName != "Alice Liddell" || theirs.Unread != 0 {
			t.Fatalf("bob's direct room %+v (with %+v)", theirs, theirs.DirectWith)
		}
		var one view
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/rooms/"+dm.Key, bob, nil), &one)
		if one.DirectWith == nil || one.DirectWith.UserName != "Alice Liddell" || one.LastActivityAt != d.LastActivityAt {
			t.Fatalf("GET of the direct room by bob %+v (with %+v)", one, one.DirectWith)
		}
		if _, ok := list(e.token("carol", "Carol"))[quiet]; ok {
			t.Fatal("carol sees alice's private room")
		}
	})
}
