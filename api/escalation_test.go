package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"switchboard/api"
	"switchboard/api/escalation"
	"switchboard/db"
	"switchboard/db/dbtest"
	"sync"
	"testing"
	"time"
)

// Without a webhook, a high-priority notification is still recorded in the escalation outbox,
// pending and untried, for when one is configured; lower priorities are not escalated.
func TestEscalationsWaitInTheOutboxWithoutAWebhook(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind, withAPI(func(a *api.Config) { a.Escalation.Interval = 10 * time.Millisecond }))
		root := e.admin("root")
		e.notify(root, "alice", "routine", "medium")
		high := e.notify(root, "alice", "Disk almost full", "high")
		var stats struct {
			Pending int `json:"escalations_pending"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/admin/stats", root, nil), &stats)
		if stats.Pending != 1 {
			t.Fatalf("%d escalations pending, want 1", stats.Pending)
		}
		due, err := e.db.ClaimEscalations(context.Background(), 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(due) != 1 || due[0].NotificationID != high.ID || due[0].Status != "pending" || due[0].Attempts != 0 ||
			!strings.Contains(due[0].Payload, "Disk almost full") {
			t.Fatalf("outbox %+v", due)
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
			a.Escalation = escalation.Config{WebhookURL: hook.srv.URL, Backoff: 50 * time.Millisecond, Interval: 20 * time.Millisecond}
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
