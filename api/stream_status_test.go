package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"switchboard/api"
	"switchboard/db"
	"switchboard/realtime"
)

// What a client learns about its stream without seeing the stream itself: browsers
// hide the status of a refused WebSocket handshake, so a plain GET of /ws answers what the
// handshake would; heartbeats are events a page can watch; connected says how long silence may
// last and when the token ends.

// A GET of /ws without the upgrade answers the error the handshake would meet, or 426 when it
// would be accepted, and registers no connection either way.
func TestPlainGETOfWebSocketAnswersWhatTheHandshakeWould(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.Limits.MaxConnsPerUser = 1 }))
	alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
	e.dialSSE(bob, "") // bob is at his limit
	bobs, _, err := e.db.LoadTopic(t.Context(), realtime.UserTopic("bob"))
	if err != nil {
		t.Fatal(err)
	}
	// Only a holder of the cursor key could sign this one: the check behind the signature.
	othersCursor := e.hub.SignCursor(realtime.Cursor{Epoch: e.hub.Config().Epoch, Positions: []realtime.Position{{TopicID: bobs}}}, "alice")
	for _, c := range []struct {
		name, token, query string
		status             int
		code               string
	}{
		{"no token", "", "", http.StatusUnauthorized, "unauthorized"},
		{"an expired token", e.tokenFor("alice", -time.Hour), "", http.StatusUnauthorized, "token_expired"},
		{"a cursor the server did not issue", alice, "last_event_id=garbage", http.StatusBadRequest, "invalid_cursor"},
		{"a cursor naming another user's events", alice, "last_event_id=" + othersCursor, http.StatusForbidden, "forbidden"},
		{"a malformed room key", alice, "rooms=a%20b", http.StatusBadRequest, "validation_failed"},
		{"a user at the connection limit", bob, "", http.StatusTooManyRequests, "too_many_connections"},
		{"a request the handshake would accept", alice, "rooms=general", http.StatusUpgradeRequired, "upgrade_required"},
	} {
		before := e.hub.ConnCount()
		status, out := e.do("GET", "/ws?"+c.query, c.token, nil)
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		if err := json.Unmarshal(out, &body); err != nil || status != c.status || body.Error.Code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, status, out, c.status, c.code)
		}
		if n := e.hub.ConnCount(); n != before {
			t.Errorf("%s: %d connections after a plain GET, want %d", c.name, n, before)
		}
	}
	req, _ := http.NewRequest("GET", e.base+"/ws?access_token="+alice, nil)
	req.Header.Set("Origin", "https://elsewhere.example")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("from a foreign origin: %d, want 403", res.StatusCode)
	}
}

// Every stream shows its heartbeat as an event, and connected announces its interval; a
// long-poll's connected announces the poll timeout instead. Both say when the token expires.
func TestHeartbeatIsAnEventAndConnectedSaysHowLongSilenceMayLast(t *testing.T) {
	e := newEnv(t, db.SQLite, withHub(func(h *realtime.Config) { h.Heartbeat = 50 * time.Millisecond }))
	tok := e.tokenFor("alice", time.Hour)
	exp := time.Now().Add(time.Hour)
	type announced struct {
		HeartbeatMS   int64  `json:"heartbeat_ms"`
		PollTimeoutMS int64  `json:"poll_timeout_ms"`
		ExpiresAt     string `json:"expires_at"`
	}
	ws, err := e.openWS(tok, "")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]client{"SSE": e.openSSE(tok, ""), "WebSocket": ws} {
		var got announced
		decode(t, nextOf(t, c, "connected").Data, &got)
		if got.HeartbeatMS != 50 || got.PollTimeoutMS != 0 || !sameSecond(t, got.ExpiresAt, exp) {
			t.Errorf("%s: connected announced %+v", name, got)
		}
		if ev := nextOf(t, c, "heartbeat"); ev.ID != "" || string(ev.Data) != "{}" || ev.TS == "" {
			t.Errorf("%s: heartbeat %+v", name, ev)
		}
	}
	var got announced
	decode(t, nextOf(t, e.dialPoll(tok, ""), "connected").Data, &got)
	if got.PollTimeoutMS != 5000 || !sameSecond(t, got.ExpiresAt, exp) {
		t.Errorf("long-poll: connected announced %+v", got)
	}
}

// A server with WebSocket off says so in a way a client can tell from a refusal: 404 with the
// code transport_disabled, so that it falls back to SSE rather than giving up.
func TestDisabledWebSocketSaysSo(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.DisableWebSocket = true }))
	status, out := e.do("GET", "/ws", e.token("alice", "Alice"), nil)
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(out, &body); err != nil || status != http.StatusNotFound || body.Error.Code != "transport_disabled" {
		t.Fatalf("GET /ws with WebSocket disabled: %d %s", status, out)
	}
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
