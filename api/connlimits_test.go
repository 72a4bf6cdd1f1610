package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"switchboard/api"
	"switchboard/db"
	"testing"
)

// One user may hold only so many connections; the next is refused with 429.
func TestConnectionsPerUserAreCapped(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.Limits.MaxConnsPerUser = 2 }))
	alice := e.token("alice", "Alice")
	e.dialSSE(alice, "")
	e.dialWS(alice, "")
	status, body := e.do("GET", "/events", alice, nil)
	if status != http.StatusTooManyRequests || !strings.Contains(string(body), "too_many_connections") {
		t.Fatalf("a third connection: %d %s", status, body)
	}
	e.dialSSE(e.token("bob", "Bob"), "") // others are not affected
}

// At the node's connection cap, another stream is refused with 503, Retry-After and a JSON
// error, on every transport.
func TestNodeConnectionCapRefusesStreams(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.Limits.MaxConns = 2 }))
	e.dialSSE(e.token("alice", "Alice"), "rooms=general")
	e.dialWS(e.token("bob", "Bob"), "rooms=general")
	carol := e.token("carol", "Carol")
	for _, path := range []string{"/events?rooms=general", "/poll?rooms=general&timeout=0"} {
		req, _ := http.NewRequest("GET", e.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+carol)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusServiceUnavailable {
			res.Body.Close() // a stream that was let in: its body never ends
			t.Fatalf("%s at the cap: %d, want 503", path, res.StatusCode)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var eb errorBody
		if res.Header.Get("Retry-After") == "" ||
			json.Unmarshal(body, &eb) != nil || eb.Error.Code == "" || eb.Error.Message == "" {
			t.Fatalf("%s at the cap: %d, Retry-After %q, %s", path, res.StatusCode, res.Header.Get("Retry-After"), body)
		}
	}
	if _, err := e.openWS(carol, "rooms=general"); err == nil {
		t.Fatal("a WebSocket was accepted at the connection cap")
	}
}
