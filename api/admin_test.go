package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"switchboard/api"
	"switchboard/api/auth"
	"switchboard/db"
	"switchboard/realtime"
)

// A kicked user's connections close with the documented signals on every transport, and the
// kick is in the audit log.
func TestKickClosesEveryTransport(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		root, alice := e.admin("root"), e.token("alice", "Alice")
		sse := e.dialSSE(alice, "rooms=general")
		ws := e.dialWS(alice, "rooms=general")
		p := e.dialPoll(alice, "timeout=5")
		connectedOf(t, p)
		other := e.dialSSE(e.token("bob", "Bob"), "rooms=general")

		var kicked struct {
			Kicked int `json:"kicked"`
		}
		decode(t, e.mustDo(http.StatusOK, "DELETE", "/api/admin/users/alice/connections", root, map[string]string{"reason": "spamming"}), &kicked)
		if kicked.Kicked != 3 {
			t.Fatalf("kicked %d connections, want 3", kicked.Kicked)
		}
		rest := sse.ended(t)
		if len(rest) == 0 || rest[len(rest)-1].Type != "kicked" || !jsonHas(t, rest[len(rest)-1].Data, "reason", "spamming") {
			t.Fatalf("SSE ended with %+v", rest)
		}
		if code, reason := ws.closeStatus(t); code != realtime.CloseKicked || !strings.Contains(reason, "spamming") {
			t.Fatalf("WebSocket closed with %d %q", code, reason)
		}
		if ev := nextOf(t, p, "kicked"); !jsonHas(t, ev.Data, "reason", "spamming") {
			t.Fatalf("long-poll got %s", ev.Data)
		}
		e.post(root, "general", "still here")
		if m := nextOf(t, other, "chat_message").message(t); m.Content != "still here" {
			t.Fatalf("bob got %+v", m)
		}
		var audit struct {
			Entries []struct {
				Actor, Action, Target string
			} `json:"entries"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/admin/audit", root, nil), &audit)
		if len(audit.Entries) == 0 || audit.Entries[0].Action != "kick" || audit.Entries[0].Target != "alice" || audit.Entries[0].Actor != "root" {
			t.Fatalf("audit %+v", audit.Entries)
		}
	})
}

// Every admin route answers 403, not 401, to an authenticated user without the permission, and
// 401 without a token.
func TestAdminRoutesNeedTheirPermissions(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		routes := []struct{ method, path, body, permission string }{
			{"GET", "/api/admin/connections", "", api.PermAdminConnections},
			{"GET", "/api/admin/stats", "", api.PermAdminConnections},
			{"GET", "/api/admin/audit", "", api.PermAdminConnections},
			{"DELETE", "/api/admin/users/bob/connections", "", api.PermAdminConnections},
			{"POST", "/api/admin/notifications", `{"user_id":"bob","notification":{"title":"x"}}`, api.PermSendNotifications},
			{"POST", "/api/admin/announcements", `{"title":"x","message":"y","type":"feature"}`, api.PermSendAnnouncements},
			{"POST", "/api/publish", `{"data":{}}`, api.PermPublish},
			{"POST", "/api/admin/publish", `{"data":{}}`, api.PermPublish},
			{"GET", "/api/admin/escalations", "", api.PermAdminConnections},
			{"POST", "/api/admin/escalations/0190c4e2-0000-7000-8000-000000000000/retry", "", api.PermSendNotifications},
			{"GET", "/api/admin/rooms/general", "", api.PermAdminConnections},
			{"GET", "/api/admin/rooms/general/messages", "", api.PermAdminConnections},
			{"GET", "/api/admin/rooms/general/members", "", api.PermAdminConnections},
			{"GET", "/api/admin/rooms/general/presence", "", api.PermAdminConnections},
		}
		for _, r := range routes {
			var body any
			if r.body != "" {
				body = r.body
			}
			// Holding every other permission does not help.
			var others []string
			for _, p := range []string{api.PermAdminConnections, api.PermSendNotifications, api.PermSendAnnouncements, api.PermPublish} {
				if p != r.permission {
					others = append(others, p)
				}
			}
			tok := e.tokenWith(auth.Claims{Roles: []string{"admin"}, Permissions: others}, "mallory")
			if status, out := e.do(r.method, r.path, tok, body); status != http.StatusForbidden || !strings.Contains(string(out), r.permission) {
				t.Errorf("%s %s without %s: %d %s", r.method, r.path, r.permission, status, out)
			}
			if status, _ := e.do(r.method, r.path, "", body); status != http.StatusUnauthorized {
				t.Errorf("%s %s without a token: %d", r.method, r.path, status)
			}
		}
	})
}

// POST /api/publish pushes data updates to rooms, users and roles, with a token holding the
// publish permission or the server API key; the server's own event types are refused.
func TestPublishDataUpdates(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		const key = "backend-secret-key"
		e := newEnv(t, kind, withAPI(func(a *api.Config) { a.APIKey = key }))
		inRoom := e.dialSSE(e.token("alice", "Alice"), "rooms=orders")
		named := e.dialWS(e.token("bob", "Bob"), "")
		ops := e.dialSSE(e.token("olga", "Olga", "ops"), "")
		nobody := e.dialSSE(e.token("zed", "Zed"), "")

		withKey := func(body map[string]any) (int, string) {
			t.Helper()
			req, _ := http.NewRequest("POST", e.base+"/api/publish", strings.NewReader(mustJSON(t, body)))
			req.Header.Set("X-API-Key", key)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			out, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(out)
		}
		update := map[string]any{"entity": "order", "operation": "update", "payload": map[string]any{"id": 7}, "timestamp": time.Now().UTC()}
		if status, out := withKey(map[string]any{"data": update, "rooms": []string{"orders"}, "users": []string{"bob"}, "roles": []string{"ops"}}); status != http.StatusOK {
			t.Fatalf("publishing with the API key: %d %s", status, out)
		}
		for name, c := range map[string]client{"room": inRoom, "user": named, "role": ops} {
			ev := nextOf(t, c, "data_update")
			if !jsonHas(t, ev.Data, "entity", "order") || ev.ID == "" {
				t.Fatalf("%s got %+v", name, ev)
			}
		}
		// A token with the publish permission, a custom type, to everyone.
		publisher := e.tokenWith(auth.Claims{Permissions: []string{api.PermPublish}}, "inventory-service")
		e.mustDo(http.StatusOK, "POST", "/api/publish", publisher, map[string]any{"type": "stock.changed", "data": map[string]int{"sku": 1}})
		for name, c := range map[string]client{"room": inRoom, "user": named, "role": ops, "nobody": nobody} {
			if ev := nextOf(t, c, "stock.changed", "data_update"); ev.Type != "stock.changed" {
				t.Fatalf("%s got %s before the broadcast: it was not meant for it", name, ev.Type)
			}
		}
		for _, bad := range []struct {
			body   string
			status int
			field  string
		}{
			{`{"type":"kicked","data":{}}`, 400, "type"},
			{`{"type":"error","data":{}}`, 400, "type"},
			{`{"type":"Bad Type","data":{}}`, 400, "type"},
			{`{"data":{},"rooms":["no spaces"]}`, 400, "rooms"},
			{`{"data":{},"roles":["a,b"]}`, 400, "roles"},
		} {
			status, out := e.do("POST", "/api/publish", publisher, bad.body)
			if status != bad.status || !strings.Contains(string(out), `"field":"`+bad.field+`"`) {
				t.Errorf("publishing %s: %d %s", bad.body, status, out)
			}
		}
		req, _ := http.NewRequest("POST", e.base+"/api/publish", strings.NewReader(`{"data":{}}`))
		req.Header.Set("X-API-Key", "wrong")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a wrong API key: %d", res.StatusCode)
		}
	})
}

// The admin API lists live connections on every transport, filtered by user and room, and
// counts them.
func TestAdminConnectionsAndStats(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		root, alice := e.admin("root"), e.token("alice", "Alice")
		e.dialSSE(alice, "rooms=general")
		e.dialWS(alice, "")
		p := e.dialPoll(e.token("bob", "Bob"), "rooms=general&timeout=1")
		connectedOf(t, p)
		var list struct {
			Connections []realtime.Info `json:"connections"`
		}
		listing := e.mustDo(http.StatusOK, "GET", "/api/admin/connections", root, nil)
		decode(t, listing, &list)
		if len(list.Connections) != 3 {
			t.Fatalf("%d connections listed", len(list.Connections))
		}
		// Times as every time on the wire: milliseconds, UTC.
		if times := regexp.MustCompile(`"(connected_at|last_activity)":"[^"]*"`).FindAll(listing, -1); len(times) != 6 ||
			!regexp.MustCompile(`^"\w+":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$`).Match(times[0]) {
			t.Fatalf("listing times %q", times)
		}
		for _, c := range list.Connections {
			if c.ID == "" || c.UserID == "" || c.ConnectedAt.IsZero() || c.RemoteAddr == "" || c.UserAgent == "" {
				t.Fatalf("incomplete listing %+v", c)
			}
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/admin/connections?user=alice&room=general", root, nil), &list)
		if len(list.Connections) != 1 || list.Connections[0].Transport != realtime.TransportSSE {
			t.Fatalf("filtered listing %+v", list.Connections)
		}
		// Rooms that exist are not all live: two more with no live connection, one archived.
		e.createRoom(alice, map[string]any{"name": "Quiet", "key": "quiet"})
		e.createRoom(alice, map[string]any{"name": "Gone", "key": "gone"})
		e.mustDo(http.StatusNoContent, "DELETE", "/api/rooms/gone", alice, nil)
		var stats struct {
			Connections int                        `json:"connections"`
			ByTransport map[realtime.Transport]int `json:"by_transport"`
			Rooms       int                        `json:"rooms"`
			RoomsLive   int                        `json:"rooms_live"`
			RoomsTotal  int                        `json:"rooms_total"`
			Nodes       int                        `json:"nodes"`
			At          string                     `json:"at"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/admin/stats", root, nil), &stats)
		if stats.Connections != 3 || stats.ByTransport["sse"] != 1 || stats.ByTransport["ws"] != 1 || stats.ByTransport["poll"] != 1 ||
			stats.Rooms != 1 || stats.RoomsLive != 1 || stats.RoomsTotal != 2 || stats.Nodes != 1 || stats.At == "" {
			t.Fatalf("stats %+v", stats)
		}
	})
}

// Bad input to notifications and announcements gets the JSON error body naming the field.
func TestNotificationAndAnnouncementValidation(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		root := e.admin("root")
		cases := []struct{ path, body, field string }{
			{"/api/admin/notifications", `{"notification":{"title":"x"}}`, "user_id"},
			{"/api/admin/notifications", `{"user_id":"a","notification":{}}`, "notification.title"},
			{"/api/admin/notifications", `{"user_id":"a","notification":{"title":"x","type":"fatal"}}`, "notification.type"},
			{"/api/admin/notifications", `{"user_id":"a","notification":{"title":"x","priority":"urgent"}}`, "notification.priority"},
			{"/api/admin/notifications", `{"user_id":"a","notification":{"title":"x","action_url":"javascript:alert(1)"}}`, "notification.action_url"},
			{"/api/admin/notifications", `{"user_id":"a","notification":{"title":"x","action_url":"//evil.example/x"}}`, "notification.action_url"},
			{"/api/admin/notifications", `{"user_id":"a","notification":{"title":"x","action_url":"https:///nohost"}}`, "notification.action_url"},
			{"/api/admin/notifications", `{"user_id":"a","notification":{"title":"x","expires_at":"2001-01-01T00:00:00Z"}}`, "notification.expires_at"},
			{"/api/admin/notifications", `{"user_id":"a","notification":{"title":"x","data":[1]}}`, "notification.data"},
			{"/api/admin/announcements", `{"message":"m","type":"feature"}`, "title"},
			{"/api/admin/announcements", `{"title":"t","message":"m","type":"party"}`, "type"},
			{"/api/admin/announcements", `{"title":"t","message":"m","type":"feature","target_roles":["no spaces"]}`, "target_roles"},
			{"/api/admin/announcements", `{"title":"t","message":"m","type":"feature","starts_at":"2030-01-02T00:00:00Z","ends_at":"2030-01-01T00:00:00Z"}`, "ends_at"},
			{"/api/admin/announcements", `{"title":"t","message":"m","type":"feature","starts_at":"tomorrow"}`, "starts_at"},
		}
		for _, c := range cases {
			status, out := e.do("POST", c.path, root, c.body)
			if status != http.StatusBadRequest || !strings.Contains(string(out), `"field":"`+c.field+`"`) {
				t.Errorf("%s %s: %d %s", c.path, c.body, status, out)
			}
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
