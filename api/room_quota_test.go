package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"switchboard/api"
	"switchboard/db"
)

// Room creation — explicit, or by naming a new key in a stream, a join or a post — is rate
// limited and capped per user: a flood of streams naming new keys creates no more than the
// burst, and the rest come back as room_left with the 429 that refused them.
func TestRoomCreationIsLimitedPerUser(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) {
		a.Limits.Rooms = api.ActionLimit{User: api.Limit{Rate: 0.01, Burst: 10}, Conn: api.Limit{Rate: 0.01, Burst: 10}}
		a.Limits.MaxRoomsPerUser = 100
	}))
	mallory := e.token("mallory", "Mallory")
	ctx := context.Background()
	refused := 0
	for i := range 20 {
		keys := make([]string, 100)
		for j := range keys {
			keys[j] = fmt.Sprintf("spam-%d-%d", i, j)
		}
		stream := e.dialSSE(mallory, "rooms="+strings.Join(keys, ","))
		for range len(keys) - len(stream.conn.Rooms) {
			ev := nextOf(t, stream, "room_left")
			if !jsonHas(t, ev.Data, "reason", "rate_limited") {
				t.Fatalf("room_left %s, want reason rate_limited", ev.Data)
			}
			refused++
		}
		stream.cancel()
	}
	n, err := e.db.CountRoomsCreatedBy(ctx, "mallory")
	if err != nil {
		t.Fatal(err)
	}
	if n > 11 || n+refused != 2000 {
		t.Fatalf("2,000 new keys named: %d rooms created, %d refused; want at most the burst of 10 (+1 refill)", n, refused)
	}
	// Explicit creation draws on the same allowance, and says when to retry.
	res := rawRequest(t, e, "POST", "/api/rooms", mallory, `{"name":"One more"}`)
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("POST /api/rooms over the rate: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// So do posts and joins naming a new key.
	if status, out := e.do("POST", "/api/rooms/spam-new/messages", mallory, map[string]string{"content": "hi"}); status != http.StatusTooManyRequests {
		t.Fatalf("posting to a new key over the rate: %d %s", status, out)
	}
	// Others are not affected.
	e.createRoom(e.token("alice", "Alice"), map[string]any{"name": "Alice's"})
}

// However slow, a user cannot hold more rooms than the cap: archiving one frees a place.
func TestRoomCreationIsCappedPerUser(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.Limits.MaxRoomsPerUser = 3 }))
	alice := e.token("alice", "Alice")
	e.createRoom(alice, map[string]any{"name": "One", "key": "one"})
	e.mustDo(http.StatusCreated, "POST", "/api/rooms/two/messages", alice, map[string]string{"content": "made by posting"})
	e.dialSSE(alice, "rooms=three")
	status, out := e.do("POST", "/api/rooms", alice, map[string]string{"name": "Four"})
	if status != http.StatusForbidden || !strings.Contains(string(out), "too_many_rooms") {
		t.Fatalf("a fourth room: %d %s, want 403 too_many_rooms", status, out)
	}
	stream := e.dialSSE(alice, "rooms=four,one")
	if ev := nextOf(t, stream, "room_left"); ev.Room != "four" || !jsonHas(t, ev.Data, "reason", "too_many_rooms") {
		t.Fatalf("a stream naming a fourth room: %s %s", ev.Room, ev.Data)
	}
	// Rooms that exist cost nothing to name.
	if len(stream.conn.Rooms) != 1 || stream.conn.Rooms[0] != "one" {
		t.Fatalf("stream rooms %v, want [one]", stream.conn.Rooms)
	}
	e.mustDo(http.StatusNoContent, "DELETE", "/api/rooms/one", alice, nil)
	e.mustDo(http.StatusCreated, "POST", "/api/rooms", alice, map[string]string{"name": "Four"})
}

// A room created by naming its key has no admin; its creator claims it with POST /api/rooms:
// they become its admin and its fields are set, as if it had just been created. Nobody else
// can, and a room with an admin is not claimed.
func TestImplicitRoomIsClaimedByItsCreator(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, carol, mallory := e.token("alice", "Alice"), e.token("carol", "Carol"), e.token("mallory", "Mallory")
		e.dialSSE(alice, "rooms=team-x") // creates it
		carols := e.dialSSE(carol, "rooms=team-x")
		if status, out := e.do("POST", "/api/rooms", mallory, map[string]any{"key": "team-x", "name": "Mine"}); status != http.StatusConflict {
			t.Fatalf("someone else claiming: %d %s", status, out)
		}
		var claimed struct {
			Name    string `json:"name"`
			Private bool   `json:"private"`
			MyRole  string `json:"my_role"`
		}
		decode(t, e.mustDo(http.StatusOK, "POST", "/api/rooms", alice,
			map[string]any{"key": "team-x", "name": "Team X", "private": true, "members": []string{"bob"}}), &claimed)
		if claimed.Name != "Team X" || !claimed.Private || claimed.MyRole != "admin" {
			t.Fatalf("claimed room %+v", claimed)
		}
		// Carol, no member of the now private room, is taken out of it.
		if ev := nextOf(t, carols, "room_left"); ev.Room != "team-x" || !jsonHas(t, ev.Data, "reason", "private") {
			t.Fatalf("carol's stream: %s %s", ev.Room, ev.Data)
		}
		if r, ok := e.rooms(e.token("bob", "Bob"))["team-x"]; !ok || r.MyRole != "member" {
			t.Fatalf("bob's view of the claimed room: %+v %v", r, ok)
		}
		e.mustDo(http.StatusOK, "PATCH", "/api/rooms/team-x", alice, map[string]string{"description": "configured"})
		if status, out := e.do("POST", "/api/rooms", alice, map[string]any{"key": "team-x", "name": "Again"}); status != http.StatusConflict {
			t.Fatalf("claiming a room that has an admin: %d %s", status, out)
		}
	})
}

// GET /api/rooms lists the caller's rooms first and pages through the rest with a cursor: no
// number of other people's rooms pushes a user's own rooms out of the list.
func TestOwnRoomsAreListedFirstAndTheRestPaged(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		e.post(alice, "general", "hello")
		e.createRoom(alice, map[string]any{"name": "Alice's own", "key": "alices-own", "private": true})
		e.createRoom(e.token("bob", "Bob"), map[string]any{"name": "Bob's own", "key": "bobs-own", "private": true})
		ctx := context.Background()
		for i := range 600 {
			if _, _, err := e.db.EnsureRoom(ctx, fmt.Sprintf("flood-%03d", i), "mallory"); err != nil {
				t.Fatal(err)
			}
		}
		var first struct {
			Rooms []roomView `json:"rooms"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/rooms", alice, nil), &first)
		if len(first.Rooms) < 2 || first.Rooms[0].Key != "alices-own" || first.Rooms[1].Key != "general" {
			t.Fatalf("first page starts with %v, want alice's rooms first", keysOf(first.Rooms[:min(3, len(first.Rooms))]))
		}
		seen := map[string]bool{}
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("pages do not end")
			}
			var page struct {
				Rooms      []roomView `json:"rooms"`
				NextCursor string     `json:"next_cursor"`
			}
			decode(t, e.mustDo(http.StatusOK, "GET", "/api/rooms?limit=50&cursor="+cursor, alice, nil), &page)
			for _, r := range page.Rooms {
				if seen[r.Key] {
					t.Fatalf("room %s listed twice", r.Key)
				}
				seen[r.Key] = true
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if len(seen) != 602 || !seen["general"] || !seen["alices-own"] || seen["bobs-own"] {
			t.Fatalf("paged through %d rooms (general %v, alice's %v, bob's private %v), want 602",
				len(seen), seen["general"], seen["alices-own"], seen["bobs-own"])
		}
		for _, bad := range []string{"x", "m.not-an-id", "q.0190f1d2-0000-7000-8000-000000000000"} {
			if status, _ := e.do("GET", "/api/rooms?cursor="+bad, alice, nil); status != http.StatusBadRequest {
				t.Errorf("cursor %q: %d, want 400", bad, status)
			}
		}
	})
}

func keysOf(rooms []roomView) []string {
	out := make([]string, len(rooms))
	for i, r := range rooms {
		out[i] = r.Key
	}
	return out
}
