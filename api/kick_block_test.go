package api_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"switchboard/db"
)

// A kick keeps the user out for block_seconds (default 300): new streams on every transport and
// REST writes get 403 kicked with Retry-After; reads stay open; others are untouched. With
// block_seconds 0 a kick is a disconnect only.
func TestKickBlocksStreamsAndWritesForAWhile(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		root, alice, bob, carol := e.admin("root"), e.token("alice", "Alice"), e.token("bob", "Bob"), e.token("carol", "Carol")
		e.dialSSE(alice, "rooms=general")
		var kicked struct {
			Kicked       int    `json:"kicked"`
			BlockedUntil string `json:"blocked_until"`
		}
		decode(t, e.mustDo(http.StatusOK, "DELETE", "/api/admin/users/alice/connections", root, map[string]string{"reason": "spamming"}), &kicked)
		if kicked.Kicked != 1 || kicked.BlockedUntil == "" {
			t.Fatalf("kick answered %+v", kicked)
		}
		for _, r := range []struct{ method, path string }{
			{"POST", "/api/rooms/general/messages"},
			{"POST", "/api/rooms"},
			{"PATCH", "/api/notifications/mark-all-read"},
			{"GET", "/events"},
			{"GET", "/poll"},
			{"GET", "/ws"},
		} {
			res := rawRequest(t, e, r.method, r.path, alice, `{"content":"back again","name":"x"}`)
			res.Body.Close()
			secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
			if res.StatusCode != http.StatusForbidden || secs < 290 || secs > 300 {
				t.Errorf("%s %s after the kick: %d, Retry-After %q; want 403 and about 300 s", r.method, r.path, res.StatusCode, res.Header.Get("Retry-After"))
			}
		}
		if status, out := e.do("POST", "/api/rooms/general/messages", alice, map[string]string{"content": "x"}); !strings.Contains(string(out), `"kicked"`) {
			t.Errorf("a blocked write: %d %s, want code kicked", status, out)
		}
		e.mustDo(http.StatusOK, "GET", "/api/rooms", alice, nil) // reads stay open
		e.post(bob, "general", "bob is not blocked")

		// block_seconds 0: a disconnect only.
		e.dialSSE(carol, "")
		e.mustDo(http.StatusOK, "DELETE", "/api/admin/users/carol/connections", root, map[string]any{"block_seconds": 0})
		e.post(carol, "general", "carol may write again at once")
		e.dialSSE(carol, "")
		if status, _ := e.do("DELETE", "/api/admin/users/carol/connections", root, map[string]any{"block_seconds": -1}); status != http.StatusBadRequest {
			t.Errorf("block_seconds -1: %d, want 400", status)
		}
	})
}
