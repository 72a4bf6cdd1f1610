package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"switchboard/api"
	"switchboard/api/auth"
	"switchboard/api/escalation"
	"switchboard/db"
)

// escalationView is an escalation as GET /api/admin/escalations lists it.
type escalationView struct {
	ID             string `json:"id"`
	NotificationID string `json:"notification_id"`
	UserID         string `json:"user_id"`
	Title          string `json:"title"`
	Priority       string `json:"priority"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	LastError      string `json:"last_error"`
	NextAttemptAt  string `json:"next_attempt_at"`
	InFlight       bool   `json:"in_flight"`
	DeliveredAt    string `json:"delivered_at"`
}

type escalationList struct {
	Escalations []escalationView `json:"escalations"`
	NextBefore  string           `json:"next_before"`
	Pending     int              `json:"pending"`
	Webhook     bool             `json:"webhook_configured"`
}

func (e *env) escalations(token, query string) escalationList {
	e.t.Helper()
	var l escalationList
	decode(e.t, e.mustDo(http.StatusOK, "GET", "/api/admin/escalations"+query, token, nil), &l)
	return l
}

// withWebhook delivers escalations to url, retrying a failed one only after an hour: the tests
// retry it by hand.
func withWebhook(url string) option {
	return withAPI(func(a *api.Config) {
		a.Escalation = escalation.Config{WebhookURL: url, Backoff: time.Hour, MaxBackoff: time.Hour, Interval: 10 * time.Millisecond}
	})
}

// An operator lists pending escalations with their attempts, last error and next attempt,
// pages through them, and retries one whose backoff is long: it is delivered at once. A
// delivered one, an unknown one and a malformed id are refused with clear errors.
func TestEscalationsListedAndRetried(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		hook := newWebhookReceiver(t, 1) // each escalation fails once, then succeeds
		e := newEnv(t, kind, withWebhook(hook.srv.URL))
		root := e.admin("root")
		disk := e.notify(root, "alice", "Disk almost full", "high")
		e.notify(root, "bob", "routine", "medium") // not escalated
		fire := e.notify(root, "carol", "Database on fire", "critical")

		var l escalationList
		waitUntil(t, "both escalations failed once", func() bool {
			l = e.escalations(root, "")
			return len(l.Escalations) == 2 && l.Escalations[0].Attempts == 1 && l.Escalations[1].Attempts == 1 &&
				!l.Escalations[0].InFlight && !l.Escalations[1].InFlight
		})
		if !l.Webhook || l.Pending != 2 || l.NextBefore != "" {
			t.Fatalf("listing %+v", l)
		}
		newest := l.Escalations[0]
		if newest.NotificationID != fire.ID || newest.UserID != "carol" || newest.Title != "Database on fire" ||
			newest.Priority != "critical" || newest.Status != "pending" || newest.DeliveredAt != "" ||
			!strings.Contains(newest.LastError, "503") {
			t.Fatalf("newest escalation %+v", newest)
		}
		if next := mustTime(t, newest.NextAttemptAt); time.Until(next) < 30*time.Minute {
			t.Fatalf("next attempt at %s: the backoff is an hour", next)
		}
		older := l.Escalations[1]
		if older.NotificationID != disk.ID || older.UserID != "alice" {
			t.Fatalf("older escalation %+v", older)
		}

		page := e.escalations(root, "?limit=1")
		if len(page.Escalations) != 1 || page.Escalations[0].ID != newest.ID || page.NextBefore != newest.ID {
			t.Fatalf("first page %+v", page)
		}
		page = e.escalations(root, "?limit=1&before="+page.NextBefore)
		if len(page.Escalations) != 1 || page.Escalations[0].ID != older.ID || page.NextBefore != "" {
			t.Fatalf("second page %+v", page)
		}

		var retried escalationView
		decode(t, e.mustDo(http.StatusAccepted, "POST", "/api/admin/escalations/"+older.ID+"/retry", root, nil), &retried)
		if retried.ID != older.ID || retried.Status != "pending" || time.Until(mustTime(t, retried.NextAttemptAt)) > time.Second {
			t.Fatalf("retry answered %+v", retried)
		}
		select {
		case key := <-hook.done:
			if key != older.ID {
				t.Fatalf("delivered %s, want the retried %s", key, older.ID)
			}
		case <-time.After(wait):
			t.Fatal("the retried escalation was not delivered")
		}
		waitUntil(t, "the delivery recorded", func() bool { return e.escalations(root, "").Pending == 1 })
		delivered := e.escalations(root, "?status=delivered")
		if len(delivered.Escalations) != 1 || delivered.Escalations[0].ID != older.ID || delivered.Escalations[0].Attempts != 2 ||
			delivered.Escalations[0].DeliveredAt == "" || delivered.Escalations[0].NextAttemptAt != "" {
			t.Fatalf("delivered listing %+v", delivered)
		}
		if all := e.escalations(root, "?status=all"); len(all.Escalations) != 2 {
			t.Fatalf("listing of all %+v", all)
		}
		if hook.attempts(newest.ID) != 1 {
			t.Fatalf("the escalation not retried was attempted %d times", hook.attempts(newest.ID))
		}

		for _, bad := range []struct {
			method, path string
			status       int
			code, field  string
		}{
			{"POST", "/api/admin/escalations/" + older.ID + "/retry", 409, "escalation_delivered", ""},
			{"POST", "/api/admin/escalations/0190c4e2-0000-7000-8000-000000000000/retry", 404, "escalation_not_found", ""},
			{"POST", "/api/admin/escalations/nope/retry", 400, "validation_failed", "id"},
			{"GET", "/api/admin/escalations?status=failed", 400, "validation_failed", "status"},
			{"GET", "/api/admin/escalations?limit=0", 400, "validation_failed", "limit"},
			{"GET", "/api/admin/escalations?before=yesterday", 400, "validation_failed", "before"},
		} {
			status, out := e.do(bad.method, bad.path, root, nil)
			var body errorBody
			decode(t, out, &body)
			if status != bad.status || body.Error.Code != bad.code || body.Error.Field != bad.field || body.Error.Message == "" {
				t.Errorf("%s %s: %d %s", bad.method, bad.path, status, out)
			}
		}

		// Listing needs admin.connections; retrying needs notifications.send.
		watcher := e.tokenWith(auth.Claims{Permissions: []string{api.PermAdminConnections}}, "watcher")
		if status, out := e.do("POST", "/api/admin/escalations/"+newest.ID+"/retry", watcher, nil); status != http.StatusForbidden ||
			!strings.Contains(string(out), api.PermSendNotifications) {
			t.Errorf("retrying without %s: %d %s", api.PermSendNotifications, status, out)
		}
		sender := e.tokenWith(auth.Claims{Permissions: []string{api.PermSendNotifications}}, "sender")
		if status, out := e.do("GET", "/api/admin/escalations", sender, nil); status != http.StatusForbidden ||
			!strings.Contains(string(out), api.PermAdminConnections) {
			t.Errorf("listing without %s: %d %s", api.PermAdminConnections, status, out)
		}

		audit := e.auditLog(root, "?action=escalation_retry")
		if len(audit.Entries) != 1 || audit.Entries[0].Target != older.ID || audit.Entries[0].Actor != "root" {
			t.Fatalf("audit of the retry %+v", audit.Entries)
		}
	})
}

// An escalation whose attempt is under way cannot be retried: 409 until the attempt ends.
func TestEscalationRetryRefusedWhileInFlight(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		arrived, release := make(chan string, 1), make(chan struct{})
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived <- r.Header.Get("Idempotency-Key")
			<-release
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(hook.Close)
		t.Cleanup(func() { close(release) }) // before the server closes: it waits for its handlers
		e := newEnv(t, kind, withWebhook(hook.URL))
		root := e.admin("root")
		e.notify(root, "alice", "Disk almost full", "high")
		var id string
		select {
		case id = <-arrived:
		case <-time.After(wait):
			t.Fatal("the webhook was never called")
		}
		if l := e.escalations(root, ""); len(l.Escalations) != 1 || !l.Escalations[0].InFlight {
			t.Fatalf("listing during the attempt %+v", l)
		}
		status, out := e.do("POST", "/api/admin/escalations/"+id+"/retry", root, nil)
		if status != http.StatusConflict || !strings.Contains(string(out), `"code":"escalation_in_flight"`) {
			t.Fatalf("retrying during the attempt: %d %s", status, out)
		}
	})
}

// Without a webhook, escalations wait untried, the listing says why, and a retry is refused.
func TestEscalationRetryRefusedWithoutAWebhook(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		root := e.admin("root")
		e.notify(root, "alice", "Disk almost full", "high")
		l := e.escalations(root, "")
		if l.Webhook || l.Pending != 1 || len(l.Escalations) != 1 || l.Escalations[0].Attempts != 0 || l.Escalations[0].LastError != "" {
			t.Fatalf("listing %+v", l)
		}
		status, out := e.do("POST", "/api/admin/escalations/"+l.Escalations[0].ID+"/retry", root, nil)
		if status != http.StatusConflict || !strings.Contains(string(out), `"code":"webhook_not_configured"`) {
			t.Fatalf("retrying without a webhook: %d %s", status, out)
		}
	})
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return v
}
