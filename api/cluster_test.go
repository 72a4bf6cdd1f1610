package api_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"switchboard/api/apitest"
	"switchboard/db"
	"switchboard/db/dbtest"
	"switchboard/realtime"
)

// startCluster starts n nodes, named A, B, C…, sharing one fresh PostgreSQL schema, and waits
// until each hears all the others.
func startCluster(t *testing.T, n int, opts ...option) []*env {
	t.Helper()
	return startClusterWith(t, n, func(int, string) string { return "" }, opts...)
}

// startClusterWith is startCluster where listenVia may name, for node i, another URL for its
// listening connection than the database's own (a proxy the test can cut).
func startClusterWith(t *testing.T, n int, listenVia func(i int, dbURL string) string, opts ...option) []*env {
	t.Helper()
	base := dbtest.Config(t, db.Postgres)
	nodes := make([]*env, n)
	for i := range nodes {
		cfg := base
		cfg.NodeID = string(rune('A' + i))
		store, err := db.Open(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		listenURL := cfg.URL
		if via := listenVia(i, cfg.URL); via != "" {
			listenURL = via
		}
		nodes[i] = startEnv(t, store, append([]option{inCluster(listenURL), withHub(func(h *realtime.Config) {
			h.HeartbeatEvery = 100 * time.Millisecond
			h.NodeTimeout = time.Second
			h.PresenceGrace = 200 * time.Millisecond
		})}, opts...)...)
	}
	for _, e := range nodes {
		waitUntil(t, "every node hearing the others", func() bool { return len(e.hub.Nodes()) == n-1 })
	}
	return nodes
}

// An SSE client on node A, a WebSocket client on B and a long-poll client on C in one room all
// receive messages posted to B, once and in order.
func TestClusterDeliversAcrossNodes(t *testing.T) {
	n := startCluster(t, 3)
	a, b, c := n[0], n[1], n[2]
	tok := a.token("alice", "Alice")
	sse := a.dialSSE(tok, "rooms=general")
	ws := b.dialWS(b.token("bob", "Bob"), "rooms=general")
	p := c.dialPoll(c.token("carol", "Carol"), "rooms=general&timeout=5")
	connectedOf(t, p)
	for i := range 5 {
		b.post(tok, "general", fmt.Sprint("m", i))
	}
	for name, cl := range map[string]client{"sse on A": sse, "ws on B": ws, "poll on C": p} {
		for i := range 5 {
			if m := nextOf(t, cl, "chat_message").message(t); m.Content != fmt.Sprint("m", i) {
				t.Fatalf("%s: message %d is %q", name, i, m.Content)
			}
		}
	}
	// A sentinel shows nothing was delivered twice.
	b.post(tok, "general", "sentinel")
	for name, cl := range map[string]client{"sse on A": sse, "ws on B": ws, "poll on C": p} {
		if m := nextOf(t, cl, "chat_message").message(t); m.Content != "sentinel" {
			t.Fatalf("%s got %q again", name, m.Content)
		}
	}
}

// A client that disconnects from node A and resumes on node B with its cursor misses nothing.
func TestClusterResumeOnAnotherNode(t *testing.T) {
	n := startCluster(t, 3)
	a, b, c := n[0], n[1], n[2]
	tok := a.token("alice", "Alice")
	sse := a.dialSSE(tok, "rooms=general")
	c.post(tok, "general", "before")
	cursor := nextOf(t, sse, "chat_message").ID
	sse.cancel()
	c.post(tok, "general", "while away 1")
	c.post(tok, "general", "while away 2")
	resumed := b.dialSSE(tok, "", "Last-Event-ID", cursor)
	for _, want := range []string{"while away 1", "while away 2"} {
		if m := nextOf(t, resumed, "chat_message").message(t); m.Content != want {
			t.Fatalf("resumed on B got %q, want %q", m.Content, want)
		}
	}
	a.post(tok, "general", "live on A")
	if m := nextOf(t, resumed, "chat_message").message(t); m.Content != "live on A" {
		t.Fatalf("got %q", m.Content)
	}
}

// When node A's listening connection is terminated while messages keep being published on
// node B, A's subscribers end up with every message, in order, once; A is degraded meanwhile.
func TestClusterSurvivesListenerTermination(t *testing.T) {
	n := startCluster(t, 2)
	a, b := n[0], n[1]
	tok := a.token("alice", "Alice")
	sse := a.dialSSE(tok, "rooms=general")
	admin, err := sql.Open("postgres", dbtest.DefaultPostgresURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()

	const total = 60
	done := make(chan error, 1)
	go func() {
		for i := range total {
			if _, err := b.postRaw(tok, "general", fmt.Sprint(i)); err != nil {
				done <- err
				return
			}
			if i == total/3 {
				var killed int
				if err := admin.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
					WHERE application_name = 'switchboard-listen-A'`).Scan(&killed); err != nil || killed != 1 {
					done <- fmt.Errorf("terminating A's listener: %d terminated, %v", killed, err)
					return
				}
			}
		}
		done <- nil
	}()
	for i := range total {
		if m := nextOf(t, sse, "chat_message").message(t); m.Content != fmt.Sprint(i) {
			t.Fatalf("message %d is %q", i, m.Content)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	b.post(tok, "general", "sentinel")
	if m := nextOf(t, sse, "chat_message").message(t); m.Content != "sentinel" {
		t.Fatalf("after the outage A delivered %q again", m.Content)
	}
	waitUntil(t, "A ready again", func() bool { status, _ := a.do("GET", "/readyz", "", nil); return status == http.StatusOK })
}

// While node A cannot listen, it reports degraded; what was published on node B meanwhile
// reaches A's subscribers once A listens again, with no later event to reveal the gap.
func TestClusterCatchesUpAfterAListenerOutage(t *testing.T) {
	var proxy *apitest.TCPProxy
	n := startClusterWith(t, 2, func(i int, dbURL string) string {
		if i != 0 {
			return ""
		}
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		proxy = apitest.NewTCPProxy(t, u.Host)
		u.Host = proxy.Addr()
		return u.String()
	})
	a, b := n[0], n[1]
	tok := a.token("alice", "Alice")
	sse := a.dialSSE(tok, "rooms=general")
	b.post(tok, "general", "before")
	if m := nextOf(t, sse, "chat_message").message(t); m.Content != "before" {
		t.Fatalf("got %q", m.Content)
	}

	proxy.Cut()
	waitUntil(t, "A reporting degraded", func() bool {
		status, _ := a.do("GET", "/readyz", "", nil)
		return status == http.StatusServiceUnavailable
	})
	for i := range 3 {
		b.post(tok, "general", fmt.Sprint("during ", i))
	}
	proxy.Restore()
	for i := range 3 {
		if m := nextOf(t, sse, "chat_message").message(t); m.Content != fmt.Sprint("during ", i) {
			t.Fatalf("after the outage A delivered %q, want %q", m.Content, fmt.Sprint("during ", i))
		}
	}
	waitUntil(t, "A ready again", func() bool { status, _ := a.do("GET", "/readyz", "", nil); return status == http.StatusOK })
	b.post(tok, "general", "sentinel")
	if m := nextOf(t, sse, "chat_message").message(t); m.Content != "sentinel" {
		t.Fatalf("after the outage A delivered %q again", m.Content)
	}
}

// A kick issued on node B closes the user's connection on node A; a join over REST on node B
// for a connection on node A subscribes it; the admin listing on B shows A's connections.
func TestClusterActionsReachOtherNodes(t *testing.T) {
	n := startCluster(t, 2)
	a, b := n[0], n[1]
	alice, root := a.token("alice", "Alice"), b.admin("root")
	sse := a.dialSSE(alice, "")
	b.mustDo(http.StatusOK, "POST", "/api/rooms/lobby/join", alice, map[string]string{"connection_id": sse.conn.ConnectionID})
	if ev := nextOf(t, sse, "room_joined"); ev.Room != "lobby" {
		t.Fatalf("got %+v", ev)
	}
	b.post(alice, "lobby", "joined from B")
	if m := nextOf(t, sse, "chat_message").message(t); m.Content != "joined from B" {
		t.Fatalf("got %+v", m)
	}
	if status, _ := b.do("POST", "/api/rooms/lobby/join", b.token("mallory", "M"), map[string]string{"connection_id": sse.conn.ConnectionID}); status != http.StatusForbidden {
		t.Fatalf("joining another user's remote connection: %d", status)
	}
	if status, _ := b.do("POST", "/api/rooms/lobby/join", alice, map[string]string{"connection_id": "c_AAAAAAAAAAAAAAAAAAAAAAAA"}); status != http.StatusNotFound {
		t.Fatalf("joining an unknown connection: %d", status)
	}
	b.mustDo(http.StatusOK, "POST", "/api/rooms/lobby/leave", alice, map[string]string{"connection_id": sse.conn.ConnectionID})
	nextOf(t, sse, "room_left")

	var list struct {
		Connections []realtime.Info `json:"connections"`
	}
	decode(t, b.mustDo(http.StatusOK, "GET", "/api/admin/connections?user=alice", root, nil), &list)
	if len(list.Connections) != 1 || list.Connections[0].ID != sse.conn.ConnectionID {
		t.Fatalf("B's listing of alice %+v", list.Connections)
	}
	var kicked struct {
		Kicked int `json:"kicked"`
	}
	decode(t, b.mustDo(http.StatusOK, "DELETE", "/api/admin/users/alice/connections", root, map[string]string{"reason": "cluster kick"}), &kicked)
	if kicked.Kicked != 1 {
		t.Fatalf("kicked %d", kicked.Kicked)
	}
	if rest := sse.ended(t); len(rest) == 0 || rest[len(rest)-1].Type != "kicked" {
		t.Fatalf("A's stream ended with %+v", rest)
	}
	// The kick's block holds on A too.
	if status, out := a.do("POST", "/api/rooms/lobby/messages", alice, map[string]string{"content": "back"}); status != http.StatusForbidden {
		t.Fatalf("alice writing on A after a kick on B: %d %s", status, out)
	}
}

// A node's presence news that never arrived (the bus drops broadcasts it cannot queue) is
// repaired by the node's periodic state: a user another node believes present is gone again.
func TestClusterPresenceRepairsLostNews(t *testing.T) {
	n := startCluster(t, 2, withHub(func(h *realtime.Config) { h.StateEvery = 200 * time.Millisecond }))
	a := n[0]
	alice := a.dialSSE(a.token("alice", "Alice"), "rooms=lobby")
	// As if B had told A that ghost arrived, and its news of ghost leaving was lost.
	a.hub.Remote("B", "hub.room", []byte(`{"room":"room:lobby","user":"ghost","info":{"user_id":"ghost"},"present":true}`))
	for ev := nextOf(t, alice, "user_joined"); !jsonHas(t, ev.Data, "user_id", "ghost"); {
		ev = nextOf(t, alice, "user_joined") // alice's own arrival comes first
	}
	if ev := nextOf(t, alice, "user_left"); !jsonHas(t, ev.Data, "user_id", "ghost") {
		t.Fatalf("user_left %s", ev.Data)
	}
}

// A long-poll connection that moves to another node retires its stale copy on the first node;
// someone else presenting its id elsewhere retires nothing.
func TestClusterLongPollMovesBetweenNodes(t *testing.T) {
	n := startCluster(t, 3)
	a, b, c := n[0], n[1], n[2]
	alice := a.token("alice", "Alice")
	onA := a.dialPoll(alice, "rooms=general&timeout=0")
	connectedOf(t, onA)
	id := onA.id

	mallory := c.dialPoll(c.token("mallory", "Mallory"), "timeout=0")
	mallory.id = id
	mallory.poll(t)
	// C's control messages reach A in order: once A has answered C's listing, it has also
	// handled the claim mallory's poll sent before it.
	c.mustDo(http.StatusOK, "GET", "/api/admin/connections", c.admin("root"), nil)
	if _, ok := a.hub.Conn(id); !ok {
		t.Fatal("another user's poll with alice's connection id retired her connection on A")
	}

	onB := b.dialPoll(alice, "timeout=0")
	onB.id, onB.cursor = id, onA.cursor
	onB.poll(t)
	waitUntil(t, "A retiring its stale copy", func() bool { _, ok := a.hub.Conn(id); return !ok })
	if _, ok := b.hub.Conn(id); !ok {
		t.Fatal("B does not hold the connection alice resumed there")
	}
}

// Online counts and joins and leaves are right across nodes, and a dead node's connections
// vanish from presence and from listings.
func TestClusterPresence(t *testing.T) {
	n := startCluster(t, 3)
	a, b, c := n[0], n[1], n[2]
	presence := []string{"user_joined", "user_left", "room_info"}
	alice := a.dialSSE(a.token("alice", "Alice"), "rooms=lobby")
	nextOf(t, alice, "room_info")
	b.dialSSE(b.token("bob", "Bob"), "rooms=lobby")
	bobTab2 := c.dialWS(c.token("bob", "Bob"), "rooms=lobby") // bob's second tab, on another node
	ev := nextOf(t, alice, presence...)
	if user, _, _ := presenceOf(t, ev); ev.Type != "user_joined" || user != "bob" {
		t.Fatalf("alice got %s %s", ev.Type, ev.Data)
	}
	if _, count, _ := presenceOf(t, nextOf(t, alice, presence...)); count != 2 {
		t.Fatalf("online count %d, want 2", count)
	}
	var list struct {
		OnlineCount int `json:"online_count"`
	}
	decode(t, c.mustDo(http.StatusOK, "GET", "/api/rooms/lobby/presence", c.token("carol", "Carol"), nil), &list)
	if list.OnlineCount != 2 {
		t.Fatalf("C counts %d online", list.OnlineCount)
	}
	// Node B dies without a word (its bus goes first, so no farewell leaves it): once its
	// heartbeats stop, its connections are forgotten, but bob is still on C.
	b.cluster.Close()
	b.stop()
	bobTab2.ws.CloseNow() // and then bob's last tab goes
	ev = nextOf(t, alice, presence...)
	if user, _, _ := presenceOf(t, ev); ev.Type != "user_left" || user != "bob" {
		t.Fatalf("alice got %s %s", ev.Type, ev.Data)
	}
	waitUntil(t, "the dead node leaving A's view", func() bool {
		return !slices.Contains(a.hub.Nodes(), "B")
	})
	var conns struct {
		Connections []realtime.Info `json:"connections"`
	}
	decode(t, a.mustDo(http.StatusOK, "GET", "/api/admin/connections", a.admin("root"), nil), &conns)
	for _, cn := range conns.Connections {
		if strings.HasPrefix(cn.UserID, "bob") {
			t.Fatalf("a dead node's connection is still listed: %+v", cn)
		}
	}
}

// TestRoomPatchOnAnotherNodeKeepsWhatTheFirstChanged: node B has the room cached when A makes
// it private; B's rename must not write the cached "public" back.
func TestRoomPatchOnAnotherNodeKeepsWhatTheFirstChanged(t *testing.T) {
	n := startCluster(t, 2)
	a, b := n[0], n[1]
	ann := a.token("ann", "Ann")
	a.mustDo(http.StatusCreated, "POST", "/api/rooms", ann, map[string]any{"name": "Ops", "key": "ops"})
	b.mustDo(http.StatusOK, "GET", "/api/rooms/ops", ann, nil) // B caches the room
	a.mustDo(http.StatusOK, "PATCH", "/api/rooms/ops", ann, map[string]any{"private": true})
	var renamed struct {
		Name    string `json:"name"`
		Private bool   `json:"private"`
	}
	decode(t, b.mustDo(http.StatusOK, "PATCH", "/api/rooms/ops", ann, map[string]any{"name": "Operations"}), &renamed)
	if renamed.Name != "Operations" || !renamed.Private {
		t.Fatalf("after a rename on node B: %+v; the room must stay private", renamed)
	}
	var stored struct {
		Private bool `json:"private"`
	}
	decode(t, a.mustDo(http.StatusOK, "GET", "/api/rooms/ops", ann, nil), &stored)
	if !stored.Private {
		t.Fatal("renaming the room on node B made it public again")
	}
}

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
