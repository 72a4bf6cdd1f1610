package api_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"switchboard/db"
	"switchboard/realtime"
)

// A message posted over REST, over WebSocket or by another user reaches SSE, WebSocket and
// long-poll clients of the room, and nobody outside it.
func TestMessagesCrossTransports(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob, carol, dave := e.token("alice", "Alice"), e.token("bob", "Bob"), e.token("carol", "Carol"), e.token("dave", "Dave")
		aliceSSE := e.dialSSE(alice, "rooms=general")
		bobWS := e.dialWS(bob, "rooms=general")
		davePoll := e.dialPoll(dave, "rooms=general&timeout=5")
		connectedOf(t, davePoll)
		carolSSE := e.dialSSE(carol, "rooms=other")

		sent := e.post(alice, "general", "hello from REST")
		if sent.UserName != "Alice" || sent.Room != "general" || sent.Seq == 0 {
			t.Fatalf("stored message %+v", sent)
		}
		for name, c := range map[string]client{"sse": aliceSSE, "ws": bobWS, "poll": davePoll} {
			got := nextOf(t, c, "chat_message")
			if m := got.message(t); m.ID != sent.ID || m.Content != "hello from REST" || got.Room != "general" || got.ID == "" {
				t.Fatalf("%s got %+v", name, got)
			}
		}

		bobWS.send(t, map[string]any{"type": "chat_message", "room": "general", "data": map[string]string{"content": "hello from WS"}})
		for name, c := range map[string]client{"sse": aliceSSE, "ws": bobWS, "poll": davePoll} {
			if m := nextOf(t, c, "chat_message").message(t); m.Content != "hello from WS" || m.UserID != "bob" {
				t.Fatalf("%s got %+v", name, m)
			}
		}

		// Carol is only in "other": the first chat message she sees is the one posted there.
		e.post(dave, "other", "sentinel")
		if m := nextOf(t, carolSSE, "chat_message").message(t); m.Content != "sentinel" {
			t.Fatalf("carol, outside general, received %+v", m)
		}
	})
}

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

// A retried POST with the same client_id returns the first message and broadcasts nothing.
func TestClientIDMakesPostsIdempotent(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		stream := e.dialSSE(alice, "rooms=general")
		body := map[string]string{"content": "once", "client_id": "retry-me"}
		var first, second message
		decode(t, e.mustDo(http.StatusCreated, "POST", "/api/rooms/general/messages", alice, body), &first)
		decode(t, e.mustDo(http.StatusOK, "POST", "/api/rooms/general/messages", alice, body), &second)
		if first.ID != second.ID || second.ClientID != "retry-me" {
			t.Fatalf("first %+v, retry %+v", first, second)
		}
		e.post(alice, "general", "after")
		if m := nextOf(t, stream, "chat_message").message(t); m.ID != first.ID {
			t.Fatalf("first broadcast %+v", m)
		}
		if m := nextOf(t, stream, "chat_message").message(t); m.Content != "after" {
			t.Fatalf("the retry was broadcast again: %+v", m)
		}
		// Another user may use the same client_id.
		e.mustDo(http.StatusCreated, "POST", "/api/rooms/general/messages", e.token("bob", "Bob"), body)
	})
}

func TestHistoryPagesNewestFirst(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		for _, content := range []string{"one", "two", "three", "four", "five"} {
			e.post(alice, "general", content)
		}
		type page struct {
			Messages   []message `json:"messages"`
			NextBefore string    `json:"next_before"`
		}
		var got []string
		path := "/api/rooms/general/messages?limit=2"
		for range 3 {
			var p page
			decode(t, e.mustDo(http.StatusOK, "GET", path, alice, nil), &p)
			for _, m := range p.Messages {
				got = append(got, m.Content)
			}
			if p.NextBefore == "" {
				break
			}
			path = "/api/rooms/general/messages?limit=2&before=" + p.NextBefore
		}
		if strings.Join(got, ",") != "five,four,three,two,one" {
			t.Fatalf("history %v", got)
		}
	})
}

// Every bad request gets the JSON error body with the right status, never a panic or HTML.
func TestBadInputGetsJSONErrors(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		bobConn := e.dialSSE(bob, "").conn.ConnectionID
		expired := e.tokenFor("alice", -time.Hour)
		cases := []struct {
			name, method, path, token string
			body                      any
			status                    int
			code, field               string
		}{
			{"no token", "POST", "/api/rooms/general/messages", "", `{"content":"x"}`, 401, "unauthorized", ""},
			{"garbage token", "POST", "/api/rooms/general/messages", "not.a.token", `{"content":"x"}`, 401, "invalid_token", ""},
			{"expired token", "POST", "/api/rooms/general/messages", expired, `{"content":"x"}`, 401, "token_expired", ""},
			{"stream without token", "GET", "/events", "", nil, 401, "unauthorized", ""},
			{"room with space", "POST", "/api/rooms/bad%20room/messages", alice, `{"content":"x"}`, 400, "validation_failed", "room"},
			{"room too long", "POST", "/api/rooms/" + strings.Repeat("r", 101) + "/messages", alice, `{"content":"x"}`, 400, "validation_failed", "room"},
			{"room in stream query", "GET", "/events?rooms=ok,bad!", alice, nil, 400, "validation_failed", "rooms"},
			{"empty content", "POST", "/api/rooms/general/messages", alice, `{"content":"   "}`, 400, "validation_failed", "content"},
			{"missing content", "POST", "/api/rooms/general/messages", alice, `{}`, 400, "validation_failed", "content"},
			{"content too long", "POST", "/api/rooms/general/messages", alice, `{"content":"` + strings.Repeat("é", 1001) + `"}`, 400, "validation_failed", "content"},
			{"content not a string", "POST", "/api/rooms/general/messages", alice, `{"content":5}`, 400, "validation_failed", "content"},
			{"NUL in content", "POST", "/api/rooms/general/messages", alice, `{"content":"a\u0000b"}`, 400, "validation_failed", ""},
			{"NUL after an escaped backslash", "POST", "/api/rooms/general/messages", alice, `{"content":"\\\u0000"}`, 400, "validation_failed", ""},
			{"NUL in client_id", "POST", "/api/rooms/general/messages", alice, `{"content":"x","client_id":"\u0000"}`, 400, "validation_failed", ""},
			{"the text \\u0000 is no NUL", "POST", "/api/rooms/general/messages", alice, `{"content":"a\\u0000b"}`, 201, "", ""},
			{"malformed JSON", "POST", "/api/rooms/general/messages", alice, `{"content":`, 400, "invalid_json", ""},
			{"JSON array", "POST", "/api/rooms/general/messages", alice, `["x"]`, 400, "invalid_json", ""},
			{"empty body", "POST", "/api/rooms/general/join", alice, ``, 400, "invalid_json", ""},
			{"body too large", "POST", "/api/rooms/general/messages", alice, `{"content":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "payload_too_large", ""},
			{"join without connection", "POST", "/api/rooms/general/join", alice, `{}`, 400, "validation_failed", "connection_id"},
			{"join unknown connection", "POST", "/api/rooms/general/join", alice, `{"connection_id":"c_NOPE"}`, 404, "connection_not_found", ""},
			{"join someone else's connection", "POST", "/api/rooms/general/join", alice, `{"connection_id":"` + bobConn + `"}`, 403, "forbidden", ""},
			{"leave someone else's connection", "POST", "/api/rooms/general/leave", alice, `{"connection_id":"` + bobConn + `"}`, 403, "forbidden", ""},
			{"typing without flag", "POST", "/api/rooms/general/typing", alice, `{}`, 400, "validation_failed", "typing"},
			{"typing on someone else's connection", "POST", "/api/rooms/general/typing", alice, `{"typing":true,"connection_id":"` + bobConn + `"}`, 403, "forbidden", ""},
			{"history of unknown room", "GET", "/api/rooms/nowhere/messages", alice, nil, 404, "room_not_found", ""},
			{"history limit", "GET", "/api/rooms/general/messages?limit=0", alice, nil, 400, "validation_failed", "limit"},
			{"history before garbage", "GET", "/api/rooms/general/messages?before=zzz", alice, nil, 400, "validation_failed", "before"},
			{"malformed cursor", "GET", "/events?last_event_id=%25%25%25", alice, nil, 400, "invalid_cursor", "cursor"},
			{"ws without upgrade", "GET", "/ws", alice, nil, 426, "upgrade_required", ""},
			{"poll foreign connection id", "GET", "/poll?connection_id=c_AAAAAAAAAAAAAAAAAAAAAAAA&timeout=0", alice, nil, 200, "", ""},
			{"poll bad connection id", "GET", "/poll?connection_id=nope", alice, nil, 400, "validation_failed", "connection_id"},
			{"poll bad timeout", "GET", "/poll?timeout=-1", alice, nil, 400, "validation_failed", "timeout"},
			{"poll NaN timeout", "GET", "/poll?timeout=NaN", alice, nil, 400, "validation_failed", "timeout"},
			{"poll endless timeout", "GET", "/poll?timeout=1e300", alice, nil, 400, "validation_failed", "timeout"},
			{"unknown route", "GET", "/nowhere", "", nil, 404, "not_found", ""},
		}
		e.post(alice, "general", "make the room exist")
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				status, body := e.do(c.method, c.path, c.token, c.body)
				if status != c.status {
					t.Fatalf("status %d, want %d: %s", status, c.status, body)
				}
				if c.code == "" {
					return
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

// The stream speaks the wire contract: headers, retry first, connected with the cursor, and
// heartbeat comments.
func TestSSEWireFormat(t *testing.T) {
	e := newEnv(t, db.SQLite, withHub(func(h *realtime.Config) { h.Heartbeat = 50 * time.Millisecond }))
	req, _ := http.NewRequest("GET", e.srv.URL+"/events?rooms=general&access_token="+e.token("alice", "Alice"), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	for header, want := range map[string]string{
		"Content-Type": "text/event-stream", "Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no",
	} {
		if got := res.Header.Get(header); got != want {
			t.Errorf("%s: %q, want %q", header, got, want)
		}
	}
	var seen strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(seen.String(), ": ping\n\n") {
		n, err := res.Body.Read(buf)
		if err != nil {
			t.Fatalf("stream ended before a heartbeat: %v\n%s", err, seen.String())
		}
		seen.Write(buf[:n])
	}
	s := seen.String()
	if !strings.HasPrefix(s, "retry: ") {
		t.Fatalf("stream does not start with retry:\n%s", s)
	}
	if !strings.Contains(s, "\nid: ") || !strings.Contains(s, "event: connected\ndata: {") {
		t.Fatalf("no connected event with an id:\n%s", s)
	}
}

// Shutdown ends SSE streams, closes WebSockets with 1001 and answers waiting polls.
func TestShutdownClosesStreams(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		stream := e.dialSSE(alice, "rooms=general")
		ws := e.dialWS(alice, "rooms=general")
		p := e.dialPoll(alice, "timeout=5")
		connectedOf(t, p)
		polled := make(chan []envelope, 1)
		go func() { polled <- p.poll(t) }()

		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := e.api.Shutdown(ctx, 50*time.Millisecond); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		stream.ended(t)
		if code, reason := ws.closeStatus(t); code != websocket.StatusGoingAway || !strings.Contains(reason, "resume") {
			t.Fatalf("WebSocket closed with %d %q, want 1001", code, reason)
		}
		select {
		case <-polled:
		case <-time.After(wait):
			t.Fatal("a waiting poll was not answered at shutdown")
		}
		status, body := e.do("GET", "/events", alice, nil)
		if status != http.StatusServiceUnavailable {
			t.Fatalf("new stream during shutdown: %d %s", status, body)
		}
	})
}

// A refused WebSocket handshake answers with the JSON error body and leaves no trace: a
// cross-site origin is refused before any room is created.
func TestWebSocketHandshakeRefusalsAreJSON(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		upgrade := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
			"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Authorization": "Bearer " + alice}
		cases := []struct {
			name   string
			change map[string]string
			status int
			code   string
		}{
			{"foreign origin", map[string]string{"Origin": "https://evil.example"}, 403, "origin_not_allowed"},
			{"old protocol version", map[string]string{"Sec-WebSocket-Version": "8"}, 400, "bad_handshake"},
			{"no key", map[string]string{"Sec-WebSocket-Key": ""}, 400, "bad_handshake"},
		}
		for _, c := range cases {
			req, _ := http.NewRequest("GET", e.base+"/ws?rooms=should-not-exist", nil)
			for k, v := range upgrade {
				req.Header.Set(k, v)
			}
			for k, v := range c.change {
				if v == "" {
					req.Header.Del(k)
				} else {
					req.Header.Set(k, v)
				}
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var eb errorBody
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			decode(t, body, &eb)
			if res.StatusCode != c.status || eb.Error.Code != c.code {
				t.Fatalf("%s: %d %s", c.name, res.StatusCode, body)
			}
		}
		if status, body := e.do("GET", "/api/rooms/should-not-exist/messages", alice, nil); status != http.StatusNotFound {
			t.Fatalf("a refused handshake created its room: %d %s", status, body)
		}
		// The server's own origin is allowed.
		if _, err := e.openWS(alice, ""); err != nil {
			t.Fatalf("a same-origin WebSocket was refused: %v", err)
		}
	})
}

// Message ids are accepted in any form a UUID may take, with the same answer on both databases.
func TestMessageIDsInAnyUUIDForm(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		e.post(alice, "general", "one")
		second := e.post(alice, "general", "two")
		for _, form := range []string{strings.ToUpper(second.ID), "{" + second.ID + "}", "urn:uuid:" + second.ID,
			strings.ReplaceAll(second.ID, "-", "")} {
			var page struct {
				Messages []message `json:"messages"`
			}
			decode(t, e.mustDo(http.StatusOK, "GET", "/api/rooms/general/messages?before="+url.QueryEscape(form), alice, nil), &page)
			if len(page.Messages) != 1 || page.Messages[0].Content != "one" {
				t.Fatalf("before=%s: %+v", form, page.Messages)
			}
		}
	})
}
