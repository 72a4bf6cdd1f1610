package api_test

import (
	"net/http"
	"slices"
	"strings"
	"switchboard/api"
	"switchboard/db"
	"testing"
	"time"
)

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

// An announcement for role admin reaches admins only, once even for users holding several
// target roles; a scheduled one arrives when it starts; a client connecting during its window
// sees it in the active list; resuming replays it only to those it was meant for.
func TestAnnouncementsReachTheirRoles(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind, withAPI(func(a *api.Config) { a.AnnouncementCheck = 20 * time.Millisecond }))
		root := e.admin("root")
		admins := e.dialSSE(e.token("ann", "Ann", "admin"), "")
		both := e.dialWS(e.token("bea", "Bea", "admin", "ops"), "")
		plain := e.dialSSE(e.token("carl", "Carl"), "")
		announce := func(body map[string]any) {
			t.Helper()
			e.mustDo(http.StatusCreated, "POST", "/api/admin/announcements", root, body)
		}
		announce(map[string]any{"title": "Admins only", "message": "m", "type": "maintenance", "target_roles": []string{"admin", "ops"}})
		for name, c := range map[string]client{"admin": admins, "admin+ops": both} {
			if ev := nextOf(t, c, "system_announcement"); !jsonHas(t, ev.Data, "title", "Admins only") {
				t.Fatalf("%s got %s", name, ev.Data)
			}
		}
		starts := time.Now().Add(time.Second).UTC()
		announce(map[string]any{"title": "Later, for all", "message": "m", "type": "feature", "starts_at": starts.Format(time.RFC3339Nano)})
		for name, c := range map[string]client{"admin": admins, "admin+ops": both, "plain": plain} {
			ev := nextOf(t, c, "system_announcement")
			if !jsonHas(t, ev.Data, "title", "Later, for all") { // for admin+ops: not the first one again
				t.Fatalf("%s got %s", name, ev.Data)
			}
			if time.Now().Before(starts.Add(-50 * time.Millisecond)) {
				t.Fatalf("%s got the scheduled announcement before it started", name)
			}
		}
		var active struct {
			Announcements []struct {
				Title string `json:"title"`
			} `json:"announcements"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/announcements/active", e.token("dan", "Dan"), nil), &active)
		if len(active.Announcements) != 1 || active.Announcements[0].Title != "Later, for all" {
			t.Fatalf("active for a plain user: %+v", active)
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/announcements/active", e.token("dan", "Dan", "ops"), nil), &active)
		if len(active.Announcements) != 2 {
			t.Fatalf("active for ops: %+v", active)
		}
		// Resuming from before both: the plain user gets only the one meant for everyone.
		resumed := e.dialSSE(e.token("carl", "Carl"), "", "Last-Event-ID", plain.conn.Cursor)
		if ev := nextOf(t, resumed, "system_announcement"); !jsonHas(t, ev.Data, "title", "Later, for all") {
			t.Fatalf("replay to a plain user: %s", ev.Data)
		}
	})
}
