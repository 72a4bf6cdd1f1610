package api_test

import (
	"net/http"
	"testing"
	"time"

	"switchboard/db"
	"switchboard/realtime"
)

// A fresh token extends a live stream without a reconnect: over REST for SSE, in-band
// for WebSocket. Each test opens a control stream with the same short token and no refresh: its
// token_expired is the event that shows the old expiry has passed.

// refreshed is the answer to a token refresh.
type refreshed struct {
	ConnectionID string `json:"connection_id"`
	ExpiresAt    string `json:"expires_at"`
	Ref          string `json:"ref"`
}

func TestRefreshedSSEStreamOutlivesItsFirstToken(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		minted := time.Now()
		short, fresh := e.tokenFor("alice", 2*time.Second), e.tokenFor("alice", time.Hour)
		stream, control := e.dialSSE(short, "rooms=general"), e.dialSSE(short, "")
		var got refreshed
		decode(t, e.mustDo(http.StatusOK, "POST", "/api/connections/"+stream.conn.ConnectionID+"/token", fresh, nil), &got)
		if got.ConnectionID != stream.conn.ConnectionID || !sameSecond(t, got.ExpiresAt, minted.Add(time.Hour)) {
			t.Fatalf("refresh answered %+v", got)
		}
		if rest := control.ended(t); len(rest) == 0 || rest[len(rest)-1].Type != "token_expired" {
			t.Fatalf("the control stream ended with %+v", rest)
		}
		e.post(e.token("bob", "Bob"), "general", "after the first token expired")
		if ev := nextOf(t, stream, "chat_message", "token_expired"); ev.Type != "chat_message" {
			t.Fatalf("the refreshed stream got %s", ev.Type)
		}
	})
}

func TestRefreshedWebSocketOutlivesItsFirstToken(t *testing.T) {
	e := newEnv(t, db.SQLite)
	short := e.tokenFor("alice", 2*time.Second)
	ws, control := e.dialWS(short, "rooms=general"), e.dialWS(short, "")

	// Refused refreshes answer a fault with the message's ref and change nothing.
	for _, bad := range []struct{ name, token, code string }{
		{"another user's token", e.tokenFor("mallory", time.Hour), "forbidden"},
		{"an expired token", e.tokenFor("alice", -time.Hour), "token_expired"},
		{"a forged token", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.", "invalid_token"},
	} {
		ws.send(t, map[string]any{"type": "refresh", "ref": bad.name, "data": map[string]string{"token": bad.token}})
		ev := nextOf(t, ws, "fault", "token_refreshed")
		var f realtime.Fault
		decode(t, ev.Data, &f)
		if ev.Type != "fault" || f.Code != bad.code || f.Ref != bad.name {
			t.Fatalf("refresh with %s: %s %s", bad.name, ev.Type, ev.Data)
		}
	}
	minted := time.Now()
	ws.send(t, map[string]any{"type": "refresh", "ref": "r1", "data": map[string]string{"token": e.tokenFor("alice", time.Hour)}})
	ev := nextOf(t, ws, "token_refreshed", "fault")
	var got refreshed
	decode(t, ev.Data, &got)
	if ev.Type != "token_refreshed" || got.Ref != "r1" || !sameSecond(t, got.ExpiresAt, minted.Add(time.Hour)) {
		t.Fatalf("refresh answered %s %s", ev.Type, ev.Data)
	}
	if code, _ := control.closeStatus(t); code != realtime.CloseTokenExpired {
		t.Fatalf("the control socket closed with %d", code)
	}
	e.post(e.token("bob", "Bob"), "general", "after the first token expired")
	if ev := nextOf(t, ws, "chat_message"); ev.Type != "chat_message" {
		t.Fatalf("the refreshed socket got %s", ev.Type)
	}
}

// A refresh with another user's token is refused with 403 and leaves the stream to end at its
// own token's expiry; one for a connection that is gone answers 404.
func TestRefreshRefusesAnotherUsersToken(t *testing.T) {
	e := newEnv(t, db.SQLite)
	stream := e.dialSSE(e.tokenFor("alice", 2*time.Second), "")
	path := "/api/connections/" + stream.conn.ConnectionID + "/token"
	if status, out := e.do("POST", path, e.tokenFor("mallory", time.Hour), nil); status != http.StatusForbidden {
		t.Fatalf("refresh with mallory's token: %d %s", status, out)
	}
	if rest := stream.ended(t); len(rest) == 0 || rest[len(rest)-1].Type != "token_expired" {
		t.Fatalf("the stream ended with %+v", rest)
	}
	waitUntil(t, "the stream's removal", func() bool { _, ok := e.hub.Conn(stream.conn.ConnectionID); return !ok })
	if status, out := e.do("POST", path, e.tokenFor("alice", time.Hour), nil); status != http.StatusNotFound {
		t.Fatalf("refreshing a closed stream: %d %s", status, out)
	}
}

// A refresh sent to node B reaches a stream held by node A.
func TestRefreshReachesAStreamOnAnotherNode(t *testing.T) {
	n := startCluster(t, 2)
	a, b := n[0], n[1]
	short := a.tokenFor("alice", 2*time.Second)
	stream, control := a.dialSSE(short, "rooms=general"), a.dialSSE(short, "")
	if status, out := b.do("POST", "/api/connections/"+stream.conn.ConnectionID+"/token", b.tokenFor("mallory", time.Hour), nil); status != http.StatusForbidden {
		t.Fatalf("refresh on B with mallory's token: %d %s", status, out)
	}
	b.mustDo(http.StatusOK, "POST", "/api/connections/"+stream.conn.ConnectionID+"/token", b.tokenFor("alice", time.Hour), nil)
	control.ended(t)
	b.post(b.token("bob", "Bob"), "general", "after the first token expired")
	if ev := nextOf(t, stream, "chat_message", "token_expired"); ev.Type != "chat_message" {
		t.Fatalf("the refreshed stream got %s", ev.Type)
	}
}

// sameSecond reports whether a wire timestamp is within a second of want. A token's expiry is
// whole seconds, so want must be taken when the token was minted, not when its answer arrived.
func sameSecond(t *testing.T, wire string, want time.Time) bool {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, wire)
	if err != nil {
		t.Fatalf("timestamp %q: %v", wire, err)
	}
	return at.Sub(want).Abs() <= time.Second
}
