package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"switchboard/db"
)

// A non-member gets one answer for a private room, whether it exists or not and whoever its
// members are: nothing tells "bob is a member of secret" from "secret does not exist".
func TestNonMembersCannotTellPrivateRoomsApart(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, mallory := e.token("alice", "Alice"), e.token("mallory", "Mallory")
		e.createRoom(alice, map[string]any{"name": "Secret", "key": "secret", "private": true, "members": []string{"bob"}})
		e.createRoom(alice, map[string]any{"name": "Gone", "key": "gone", "private": true})
		e.mustDo(http.StatusNoContent, "DELETE", "/api/rooms/gone", alice, nil)

		// Each probe names a room key; with the key taken out, every answer must be the same.
		probes := []struct{ method, path string }{
			{"DELETE", "/api/rooms/%s/members/bob"},   // bob is a member of secret
			{"DELETE", "/api/rooms/%s/members/zed"},   // zed is not
			{"DELETE", "/api/rooms/%s/members/alice"}, // its admin
			{"DELETE", "/api/rooms/%s/members/mallory"},
			{"POST", "/api/rooms/%s/members"},
			{"GET", "/api/rooms/%s"},
			{"GET", "/api/rooms/%s/members"},
			{"GET", "/api/rooms/%s/messages"},
			{"GET", "/api/rooms/%s/presence"},
			{"PATCH", "/api/rooms/%s"},
			{"DELETE", "/api/rooms/%s"},
		}
		for _, p := range probes {
			answers := map[string]string{}
			for _, key := range []string{"secret", "nosuch", "gone"} {
				var body any
				if p.method != "GET" && p.method != "DELETE" {
					body = map[string]string{"user_id": "mallory", "name": "Mine"}
				}
				status, out := e.do(p.method, strings.Replace(p.path, "%s", key, 1), mallory, body)
				var got struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				decode(t, out, &got)
				answers[key] = http.StatusText(status) + " " + got.Error.Code + " " + strings.ReplaceAll(got.Error.Message, key, "KEY")
			}
			if answers["secret"] != answers["nosuch"] || answers["secret"] != answers["gone"] {
				t.Errorf("%s %s by a non-member tells the rooms apart:\n secret: %s\n nosuch: %s\n gone:   %s",
					p.method, p.path, answers["secret"], answers["nosuch"], answers["gone"])
			}
			if !strings.HasPrefix(answers["secret"], "Not Found room_not_found") {
				t.Errorf("%s %s by a non-member: %s, want 404 room_not_found", p.method, p.path, answers["secret"])
			}
		}
		// A member still learns what members can: bob is one, zed is not.
		bob := e.token("bob", "Bob")
		if status, out := e.do("DELETE", "/api/rooms/secret/members/zed", bob, nil); status != http.StatusNotFound || !strings.Contains(string(out), "member_not_found") {
			t.Errorf("a member removing a non-member: %d %s", status, out)
		}
	})
}

// A direct room has its two users as members, always: no one can be added, removed or change
// role, it stays private, and creating it again gives it back with both.
func TestDirectRoomsKeepTheirTwoMembers(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob, carol := e.token("alice", "Alice"), e.token("bob", "Bob"), e.token("carol", "Carol")
		var dm struct {
			ID  string `json:"id"`
			Key string `json:"key"`
		}
		decode(t, e.mustDo(http.StatusCreated, "POST", "/api/rooms", alice, map[string]any{"type": "direct", "members": []string{"bob"}}), &dm)
		e.post(alice, dm.Key, "just between us")

		refused := []struct {
			name, method, path string
			body               any
		}{
			{"bob adds carol", "POST", "/members", map[string]string{"user_id": "carol"}},
			{"bob removes alice", "DELETE", "/members/alice", nil},
			{"bob leaves", "DELETE", "/members/bob", nil},
			{"bob demotes alice", "POST", "/members", map[string]string{"user_id": "alice", "role": "member"}},
			{"bob makes it public", "PATCH", "", map[string]any{"private": false}},
		}
		for _, r := range refused {
			status, out := e.do(r.method, "/api/rooms/"+dm.Key+r.path, bob, r.body)
			if status/100 != 4 {
				t.Errorf("%s: %d %s, want refused", r.name, status, out)
			}
		}
		if status, _ := e.do("GET", "/api/rooms/"+dm.Key+"/messages", carol, nil); status != http.StatusNotFound {
			t.Errorf("carol reads the direct room: %d", status)
		}
		members := func() map[string]string {
			var out struct {
				Members []struct {
					UserID string `json:"user_id"`
					Role   string `json:"role"`
				} `json:"members"`
			}
			decode(t, e.mustDo(http.StatusOK, "GET", "/api/rooms/"+dm.Key+"/members", alice, nil), &out)
			m := map[string]string{}
			for _, x := range out.Members {
				m[x.UserID] = x.Role
			}
			return m
		}
		if got := members(); len(got) != 2 || got["alice"] != db.RoleAdmin || got["bob"] != db.RoleAdmin {
			t.Fatalf("direct room members after the attempts: %v", got)
		}

		// A direct room that lost a member (written before direct rooms were closed) gets it
		// back when it is created again.
		ctx := context.Background()
		if _, err := e.db.RemoveMember(ctx, dm.ID, "alice"); err != nil {
			t.Fatalf("removing alice behind the API's back: %v", err)
		}
		e.mustDo(http.StatusOK, "POST", "/api/rooms", alice, map[string]any{"type": "direct", "members": []string{"bob"}})
		if got := members(); len(got) != 2 || got["alice"] != db.RoleAdmin {
			t.Fatalf("direct room members after creating it again: %v", got)
		}
		if status, _ := e.do("GET", "/api/rooms/"+dm.Key+"/messages", alice, nil); status != http.StatusOK {
			t.Fatalf("alice reads her direct room again: %d", status)
		}
	})
}
