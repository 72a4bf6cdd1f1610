package api_test

import (
	"net/http"
	"testing"

	"switchboard/db"
)

// GET /api/me answers who the token says the caller is; a refused token is a 401.
func TestMeDescribesTheToken(t *testing.T) {
	e := newEnv(t, db.SQLite)
	var me struct {
		ID        string   `json:"id"`
		Name      string   `json:"name"`
		Roles     []string `json:"roles"`
		ExpiresAt string   `json:"expires_at"`
	}
	decode(t, e.mustDo(http.StatusOK, "GET", "/api/me", e.token("alice", "Alice", "support"), nil), &me)
	if me.ID != "alice" || me.Name != "Alice" || len(me.Roles) != 1 || me.Roles[0] != "support" || me.ExpiresAt == "" {
		t.Fatalf("me %+v", me)
	}
	if status, body := e.do("GET", "/api/me", "not-a-token", nil); status != http.StatusUnauthorized {
		t.Fatalf("a bad token: %d %s", status, body)
	}
}
