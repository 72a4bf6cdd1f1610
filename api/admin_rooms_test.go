package api_test

import (
	"net/http"
	"strings"
	"testing"

	"switchboard/api"
	"switchboard/api/auth"
	"switchboard/db"
)

// An operator who is no member inspects a private room: the room, its history page by page,
// its members and who is online in it. Opening the history is audited; archived rooms stay
// readable; a room that does not exist is 404.
func TestAdminInspectsAnyRoom(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		root, alice := e.admin("root"), e.token("alice", "Alice")
		e.createRoom(alice, map[string]any{"name": "Secret", "key": "secret", "private": true, "members": []string{"bob"}})
		for _, text := range []string{"one", "two", "three"} {
			e.post(alice, "secret", text)
		}
		e.dialSSE(alice, "rooms=secret")

		// As a non-member, root cannot read it through the members' routes.
		if status, _ := e.do("GET", "/api/rooms/secret/messages", root, nil); status != http.StatusNotFound {
			t.Fatalf("the members' route answered root %d", status)
		}

		var room struct {
			Key         string  `json:"key"`
			Private     bool    `json:"private"`
			MemberCount int     `json:"member_count"`
			OnlineCount int     `json:"online_count"`
			MyRole      *string `json:"my_role"`
			LastMessage struct {
				Content string `json:"content"`
			} `json:"last_message"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/admin/rooms/secret", root, nil), &room)
		if room.Key != "secret" || !room.Private || room.MemberCount != 2 || room.OnlineCount != 1 || room.MyRole != nil ||
			room.LastMessage.Content != "three" {
			t.Fatalf("room %+v", room)
		}

		var page struct {
			Messages   []message `json:"messages"`
			NextBefore string    `json:"next_before"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/admin/rooms/secret/messages?limit=2", root, nil), &page)
		if len(page.Messages) != 2 || page.Messages[0].Content != "three" || page.Messages[1].Content != "two" || page.NextBefore == "" {
			t.Fatalf("first page %+v", page)
		}
		before := page.NextBefore
		page.NextBefore = "" // absent from the last page
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/admin/rooms/secret/messages?limit=2&before="+before, root, nil), &page)
		if len(page.Messages) != 1 || page.Messages[0].Content != "one" || page.NextBefore != "" {
			t.Fatalf("second page %+v", page)
		}

		var members struct {
			Members []struct {
				UserID string `json:"user_id"`
				Role   string `json:"role"`
			} `json:"members"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/admin/rooms/secret/members", root, nil), &members)
		roles := map[string]string{}
		for _, m := range members.Members {
			roles[m.UserID] = m.Role
		}
		if len(roles) != 2 || roles["alice"] != "admin" || roles["bob"] != "member" {
			t.Fatalf("members %+v", members)
		}

		var presence struct {
			Room        string `json:"room"`
			OnlineCount int    `json:"online_count"`
			Users       []struct {
				UserID string `json:"user_id"`
				Status string `json:"status"`
			} `json:"users"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/admin/rooms/secret/presence", root, nil), &presence)
		if presence.Room != "secret" || presence.OnlineCount != 1 || presence.Users[0].UserID != "alice" || presence.Users[0].Status != "online" {
			t.Fatalf("presence %+v", presence)
		}

		// Only the first page of the history is an audited read.
		if got := e.auditLog(root, "?action=inspect_room").actions(); got != "root inspect_room secret" {
			t.Fatalf("audit: %s", got)
		}

		// Archived rooms keep their history for operators.
		e.mustDo(http.StatusNoContent, "DELETE", "/api/rooms/secret", alice, nil)
		var archived struct {
			ArchivedAt string `json:"archived_at"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/admin/rooms/secret", root, nil), &archived)
		if archived.ArchivedAt == "" {
			t.Fatalf("archived room %+v", archived)
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/admin/rooms/secret/messages", root, nil), &page)
		if len(page.Messages) != 3 {
			t.Fatalf("archived history %+v", page)
		}

		for _, bad := range []struct {
			path        string
			status      int
			code, field string
		}{
			{"/api/admin/rooms/nosuch", 404, "room_not_found", ""},
			{"/api/admin/rooms/nosuch/messages", 404, "room_not_found", ""},
			{"/api/admin/rooms/nosuch/members", 404, "room_not_found", ""},
			{"/api/admin/rooms/nosuch/presence", 404, "room_not_found", ""},
			{"/api/admin/rooms/No%20Spaces", 400, "validation_failed", "room"},
			{"/api/admin/rooms/secret/messages?limit=101", 400, "validation_failed", "limit"},
			{"/api/admin/rooms/secret/messages?before=x", 400, "validation_failed", "before"},
		} {
			status, out := e.do("GET", bad.path, root, nil)
			var body errorBody
			decode(t, out, &body)
			if status != bad.status || body.Error.Code != bad.code || body.Error.Field != bad.field {
				t.Errorf("%s: %d %s", bad.path, status, out)
			}
		}

		// The inspector needs admin.connections; being a member does not stand in for it.
		tok := e.tokenWith(auth.Claims{Permissions: []string{api.PermSendNotifications, api.PermPublish}}, "alice")
		for _, path := range []string{"/api/admin/rooms/secret", "/api/admin/rooms/secret/messages",
			"/api/admin/rooms/secret/members", "/api/admin/rooms/secret/presence"} {
			if status, out := e.do("GET", path, tok, nil); status != http.StatusForbidden || !strings.Contains(string(out), api.PermAdminConnections) {
				t.Errorf("%s without %s: %d %s", path, api.PermAdminConnections, status, out)
			}
		}
	})
}
