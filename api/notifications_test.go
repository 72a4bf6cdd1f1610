package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/api"
	"switchboard/db"
	"switchboard/db/dbtest"
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

// webhookReceiver fails the first failures deliveries of each escalation, then succeeds.
type webhookReceiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	calls    map[string]int // Idempotency-Key → attempts seen
	failures int
	done     chan string // keys delivered successfully
}

func newWebhookReceiver(t *testing.T, failures int) *webhookReceiver {
	w := &webhookReceiver{calls: map[string]int{}, failures: failures, done: make(chan string, 16)}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		w.mu.Lock()
		w.calls[key]++
		n := w.calls[key]
		w.mu.Unlock()
		if n <= w.failures {
			http.Error(rw, "gateway down", http.StatusServiceUnavailable)
			return
		}
		rw.WriteHeader(http.StatusNoContent)
		w.done <- key
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhookReceiver) attempts(key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls[key]
}

// A webhook that fails twice then succeeds gets each escalated notification exactly as many
// times as needed to succeed once, also across a server restart; low priorities are not
// escalated.
func TestEscalationsAreDeliveredAtLeastOnceAcrossRestarts(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		store := dbtest.Open(t, kind)
		hook := newWebhookReceiver(t, 2)
		escalation := withAPI(func(a *api.Config) {
			a.Escalation = api.EscalationConfig{WebhookURL: hook.srv.URL, Backoff: 50 * time.Millisecond, Interval: 20 * time.Millisecond}
		})
		first := startEnv(t, store, escalation)
		root := first.admin("root")
		first.notify(root, "alice", "not escalated", "medium")
		first.notify(root, "alice", "Database on fire", "critical")
		waitUntil(t, "the first delivery attempt", func() bool { return hook.attemptsAny() >= 1 })
		first.stop() // the process exits between attempts

		second := startEnv(t, store, escalation)
		var key string
		select {
		case key = <-hook.done:
		case <-time.After(wait):
			t.Fatal("the escalation was never delivered after the restart")
		}
		if got := hook.attempts(key); got != 3 {
			t.Fatalf("delivered after %d attempts, want 3 (2 failures, 1 success)", got)
		}
		// A later escalation is delivered too; by then the first has not been sent again.
		hook.mu.Lock()
		hook.failures = 0
		hook.mu.Unlock()
		second.notify(root, "bob", "Second fire", "high")
		select {
		case <-hook.done:
		case <-time.After(wait):
			t.Fatal("the second escalation was never delivered")
		}
		if got := hook.attempts(key); got != 3 {
			t.Fatalf("the first escalation was sent %d times", got)
		}
		hook.mu.Lock()
		escalated := len(hook.calls)
		hook.mu.Unlock()
		if escalated != 2 {
			t.Fatalf("%d escalations reached the webhook, want 2 (medium is not escalated)", escalated)
		}
		waitUntil(t, "both escalations recorded as delivered", func() bool {
			pending, err := store.PendingEscalations(context.Background())
			return err == nil && pending == 0
		})
	})
}

func (w *webhookReceiver) attemptsAny() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	total := 0
	for _, n := range w.calls {
		total += n
	}
	return total
}
