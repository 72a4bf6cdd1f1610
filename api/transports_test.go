package api_test

import (
	"net/http"
	"strings"
	"switchboard/db"
	"switchboard/realtime"
	"testing"
	"time"
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

// The stream speaks the wire contract: headers, retry first, connected with the cursor, and
// heartbeats as events a page can see (EventSource shows no comments), each with an envelope.
func TestSSEWireFormat(t *testing.T) {
	e := newEnv(t, db.SQLite, withHub(func(h *realtime.Config) { h.Heartbeat = 50 * time.Millisecond }))
	req, _ := http.NewRequest("GET", e.url+"/events?rooms=general&access_token="+e.token("alice", "Alice"), nil)
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
	for !strings.Contains(seen.String(), "event: heartbeat\ndata: {\"type\":\"heartbeat\",\"data\":{},\"ts\":\"") {
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
