package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"switchboard/api"
	"switchboard/db"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// A flood from one user is rate-limited — 429 with Retry-After on REST, rate_limited faults and
// then 1008 on WebSocket — while another user's messages go through and arrive.
func TestFloodIsRateLimitedWhileOthersGoOn(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind, withAPI(func(a *api.Config) {
			a.Limits = unlimited()
			a.Limits.Messages = api.ActionLimit{User: api.Limit{Rate: 2, Burst: 5}, Conn: api.Limit{Rate: 2, Burst: 5}}
			a.Limits.AbuseFaults = 10
		}))
		flooder, bob := e.token("flood", "Flood"), e.token("bob", "Bob")
		watcher := e.dialSSE(e.token("watch", "Watch"), "rooms=general")
		var limited int
		for i := range 10 {
			status, body := e.do("POST", "/api/rooms/general/messages", flooder, map[string]string{"content": "spam"})
			if status == http.StatusTooManyRequests {
				limited++
				if !strings.Contains(string(body), `"code":"rate_limited"`) {
					t.Fatalf("429 body %s", body)
				}
			} else if status != http.StatusCreated {
				t.Fatalf("post %d: %d %s", i, status, body)
			}
		}
		if limited < 4 {
			t.Fatalf("only %d of 10 burst posts were limited", limited)
		}
		res := rawRequest(t, e, "POST", "/api/rooms/general/messages", flooder, `{"content":"more"}`)
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
			t.Fatalf("status %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
		}
		// Over WebSocket: rate_limited faults first, then the socket is closed for sustained abuse.
		ws := e.dialWS(flooder, "")
		spam := []byte(`{"type":"chat_message","room":"general","data":{"content":"spam"}}`)
		for range 40 { // the server may close the socket before all are sent
			if err := ws.ws.Write(context.Background(), websocket.MessageText, spam); err != nil {
				break
			}
		}
		faults := 0
		for code := websocket.StatusCode(-1); code == -1; {
			select {
			case ev := <-ws.events:
				if ev.Type == "fault" && jsonHas(t, ev.Data, "code", "rate_limited") {
					faults++
				}
			case err := <-ws.closed:
				code = websocket.CloseStatus(err)
				if code != websocket.StatusPolicyViolation {
					t.Fatalf("flooding WebSocket closed with %v (%d), want 1008", err, code)
				}
				for len(ws.events) > 0 { // read before the close, but select picked the close first
					if ev := <-ws.events; ev.Type == "fault" && jsonHas(t, ev.Data, "code", "rate_limited") {
						faults++
					}
				}
			case <-time.After(wait):
				t.Fatal("the flooding WebSocket is still open")
			}
		}
		if faults == 0 {
			t.Fatal("the WebSocket was closed without a rate_limited fault first")
		}
		// Bob is not affected while the flood goes on: his posts are accepted and delivered.
		flooding := make(chan struct{})
		floodDone := make(chan int)
		go func() {
			n := 0
			for {
				select {
				case <-flooding:
					floodDone <- n
					return
				default:
				}
				if status, _ := e.do("POST", "/api/rooms/general/messages", flooder, map[string]string{"content": "spam"}); status == http.StatusTooManyRequests {
					n++
				}
			}
		}()
		for _, c := range []string{"bob 1", "bob 2", "bob 3"} {
			e.post(bob, "general", c)
		}
		close(flooding)
		if n := <-floodDone; n == 0 {
			t.Fatal("the flood during bob's posts was never limited")
		}
		var got []string
		for len(got) < 3 {
			if m := nextOf(t, watcher, "chat_message").message(t); m.UserID == "bob" {
				got = append(got, m.Content)
			}
		}
		if strings.Join(got, ",") != "bob 1,bob 2,bob 3" {
			t.Fatalf("bob's messages %v", got)
		}
	})
}

// Joins, leaves and closing connections share a per-user limit, checked before any lookup
// that would ask the other nodes of a cluster.
func TestJoinsAndClosesAreRateLimited(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind, withAPI(func(a *api.Config) {
			a.Limits = unlimited()
			a.Limits.Joins = api.ActionLimit{User: api.Limit{Rate: 0.01, Burst: 3}, Conn: api.Limit{Rate: 0.01, Burst: 3}}
		}))
		alice := e.token("alice", "Alice")
		stream := e.dialSSE(alice, "")
		e.mustDo(http.StatusOK, "POST", "/api/rooms/lobby/join", alice, map[string]string{"connection_id": stream.conn.ConnectionID})
		e.mustDo(http.StatusOK, "POST", "/api/rooms/lobby/leave", alice, map[string]string{"connection_id": stream.conn.ConnectionID})
		e.mustDo(http.StatusNotFound, "DELETE", "/api/connections/c_AAAAAAAAAAAAAAAAAAAAAAAA", alice, nil)
		if status, body := e.do("DELETE", "/api/connections/"+stream.conn.ConnectionID, alice, nil); status != http.StatusTooManyRequests {
			t.Fatalf("a fourth join, leave or close: %d %s", status, body)
		}
		e.mustDo(http.StatusOK, "POST", "/api/rooms/lobby/join", e.token("bob", "Bob"), map[string]string{"connection_id": e.dialSSE(e.token("bob", "Bob"), "").conn.ConnectionID})
	})
}

// TestRoomChangesAreRateLimited: creating rooms, changing them and their members, and read
// receipts are stored and announced to others: one user cannot flood every connection (and
// the replay log of "all") with them. Another user is not held back.
func TestRoomChangesAreRateLimited(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) {
		a.Limits = unlimited()
		a.Limits.Changes = api.ActionLimit{User: api.Limit{Rate: 0.01, Burst: 3}}
	}))
	spammer := e.token("spammer", "S")
	for i := range 3 {
		e.mustDo(http.StatusCreated, "POST", "/api/rooms", spammer, map[string]any{"name": fmt.Sprint("spam ", i)})
	}
	for _, r := range []struct{ method, path string }{
		{"POST", "/api/rooms"}, {"PATCH", "/api/rooms/spam-0"}, {"POST", "/api/rooms/spam-0/members"},
		{"DELETE", "/api/rooms/spam-0/members/x"}, {"POST", "/api/rooms/spam-0/read"}, {"PATCH", "/api/notifications/mark-all-read"},
	} {
		if status, body := e.do(r.method, r.path, spammer, map[string]any{"name": "more", "user_id": "x"}); status != http.StatusTooManyRequests {
			t.Fatalf("%s %s past the limit: %d %s", r.method, r.path, status, body)
		}
	}
	e.mustDo(http.StatusCreated, "POST", "/api/rooms", e.token("bob", "Bob"), map[string]any{"name": "Bob's"})
}
