package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"switchboard/api"
	"switchboard/db"
)

// Everything durable that happens in a room while a client is away — a member joining, an
// edit, a read receipt, a delete, a member leaving — is replayed when it resumes, on every
// transport: in order, once, and followed by what comes next.
func TestDurableRoomEventsReplayOnResume(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		key := e.createRoom(alice, map[string]any{"name": "Team", "key": "team", "private": true})
		stream := e.dialSSE(alice, "rooms="+key)
		e.post(alice, key, "before")
		cursor := nextOf(t, stream, "chat_message").ID
		stream.cancel()

		// While alice is away.
		e.mustDo(http.StatusCreated, "POST", "/api/rooms/team/members", alice, map[string]string{"user_id": "bob"})
		draft := e.post(bob, key, "draft")
		e.mustDo(http.StatusOK, "PATCH", "/api/rooms/team/messages/"+draft.ID, bob, map[string]string{"content": "final"})
		e.mustDo(http.StatusOK, "POST", "/api/rooms/team/read", alice, map[string]string{"message_id": draft.ID})
		e.mustDo(http.StatusNoContent, "DELETE", "/api/rooms/team/messages/"+draft.ID, alice, nil)
		e.mustDo(http.StatusNoContent, "DELETE", "/api/rooms/team/members/bob", alice, nil)

		resumed := map[string]client{
			"SSE":       e.dialSSE(alice, "", "Last-Event-ID", cursor),
			"WebSocket": e.dialWS(alice, "last_event_id="+url.QueryEscape(cursor)),
			"long-poll": e.dialPoll(alice, "timeout=5&cursor="+url.QueryEscape(cursor)),
		}
		e.post(alice, key, "after") // the sentinel: nothing replayed comes again after it
		want := []struct{ typ, field, value string }{
			{"member_joined", "user_id", "bob"},
			{"chat_message", "content", "draft"},
			{"chat_message_updated", "content", "final"},
			{"read_receipt", "message_id", draft.ID},
			{"chat_message_deleted", "id", draft.ID},
			{"member_left", "user_id", "bob"},
			{"chat_message", "content", "after"},
		}
		durable := []string{"member_joined", "member_left", "chat_message", "chat_message_updated",
			"chat_message_deleted", "read_receipt"}
		for name, c := range resumed {
			for i, w := range want {
				ev := nextOf(t, c, durable...)
				if ev.Type != w.typ || ev.Room != key || ev.ID == "" || !jsonHas(t, ev.Data, w.field, w.value) {
					t.Fatalf("%s: replayed event %d is %s %s %s (id %q), want %s with %s %s",
						name, i, ev.Type, ev.Room, ev.Data, ev.ID, w.typ, w.field, w.value)
				}
			}
		}
	})
}

// Removing a member announces member_left to the room and takes the member's connections out
// of it at once, on every transport: the next message they get is from a room they are still in.
func TestRemovedMemberLeavesOnEveryTransport(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		key := e.createRoom(alice, map[string]any{"name": "Ops", "key": "ops", "private": true})
		e.mustDo(http.StatusCreated, "POST", "/api/rooms/ops/members", alice, map[string]string{"user_id": "bob"})
		watcher := e.dialSSE(alice, "rooms="+key)
		p := e.dialPoll(bob, "rooms=ops,lobby&timeout=5")
		connectedOf(t, p)
		bobs := map[string]client{"SSE": e.dialSSE(bob, "rooms=ops,lobby"), "WebSocket": e.dialWS(bob, "rooms=ops,lobby"), "long-poll": p}

		e.mustDo(http.StatusNoContent, "DELETE", "/api/rooms/ops/members/bob", alice, nil)
		if ev := nextOf(t, watcher, "member_left"); ev.Room != key || ev.ID == "" ||
			!jsonHas(t, ev.Data, "user_id", "bob") || !jsonHas(t, ev.Data, "by", "alice") {
			t.Fatalf("member_left %+v", ev)
		}
		for name, c := range bobs {
			if ev := nextOf(t, c, "room_left"); ev.Room != key || !jsonHas(t, ev.Data, "reason", "removed") {
				t.Fatalf("%s: room_left %s %s", name, ev.Room, ev.Data)
			}
		}
		e.post(alice, key, "after removal")
		e.post(alice, "lobby", "sentinel")
		for name, c := range bobs {
			if m := nextOf(t, c, "chat_message").message(t); m.Content != "sentinel" {
				t.Fatalf("%s: a removed member still received %q in %s", name, m.Content, m.Room)
			}
		}
	})
}

// GET /healthz says the process is up; GET /ws/health counts live connections and rooms in the
// seed's shape, and follows them as they change.
func TestHealthEndpoints(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		var up struct {
			Status string `json:"status"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/healthz", "", nil), &up)
		if up.Status != "ok" {
			t.Fatalf("/healthz %+v", up)
		}
		type wsHealth struct {
			Status           string `json:"status"`
			ConnectedClients int    `json:"connectedClients"`
			ActiveRooms      int    `json:"activeRooms"`
			Timestamp        string `json:"timestamp"`
		}
		health := func() wsHealth {
			var h wsHealth
			decode(t, e.mustDo(http.StatusOK, "GET", "/ws/health", "", nil), &h)
			return h
		}
		e.dialSSE(e.token("alice", "Alice"), "rooms=general")
		ws := e.dialWS(e.token("bob", "Bob"), "rooms=general,random")
		h := health()
		ts, err := time.Parse(time.RFC3339Nano, h.Timestamp)
		if h.Status != "ok" || h.ConnectedClients != 2 || h.ActiveRooms != 2 || err != nil || time.Since(ts).Abs() > time.Minute {
			t.Fatalf("/ws/health %+v (timestamp: %v)", h, err)
		}
		ws.ws.CloseNow()
		waitUntil(t, "/ws/health counting the closed WebSocket out", func() bool {
			h := health()
			return h.ConnectedClients == 1 && h.ActiveRooms == 1
		})
	})
}

// GET /api/rooms/:room describes a room with the caller's view of it: role, unread count, who
// is online and the last message.
func TestGetRoom(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		key := e.createRoom(alice, map[string]any{"name": "Design Review", "type": "support", "description": "weekly",
			"settings": map[string]any{"color": "teal"}})
		e.mustDo(http.StatusCreated, "POST", "/api/rooms/"+key+"/members", alice, map[string]string{"user_id": "bob"})
		e.dialSSE(bob, "rooms="+key)
		e.post(alice, key, "agenda")
		var r struct {
			roomView
			Type        string         `json:"type"`
			Private     bool           `json:"private"`
			Description string         `json:"description"`
			Settings    map[string]any `json:"settings"`
			CreatedBy   string         `json:"created_by"`
			OnlineCount int            `json:"online_count"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/rooms/"+key, bob, nil), &r)
		if r.Key != key || r.Name != "Design Review" || r.Type != "support" || r.Private || r.Description != "weekly" ||
			r.Settings["color"] != "teal" || r.CreatedBy != "alice" {
			t.Fatalf("room %+v", r)
		}
		if r.MemberCount != 2 || r.MyRole != "member" || r.Unread != 1 || r.OnlineCount != 1 ||
			r.LastMessage == nil || r.LastMessage.Content != "agenda" {
			t.Fatalf("bob's view of the room %+v (last message %+v)", r, r.LastMessage)
		}
	})
}

// The author's avatar, from the token's avatar claim, travels with a message: in the REST
// answer, live, and in the history.
func TestMessagesCarryTheAuthorsAvatar(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		const avatar = "https://cdn.example/alice.png"
		alice := e.tokenWith(api.Claims{Name: "Alice", Avatar: avatar}, "alice")
		bob := e.token("bob", "Bob")
		stream := e.dialSSE(bob, "rooms=general")
		posted := e.mustDo(http.StatusCreated, "POST", "/api/rooms/general/messages", alice, map[string]string{"content": "hi"})
		if !jsonHas(t, posted, "user_avatar", avatar) {
			t.Fatalf("posted %s", posted)
		}
		if ev := nextOf(t, stream, "chat_message"); !jsonHas(t, ev.Data, "user_avatar", avatar) {
			t.Fatalf("live %s", ev.Data)
		}
		var page struct {
			Messages []json.RawMessage `json:"messages"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/rooms/general/messages", bob, nil), &page)
		if len(page.Messages) != 1 || !jsonHas(t, page.Messages[0], "user_avatar", avatar) {
			t.Fatalf("history %s", page.Messages)
		}
	})
}

// A WebSocket joins a public room in-band: room_joined answers, and the room's messages follow.
func TestWebSocketJoinsAPublicRoomInBand(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		key := e.createRoom(bob, map[string]any{"name": "Town Square"})
		ws := e.dialWS(alice, "")
		ws.send(t, map[string]string{"type": "join_room", "room": key})
		if ev := nextOf(t, ws, "room_joined", "fault"); ev.Type != "room_joined" || ev.Room != key || ev.ID == "" {
			t.Fatalf("in-band join answered %+v", ev)
		}
		e.post(bob, key, "welcome")
		if ev := nextOf(t, ws, "chat_message"); ev.Room != key || ev.message(t).Content != "welcome" {
			t.Fatalf("after joining got %s %s", ev.Room, ev.Data)
		}
	})
}

// In demo mode, POST /api/auth/demo hands out a working token for the name given, also as an
// HttpOnly cookie; with a secret configured, demo sign-in does not exist.
func TestDemoSignIn(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind, withAPI(func(a *api.Config) { a.Auth.Demo = true }))
		res, err := http.Post(e.base+"/api/auth/demo", "application/json", strings.NewReader(`{"name":"alice"}`))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Token     string `json:"token"`
			ExpiresAt string `json:"expires_at"`
			User      struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"user"`
		}
		err = json.NewDecoder(res.Body).Decode(&out)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK || out.Token == "" || out.User.ID != "alice" || out.User.Name != "alice" {
			t.Fatalf("demo sign-in: %d %+v %v", res.StatusCode, out, err)
		}
		if exp, err := time.Parse(time.RFC3339Nano, out.ExpiresAt); err != nil || !exp.After(time.Now()) {
			t.Fatalf("expires_at %q", out.ExpiresAt)
		}
		cookies := res.Cookies()
		if !slices.ContainsFunc(cookies, func(c *http.Cookie) bool { return c.Name == api.TokenCookie && c.Value == out.Token && c.HttpOnly }) {
			t.Fatalf("cookies %v", cookies)
		}
		stream := e.dialSSE(out.Token, "rooms=general")
		if stream.conn.UserID != "alice" {
			t.Fatalf("the demo token connected as %q", stream.conn.UserID)
		}
		e.post(out.Token, "general", "hello")
		if m := nextOf(t, stream, "chat_message").message(t); m.UserID != "alice" || m.UserName != "alice" {
			t.Fatalf("posted with the demo token: %+v", m)
		}
		if status, _ := e.do("GET", "/api/admin/stats", out.Token, nil); status != http.StatusForbidden {
			t.Fatalf("a plain demo token reached the admin API: %d", status)
		}
		if status, body := e.do("POST", "/api/auth/demo", "", `{"name":"  "}`); status != http.StatusBadRequest || !strings.Contains(string(body), `"field":"name"`) {
			t.Fatalf("a blank name: %d %s", status, body)
		}
		if status, body := e.do("POST", "/api/auth/demo", "", `{"name":"API key"}`); status != http.StatusBadRequest || !strings.Contains(string(body), `"field":"name"`) {
			t.Fatalf("the API key's id as a name: %d %s", status, body)
		}

		withSecret := newEnv(t, kind)
		status, body := withSecret.do("POST", "/api/auth/demo", "", `{"name":"alice"}`)
		var eb errorBody
		decode(t, body, &eb)
		if status != http.StatusNotFound || eb.Error.Code != "demo_disabled" {
			t.Fatalf("demo sign-in with a secret configured: %d %s", status, body)
		}
	})
}

// The admin audit log records notifications, announcements and publishes: who, what, to whom.
func TestAuditLogRecordsAdminActions(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		root := e.admin("root")
		n := e.notify(root, "alice", "Deploy finished", "low")
		var ann struct {
			ID string `json:"id"`
		}
		decode(t, e.mustDo(http.StatusCreated, "POST", "/api/admin/announcements", root, map[string]any{
			"title": "Maintenance", "message": "m", "type": "maintenance", "target_roles": []string{"ops"}}), &ann)
		e.mustDo(http.StatusOK, "POST", "/api/publish", root, map[string]any{"type": "stock.changed", "data": map[string]int{"sku": 1},
			"rooms": []string{"orders"}})

		var audit struct {
			Entries []struct {
				Actor   string         `json:"actor"`
				Action  string         `json:"action"`
				Target  string         `json:"target"`
				Details map[string]any `json:"details"`
			} `json:"entries"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/admin/audit", root, nil), &audit)
		if len(audit.Entries) != 3 {
			t.Fatalf("audit %+v", audit.Entries)
		}
		want := []struct{ action, target, detail, value string }{
			{"publish", "stock.changed", "rooms", "[orders]"},
			{"announce", "ops", "announcement_id", ann.ID},
			{"notify", "alice", "notification_id", n.ID},
		}
		for i, w := range want {
			got := audit.Entries[i]
			if got.Actor != "root" || got.Action != w.action || got.Target != w.target || fmtAny(got.Details[w.detail]) != w.value {
				t.Errorf("audit entry %d: %+v, want %s of %s with %s %s", i, got, w.action, w.target, w.detail, w.value)
			}
		}
	})
}

// fmtAny renders a decoded JSON value compactly: strings as they are, arrays as [a b].
func fmtAny(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = fmtAny(p)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// An announcement leaves GET /api/announcements/active once its ends_at has passed, and not
// before.
func TestEndedAnnouncementsAreNoLongerActive(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		root, dan := e.admin("root"), e.token("dan", "Dan")
		ends := time.Now().Add(1500 * time.Millisecond).UTC()
		e.mustDo(http.StatusCreated, "POST", "/api/admin/announcements", root, map[string]any{
			"title": "Brief", "message": "m", "type": "warning", "ends_at": ends.Format(time.RFC3339Nano)})
		e.mustDo(http.StatusCreated, "POST", "/api/admin/announcements", root, map[string]any{
			"title": "Lasting", "message": "m", "type": "feature"})
		active := func() []string {
			var out struct {
				Announcements []struct {
					Title string `json:"title"`
				} `json:"announcements"`
			}
			decode(t, e.mustDo(http.StatusOK, "GET", "/api/announcements/active", dan, nil), &out)
			var titles []string
			for _, a := range out.Announcements {
				titles = append(titles, a.Title)
			}
			slices.Sort(titles)
			return titles
		}
		if got := strings.Join(active(), ","); got != "Brief,Lasting" {
			t.Fatalf("active before the end: %s", got)
		}
		waitUntil(t, "the ended announcement leaving the active list", func() bool {
			return strings.Join(active(), ",") == "Lasting"
		})
		if time.Now().Before(ends.Add(-50 * time.Millisecond)) {
			t.Fatalf("the announcement left the active list before it ended at %s", ends)
		}
	})
}

// Without a webhook, a high-priority notification is still recorded in the escalation outbox,
// pending and untried, for when one is configured; lower priorities are not escalated.
func TestEscalationsWaitInTheOutboxWithoutAWebhook(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind, withAPI(func(a *api.Config) { a.Escalation.Interval = 10 * time.Millisecond }))
		root := e.admin("root")
		e.notify(root, "alice", "routine", "medium")
		high := e.notify(root, "alice", "Disk almost full", "high")
		var stats struct {
			Pending int `json:"escalations_pending"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/admin/stats", root, nil), &stats)
		if stats.Pending != 1 {
			t.Fatalf("%d escalations pending, want 1", stats.Pending)
		}
		due, err := e.db.ClaimEscalations(context.Background(), 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != 1 || due[0].NotificationID != high.ID || due[0].Status != "pending" || due[0].Attempts != 0 ||
			!strings.Contains(due[0].Payload, "Disk almost full") {
			t.Fatalf("outbox %+v", due)
		}
	})
}

// The lastEventId query parameter, which EventSource polyfills send, resumes like Last-Event-ID.
func TestLastEventIdQueryResumes(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		stream := e.dialSSE(alice, "rooms=general")
		e.post(alice, "general", "seen")
		cursor := nextOf(t, stream, "chat_message").ID
		stream.cancel()
		e.post(alice, "general", "missed")

		resumed := e.dialSSE(alice, "lastEventId="+url.QueryEscape(cursor))
		if !resumed.conn.Resumed || !slices.Contains(resumed.conn.Rooms, "general") {
			t.Fatalf("connected %+v", resumed.conn)
		}
		if m := nextOf(t, resumed, "chat_message").message(t); m.Content != "missed" {
			t.Fatalf("resumed with %q", m.Content)
		}
	})
}
