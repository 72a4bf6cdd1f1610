package api_test

import (
	"net/http"
	"strings"
	"testing"

	"switchboard/api"
	"switchboard/api/auth"
	"switchboard/db"
)

// POST /api/admin/publish is the admin view's publish tool: POST /api/publish's request and
// checks for a signed-in holder of the publish permission, recorded under their name.
func TestAdminPublish(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		const key = "backend-secret-key"
		e := newEnv(t, kind, withAPI(func(a *api.Config) { a.APIKey = key }))
		inRoom := e.dialSSE(e.token("alice", "Alice"), "rooms=orders")
		named := e.dialWS(e.token("bob", "Bob"), "")
		ops := e.dialSSE(e.token("olga", "Olga", "ops"), "")
		root := e.admin("root")

		var res struct {
			Published int `json:"published"`
			Events    []struct {
				Topic  string `json:"topic"`
				Offset uint64 `json:"offset"`
			} `json:"events"`
		}
		decode(t, e.mustDo(http.StatusOK, "POST", "/api/admin/publish", root, map[string]any{"type": "stock.changed",
			"data": map[string]any{"sku": "A-1"}, "rooms": []string{"orders"}, "users": []string{"bob"}, "roles": []string{"ops"}}), &res)
		if res.Published != 3 || len(res.Events) != 3 {
			t.Fatalf("published %+v", res)
		}
		for name, c := range map[string]client{"room": inRoom, "user": named, "role": ops} {
			if ev := nextOf(t, c, "stock.changed"); !jsonHas(t, ev.Data, "sku", "A-1") || ev.ID == "" {
				t.Fatalf("%s got %+v", name, ev)
			}
		}
		// No target: everyone, as a data_update by default.
		e.mustDo(http.StatusOK, "POST", "/api/admin/publish", root, map[string]any{"data": map[string]any{"entity": "price"}})
		for name, c := range map[string]client{"room": inRoom, "user": named, "role": ops} {
			if ev := nextOf(t, c, "data_update"); !jsonHas(t, ev.Data, "entity", "price") {
				t.Fatalf("%s got %+v", name, ev)
			}
		}
		audit := e.auditLog(root, "?action=publish")
		if audit.actions() != "root publish data_update, root publish stock.changed" ||
			fmtAny(audit.Entries[1].Details["users"]) != "[bob]" {
			t.Fatalf("audit %+v", audit.Entries)
		}

		// The same checks as POST /api/publish.
		for _, bad := range []struct{ body, field string }{
			{`{"type":"kicked","data":{}}`, "type"},
			{`{"type":"chat_message","data":{}}`, "type"},
			{`{"type":"message","data":{}}`, "type"},
			{`{"type":"Bad Type","data":{}}`, "type"},
			{`{"data":{},"rooms":["no spaces"]}`, "rooms"},
			{`{"data":{},"users":[""]}`, "users"},
			{`{"data":{},"roles":["a,b"]}`, "roles"},
			{`{"data":{"big":"` + strings.Repeat("x", 49<<10) + `"}}`, "data"},
			{`{"data":{},"rooms":1}`, "rooms"},
		} {
			status, out := e.do("POST", "/api/admin/publish", root, bad.body)
			var body errorBody
			decode(t, out, &body)
			if status != http.StatusBadRequest || body.Error.Field != bad.field {
				t.Errorf("publishing %.60s: %d %s, want 400 naming %s", bad.body, status, out, bad.field)
			}
		}
		if status, out := e.do("POST", "/api/admin/publish", root, `{"data":`); status != http.StatusBadRequest {
			t.Errorf("a truncated body: %d %s", status, out)
		}

		// Other admin permissions do not open it, nor does the server's API key.
		other := e.tokenWith(auth.Claims{Roles: []string{"admin"}, Permissions: []string{api.PermAdminConnections,
			api.PermSendNotifications, api.PermSendAnnouncements}}, "mallory")
		if status, out := e.do("POST", "/api/admin/publish", other, `{"data":{}}`); status != http.StatusForbidden ||
			!strings.Contains(string(out), api.PermPublish) {
			t.Errorf("without %s: %d %s", api.PermPublish, status, out)
		}
		req, _ := http.NewRequest("POST", e.base+"/api/admin/publish", strings.NewReader(`{"data":{}}`))
		req.Header.Set("X-API-Key", key)
		req.Header.Set("Content-Type", "application/json")
		res2, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res2.Body.Close()
		if res2.StatusCode != http.StatusUnauthorized {
			t.Errorf("the API key alone: %d, want 401", res2.StatusCode)
		}
	})
}
