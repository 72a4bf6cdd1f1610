package api_test

import (
	"context"
	"net/http"
	"strings"
	"switchboard/db"
	"testing"
	"time"
)

type notification struct {
	ID       string `json:"id"`
	UserID   string `json:"user_id"`
	Title    string `json:"title"`
	Priority string `json:"priority"`
	Read     bool   `json:"read"`
}

func (e *env) notify(admin, user, title, priority string) notification {
	e.t.Helper()
	var n notification
	decode(e.t, e.mustDo(http.StatusCreated, "POST", "/api/admin/notifications", admin, map[string]any{
		"user_id": user, "notification": map[string]any{"title": title, "message": "…", "priority": priority,
			"type": "info", "data": map[string]any{"k": "v"}, "action_url": "/rooms/general", "action_text": "Open"},
	}), &n)
	return n
}

func (e *env) unread(token string) int {
	e.t.Helper()
	var out struct {
		Unread int `json:"unread_count"`
	}
	decode(e.t, e.mustDo(http.StatusOK, "GET", "/api/notifications/unread-count", token, nil), &out)
	return out.Unread
}

// A notification sent by an admin arrives live on the user's SSE, WebSocket and long-poll
// connections, the unread count is right, marking it read on one connection updates the
// others, and nobody else receives it.
func TestNotificationsReachEveryTabOfTheirUserOnly(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		admin, alice, bob := e.admin("root"), e.token("alice", "Alice"), e.token("bob", "Bob")
		tabs := map[string]client{"sse": e.dialSSE(alice, ""), "ws": e.dialWS(alice, "")}
		p := e.dialPoll(alice, "timeout=5")
		connectedOf(t, p)
		tabs["poll"] = p
		bobSSE := e.dialSSE(bob, "")

		sent := e.notify(admin, "alice", "Deploy finished", "medium")
		for name, c := range tabs {
			ev := nextOf(t, c, "notification")
			if !jsonHas(t, ev.Data, "id", sent.ID) || !jsonHas(t, ev.Data, "title", "Deploy finished") || ev.ID == "" ||
				!strings.Contains(string(ev.Data), `"unread_count":1`) {
				t.Fatalf("%s got %s", name, ev.Data)
			}
		}
		if n := e.unread(alice); n != 1 {
			t.Fatalf("unread %d, want 1", n)
		}
		e.mustDo(http.StatusOK, "PATCH", "/api/notifications/"+sent.ID+"/read", alice, nil)
		for name, c := range tabs {
			ev := nextOf(t, c, "notification_read")
			if !strings.Contains(string(ev.Data), sent.ID) || !strings.Contains(string(ev.Data), `"unread_count":0`) {
				t.Fatalf("%s got %s", name, ev.Data)
			}
		}
		if n := e.unread(alice); n != 0 {
			t.Fatalf("unread %d after reading, want 0", n)
		}
		// Bob's first notification is his own.
		e.notify(admin, "bob", "For bob", "low")
		if ev := nextOf(t, bobSSE, "notification", "notification_read"); !jsonHas(t, ev.Data, "title", "For bob") {
			t.Fatalf("bob received %s", ev.Data)
		}
	})
}

// The notification list pages newest first, filters unread, hides expired ones; mark-all-read
// clears the badge.
func TestNotificationListing(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		admin, alice := e.admin("root"), e.token("alice", "Alice")
		var sent []notification
		for _, title := range []string{"one", "two", "three"} {
			sent = append(sent, e.notify(admin, "alice", title, "low"))
		}
		ctx := context.Background()
		if _, _, err := e.db.CreateNotification(ctx, db.Notification{UserID: "alice", Type: "info", Title: "expired",
			Priority: "low", ExpiresAt: time.Now().Add(-time.Minute)}, func(db.Notification, int) ([]db.Event, error) { return nil, nil }); err != nil {
			t.Fatal(err)
		}
		e.mustDo(http.StatusOK, "PATCH", "/api/notifications/"+sent[1].ID+"/read", alice, nil)
		type page struct {
			Notifications []notification `json:"notifications"`
			NextCursor    string         `json:"next_cursor"`
			Unread        int            `json:"unread_count"`
		}
		var p1, p2, unread page
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/notifications?limit=2", alice, nil), &p1)
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/notifications?limit=2&cursor="+p1.NextCursor, alice, nil), &p2)
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/notifications?unread=true", alice, nil), &unread)
		titles := func(ns []notification) (out []string) {
			for _, n := range ns {
				out = append(out, n.Title)
			}
			return out
		}
		if got := strings.Join(append(titles(p1.Notifications), titles(p2.Notifications)...), ","); got != "three,two,one" || p2.NextCursor != "" {
			t.Fatalf("pages: %s (next %q)", got, p2.NextCursor)
		}
		if got := strings.Join(titles(unread.Notifications), ","); got != "three,one" || unread.Unread != 2 {
			t.Fatalf("unread: %s, count %d", got, unread.Unread)
		}
		var all struct {
			Marked int `json:"marked"`
			Unread int `json:"unread_count"`
		}
		decode(t, e.mustDo(http.StatusOK, "PATCH", "/api/notifications/mark-all-read", alice, nil), &all)
		if all.Marked != 2 || all.Unread != 0 {
			t.Fatalf("mark-all-read %+v", all)
		}
		if status, _ := e.do("PATCH", "/api/notifications/"+sent[0].ID+"/read", e.token("bob", "Bob"), nil); status != http.StatusNotFound {
			t.Fatalf("bob marked alice's notification: %d", status)
		}
	})
}
