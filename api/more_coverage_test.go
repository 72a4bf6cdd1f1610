package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"switchboard/api"
	"switchboard/db"
	"switchboard/realtime"
)

// A durable event too large for a NOTIFY payload (PostgreSQL's limit is 8000 bytes), published
// on node B, reaches a subscriber of its room on node A whole: A reads it from the log.
func TestClusterDeliversEventsLargerThanANotify(t *testing.T) {
	n := startCluster(t, 2)
	a, b := n[0], n[1]
	sse := a.dialSSE(a.token("alice", "Alice"), "rooms=general")
	blob := strings.Repeat("0123456789abcdef", 20<<10/16) // 20 KiB
	b.mustDo(http.StatusOK, "POST", "/api/publish", b.admin("root"),
		map[string]any{"type": "big.blob", "rooms": []string{"general"}, "data": map[string]string{"blob": blob}})
	ev := nextOf(t, sse, "big.blob")
	if ev.Room != "general" || ev.ID == "" || !jsonHas(t, ev.Data, "blob", blob) {
		t.Fatalf("A delivered %s in %q (id %q) with %d bytes of data, want the 20 KiB blob whole",
			ev.Type, ev.Room, ev.ID, len(ev.Data))
	}
	// What follows it still comes, once.
	b.post(b.token("bob", "Bob"), "general", "after")
	if m := nextOf(t, sse, "chat_message", "big.blob").message(t); m.Content != "after" {
		t.Fatalf("after the large event A delivered %+v", m)
	}
}

// A node's whole presence state, larger than one NOTIFY, travels in parts and is reassembled:
// once node A has forgotten what node B told it, B's next periodic state alone restores all of
// B's users in A's view.
func TestClusterPresenceStateLargerThanANotify(t *testing.T) {
	n := startCluster(t, 2, withHub(func(h *realtime.Config) { h.StateEvery = 200 * time.Millisecond }))
	a, b := n[0], n[1]
	const users = 80
	var want []string
	for i := range users {
		id := fmt.Sprintf("user-%02d-with-a-rather-long-identifier-for-its-size", i)
		want = append(want, id)
		name := fmt.Sprintf("User number %02d, whose display name is long enough to matter", i)
		b.dialWS(b.token(id, name), "rooms=lobby,general")
	}
	// B's state names every user twice (one list per room) and describes each once: about
	// 80 × 220 bytes, well over one NOTIFY payload (8,000), so it can only arrive in parts.
	carol := a.token("carol", "Carol")
	presentOnA := func() []string {
		var list struct {
			Users []struct {
				UserID string `json:"user_id"`
			} `json:"users"`
		}
		decode(t, a.mustDo(http.StatusOK, "GET", "/api/rooms/lobby/presence", carol, nil), &list)
		var ids []string
		for _, u := range list.Users {
			ids = append(ids, u.UserID)
		}
		slices.Sort(ids)
		return ids
	}
	waitUntil(t, "A seeing B's users", func() bool { return slices.Equal(presentOnA(), want) })

	// As if every delta B sent had been lost: A forgets B's users, and only B's state, which
	// cannot fit in one NOTIFY, can bring them back.
	// (Whether A's view is seen empty in between depends on when B's next state lands, so it
	// is not asserted; with the parts never reassembled, the wait below fails.)
	a.hub.Remote("B", "hub.state", []byte(`{"rooms":{},"users":{}}`))
	waitUntil(t, "B's state restoring all its users on A", func() bool { return slices.Equal(presentOnA(), want) })
}

// Typing announced over REST on node B, for a connection on node A, reaches the room's other
// subscribers on A as user_typing_start, never the typer's own connection; typing in-band on B
// reaches A too.
func TestClusterTypingReachesOtherNodes(t *testing.T) {
	n := startCluster(t, 2)
	a, b := n[0], n[1]
	alice, bob := a.token("alice", "Alice"), a.token("bob", "Bob")
	watcher := a.dialSSE(alice, "rooms=general")
	typer := a.dialSSE(bob, "rooms=general")
	typing := []string{"user_typing_start", "user_typing_stop", "chat_message"}

	b.mustDo(http.StatusNoContent, "POST", "/api/rooms/general/typing", bob,
		map[string]any{"typing": true, "connection_id": typer.conn.ConnectionID})
	if ev := nextOf(t, watcher, typing...); ev.Type != "user_typing_start" || ev.Room != "general" || !jsonHas(t, ev.Data, "user_id", "bob") {
		t.Fatalf("alice on A got %s %s %s", ev.Type, ev.Room, ev.Data)
	}
	// A has published the typing event to both of its subscribers; the sentinel comes later.
	b.post(alice, "general", "sentinel")
	if ev := nextOf(t, typer, typing...); ev.Type != "chat_message" {
		t.Fatalf("the typer's own connection got %s %s", ev.Type, ev.Data)
	}
	nextOf(t, watcher, "chat_message")

	carolWS := b.dialWS(b.token("carol", "Carol"), "rooms=general")
	carolWS.send(t, map[string]string{"type": "typing_start", "room": "general"})
	if ev := nextOf(t, watcher, typing...); ev.Type != "user_typing_start" || !jsonHas(t, ev.Data, "user_id", "carol") {
		t.Fatalf("alice on A got %s %s after carol typed on B", ev.Type, ev.Data)
	}
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

// Every response carries an X-Request-ID, a new one each time unless the client sent its own,
// and a JSON error's request_id is the one in the header.
func TestEveryResponseCarriesARequestID(t *testing.T) {
	e := newEnv(t, db.SQLite)
	alice := e.token("alice", "Alice")
	seen := map[string]bool{}
	for _, r := range []struct {
		method, path, token, body string
		status                    int
	}{
		{"GET", "/healthz", "", "", http.StatusOK},
		{"GET", "/api/rooms", alice, "", http.StatusOK},
		{"GET", "/api/rooms", "", "", http.StatusUnauthorized},
		{"GET", "/api/no-such-route", alice, "", http.StatusNotFound},
		{"POST", "/api/rooms/general/messages", alice, `{"content":`, http.StatusBadRequest},
		{"POST", "/api/rooms/general/messages", alice, `{"content":""}`, http.StatusBadRequest},
	} {
		req, _ := http.NewRequest(r.method, e.base+r.path, strings.NewReader(r.body))
		req.Header.Set("Content-Type", "application/json")
		if r.token != "" {
			req.Header.Set("Authorization", "Bearer "+r.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		id := res.Header.Get("X-Request-ID")
		if res.StatusCode != r.status || id == "" || seen[id] {
			t.Fatalf("%s %s: %d, X-Request-ID %q (seen before: %v)", r.method, r.path, res.StatusCode, id, seen[id])
		}
		seen[id] = true
		if r.status >= 400 {
			var eb struct {
				Error struct {
					RequestID string `json:"request_id"`
				} `json:"error"`
			}
			decode(t, body, &eb)
			if eb.Error.RequestID != id {
				t.Fatalf("%s %s: body's request_id %q, header's %q", r.method, r.path, eb.Error.RequestID, id)
			}
		}
	}
	req, _ := http.NewRequest("GET", e.base+"/api/rooms", nil)
	req.Header.Set("X-Request-ID", "trace-from-the-gateway")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if got := res.Header.Get("X-Request-ID"); got != "trace-from-the-gateway" || !strings.Contains(string(body), `"request_id":"trace-from-the-gateway"`) {
		t.Fatalf("the client's X-Request-ID came back as %q: %s", got, body)
	}
	for _, odd := range []string{strings.Repeat("x", 129), "two words"} { // replaced by one of ours
		req, _ := http.NewRequest("GET", e.base+"/api/rooms", nil)
		req.Header.Set("X-Request-ID", odd)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("X-Request-ID"); got == odd || got == "" {
			t.Fatalf("X-Request-ID %.20q… came back as %.20q", odd, got)
		}
	}
}

// The events published and delivered counters on /metrics grow with the traffic they count.
func TestMetricsEventCountersMove(t *testing.T) {
	e := newEnv(t, db.SQLite)
	alice := e.token("alice", "Alice")
	streams := []client{e.dialSSE(alice, "rooms=general"), e.dialWS(e.token("bob", "Bob"), "rooms=general")}
	counters := func() (published, delivered float64) {
		values := metricValues(t, e.mustDo(http.StatusOK, "GET", "/metrics", "", nil))
		return values["switchboard_events_published_total"], values["switchboard_events_delivered_total"]
	}
	published, delivered := counters()
	const posts = 3
	for i := range posts {
		e.post(alice, "general", fmt.Sprint("m", i))
	}
	for _, s := range streams {
		for range posts {
			nextOf(t, s, "chat_message")
		}
	}
	published2, delivered2 := counters()
	if published2-published < posts || delivered2-delivered < float64(posts*len(streams)) {
		t.Fatalf("after %d messages to %d subscribers: published %v → %v, delivered %v → %v",
			posts, len(streams), published, published2, delivered, delivered2)
	}
	// Every message was stored by some transaction, timed; the pool reports its connections.
	body := e.mustDo(http.StatusOK, "GET", "/metrics", "", nil)
	values := metricValues(t, body)
	if got := values["switchboard_message_commit_size_sum"]; got < posts {
		t.Errorf("message transactions stored %v messages, want at least %d", got, posts)
	}
	if values["switchboard_message_commit_seconds_count"] < 1 || values["switchboard_message_commit_seconds_sum"] <= 0 {
		t.Errorf("no message transaction was timed: count %v, sum %v",
			values["switchboard_message_commit_seconds_count"], values["switchboard_message_commit_seconds_sum"])
	}
	if !strings.Contains(string(body), `go_sql_max_open_connections{db_name="switchboard"}`) {
		t.Error("/metrics lacks the database pool's statistics (go_sql_*)")
	}
}

// metricValues reads the unlabelled series of a Prometheus text exposition.
func metricValues(t *testing.T, body []byte) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		line := sc.Text()
		name, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") || strings.Contains(name, "{") {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[name] = v
	}
	return out
}
