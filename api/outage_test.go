package api_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"switchboard/api/apitest"
	"switchboard/db"
	"switchboard/db/dbtest"
)

// With the database down, live streams keep running and ephemeral events keep flowing; writes
// answer 503 with Retry-After and /readyz says so; when it returns, the server recovers by
// itself and new writes are delivered.
func TestDatabaseOutage(t *testing.T) {
	direct := dbtest.FreshPostgres(t)
	u, _ := url.Parse(direct)
	proxy := apitest.NewTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	cfg := dbtest.Config(t, db.Postgres)
	cfg.URL = u.String()
	store, err := db.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := startEnv(t, store)
	alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
	aliceSSE := e.dialSSE(alice, "rooms=general")
	bobWS := e.dialWS(bob, "rooms=general")
	e.mustDo(http.StatusOK, "GET", "/readyz", "", nil)

	proxy.Cut()
	res := rawRequest(t, e, "POST", "/api/rooms/general/messages", alice, `{"content":"during the outage"}`)
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Fatalf("a write during the outage: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if status, _ := e.do("GET", "/readyz", "", nil); status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz during the outage: %d", status)
	}
	// Ephemeral events still flow over the live streams, both ways.
	e.mustDo(http.StatusNoContent, "POST", "/api/rooms/general/typing", alice, map[string]any{"typing": true})
	if ev := nextOf(t, bobWS, "user_typing_start"); !jsonHas(t, ev.Data, "user_id", "alice") {
		t.Fatalf("bob got %s", ev.Data)
	}
	bobWS.send(t, map[string]string{"type": "typing_start", "room": "general"})
	if ev := nextOf(t, aliceSSE, "user_typing_start"); !jsonHas(t, ev.Data, "user_id", "bob") {
		t.Fatalf("alice got %s", ev.Data)
	}
	bobWS.send(t, map[string]any{"type": "chat_message", "room": "general", "data": map[string]string{"content": "x"}})
	if ev := nextOf(t, bobWS, "fault"); !jsonHas(t, ev.Data, "code", "unavailable") {
		t.Fatalf("an in-band write during the outage: %s", ev.Data)
	}

	proxy.Restore()
	waitUntil(t, "/readyz recovering", func() bool { status, _ := e.do("GET", "/readyz", "", nil); return status == http.StatusOK })
	e.post(alice, "general", "after the outage")
	for name, c := range map[string]client{"sse": aliceSSE, "ws": bobWS} {
		if m := nextOf(t, c, "chat_message").message(t); m.Content != "after the outage" {
			t.Fatalf("%s got %+v: the message written during the outage was not refused", name, m)
		}
	}
}
