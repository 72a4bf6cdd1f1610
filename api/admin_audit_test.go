package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"switchboard/db"
)

type auditView struct {
	Entries []struct {
		ID        string         `json:"id"`
		Actor     string         `json:"actor"`
		Action    string         `json:"action"`
		Target    string         `json:"target"`
		Details   map[string]any `json:"details"`
		CreatedAt string         `json:"created_at"`
	} `json:"entries"`
	NextBefore string `json:"next_before"`
}

func (e *env) auditLog(token, query string) auditView {
	e.t.Helper()
	var v auditView
	decode(e.t, e.mustDo(http.StatusOK, "GET", "/api/admin/audit"+query, token, nil), &v)
	return v
}

// actions lists the entries as "actor action target", newest first.
func (v auditView) actions() string {
	var out []string
	for _, e := range v.Entries {
		out = append(out, e.Actor+" "+e.Action+" "+e.Target)
	}
	return strings.Join(out, ", ")
}

// The audit log filters by action, actor, target and time, and pages through what matches.
func TestAuditLogFilters(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		root, ops := e.admin("root"), e.admin("ops")
		e.notify(root, "alice", "one", "low")
		e.notify(ops, "bob", "two", "low")
		e.mustDo(http.StatusOK, "DELETE", "/api/admin/users/alice/connections", ops, map[string]string{"reason": "spam"})
		mid := time.Now().UTC().Truncate(time.Microsecond)
		e.notify(root, "alice", "three", "low")
		e.mustDo(http.StatusOK, "DELETE", "/api/admin/users/bob/connections", root, nil)

		if got := e.auditLog(root, "").actions(); got != "root kick bob, root notify alice, ops kick alice, ops notify bob, root notify alice" {
			t.Fatalf("unfiltered: %s", got)
		}
		for _, c := range []struct{ query, want string }{
			{"?action=notify", "root notify alice, ops notify bob, root notify alice"},
			{"?actor=ops", "ops kick alice, ops notify bob"},
			{"?target=alice", "root notify alice, ops kick alice, root notify alice"},
			{"?action=notify&actor=root&target=alice", "root notify alice, root notify alice"},
			{"?since=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), "root kick bob, root notify alice"},
			{"?until=" + url.QueryEscape(mid.Format(time.RFC3339Nano)), "ops kick alice, ops notify bob, root notify alice"},
			{"?action=kick&since=" + url.QueryEscape(mid.Add(-time.Hour).Format(time.RFC3339)) +
				"&until=" + url.QueryEscape(mid.Add(time.Hour).Format(time.RFC3339)), "root kick bob, ops kick alice"},
			{"?action=announce", ""},
			{"?actor=nobody", ""},
		} {
			if got := e.auditLog(root, c.query).actions(); got != c.want {
				t.Errorf("%s: %s, want %s", c.query, got, c.want)
			}
		}

		// Pages keep the filter.
		first := e.auditLog(root, "?action=notify&limit=2")
		if first.actions() != "root notify alice, ops notify bob" || first.NextBefore != first.Entries[1].ID {
			t.Fatalf("first page: %s, next %q", first.actions(), first.NextBefore)
		}
		second := e.auditLog(root, "?action=notify&limit=2&before="+first.NextBefore)
		if second.actions() != "root notify alice" || second.NextBefore != "" {
			t.Fatalf("second page: %s, next %q", second.actions(), second.NextBefore)
		}
		if got := second.Entries[0]; got.Details["title"] != "one" || mustTime(t, got.CreatedAt).After(mid) {
			t.Fatalf("oldest entry %+v", got)
		}

		for _, bad := range []struct{ query, field string }{
			{"?action=Kick!", "action"},
			{"?action=" + strings.Repeat("a", 65), "action"},
			{"?actor=" + strings.Repeat("x", 256), "actor"},
			{"?target=%00", "target"},
			{"?target=%ff", "target"},
			{"?since=yesterday", "since"},
			{"?until=2026-13-01T00:00:00Z", "until"},
			{"?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", "until"},
			{"?since=2026-01-01T00:00:00Z&until=2026-01-01T00:00:00Z", "until"},
			{"?limit=0", "limit"},
			{"?limit=201", "limit"},
			{"?before=last", "before"},
		} {
			status, out := e.do("GET", "/api/admin/audit"+bad.query, root, nil)
			var body errorBody
			decode(t, out, &body)
			if status != http.StatusBadRequest || body.Error.Code != "validation_failed" || body.Error.Field != bad.field {
				t.Errorf("%s: %d %s, want 400 naming %s", bad.query, status, out, bad.field)
			}
		}
	})
}
