package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/api"
	"switchboard/api/apitest"
	"switchboard/db"
	"switchboard/db/dbtest"
	"switchboard/realtime"
)

// A frozen database (a stopped PostgreSQL: connections open, nothing answered) does not hang
// the server: while it is frozen, writes answer 503 with Retry-After, /readyz answers 503 and
// live streams stay up; once it thaws, writes succeed again, and every message a client was
// told was stored is in the history exactly once.
func TestDatabaseFreeze(t *testing.T) {
	cfg := dbtest.Config(t, db.Postgres)
	cfg.Timeout = db.DefaultTimeout // what production waits for a frozen database
	u, err := url.Parse(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := apitest.NewTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	cfg.URL = u.String()
	e := startEnv(t, nil, ownDatabase(cfg), inCluster(cfg.URL), withAPI(func(c *api.Config) { c.DBTimeout = db.DefaultTimeout }),
		// Heartbeats come often enough to see the streams served during the freeze; not at
		// 100 ms: a WebSocket's pong is due within one interval, which a loaded CI host (race
		// detector, browser tests beside it) once missed, and the server rightly let it go.
		withHub(func(h *realtime.Config) { h.Heartbeat = time.Second }))
	t.Cleanup(proxy.Thaw) // before the server stops
	sse := e.dialSSE(e.token("alice", "Alice"), "rooms=general")
	ws := e.dialWS(e.token("bob", "Bob"), "rooms=general")

	w := startFreezeWriters(t, e, 3)
	w.until(t, func(freezeResult) bool { return len(w.accepted) >= 6 })

	proxy.Freeze()
	refused := w.until(t, func(r freezeResult) bool { return r.status == http.StatusServiceUnavailable })
	if refused.retryAfter == "" {
		t.Fatalf("a write while the database is frozen: 503 without Retry-After")
	}
	t.Logf("a write while the database is frozen: 503 after %s", refused.took)
	if status, _, took := timedDo(t, e, "GET", "/readyz", ""); status != http.StatusServiceUnavailable {
		t.Fatalf("/readyz while the database is frozen: %d after %s", status, took)
	} else {
		t.Logf("/readyz while the database is frozen: 503 after %s", took)
	}
	if status, _, took := timedDo(t, e, "GET", "/api/rooms", e.token("carol", "Carol")); status != http.StatusOK &&
		status != http.StatusServiceUnavailable {
		t.Fatalf("GET /api/rooms while the database is frozen: %d after %s", status, took)
	}
	// The streams are still up, and still served, while the database is frozen.
	for len(sse.events) > 0 {
		<-sse.events
	}
	nextOf(t, sse, "heartbeat")
	nextOf(t, sse, "heartbeat")
	ws.send(t, map[string]string{"type": "ping"})
	nextOf(t, ws, "pong")

	proxy.Thaw()
	w.thawed.Store(true)
	w.until(t, func(r freezeResult) bool { return r.accepted() && r.afterThaw })
	w.stop()
	e.post(e.token("alice", "Alice"), "general", "after the thaw")
	for nextOf(t, sse, "chat_message").message(t).Content != "after the thaw" {
	}
	for nextOf(t, ws, "chat_message").message(t).Content != "after the thaw" {
	}

	seen := map[string]int{}
	for _, m := range history(t, e, "general") {
		seen[m.Content]++
	}
	for content, n := range seen {
		if n != 1 {
			t.Errorf("%q is in the history %d times", content, n)
		}
	}
	for content := range w.accepted {
		if seen[content] != 1 {
			t.Errorf("%q was accepted but is in the history %d times", content, seen[content])
		}
	}
	t.Logf("%d messages accepted, %d writes refused while frozen", len(w.accepted), w.refused)
}

// freezeWriters post messages to one room until stopped, each retrying a refused message
// (with the same client_id) until it is accepted, as a client honouring Retry-After would.
type freezeWriters struct {
	results  chan freezeResult
	thawed   atomic.Bool
	stop     func()
	accepted map[string]bool // the messages answered 2xx, as until saw them
	refused  int
}

// freezeResult is one write's answer.
type freezeResult struct {
	content    string
	status     int
	retryAfter string
	took       time.Duration
	afterThaw  bool // the request started after the database thawed
	err        error
}

func (r freezeResult) accepted() bool {
	return r.status == http.StatusCreated || r.status == http.StatusOK
}

func startFreezeWriters(t *testing.T, e *env, n int) *freezeWriters {
	w := &freezeWriters{results: make(chan freezeResult, 4096), accepted: map[string]bool{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		tok := e.token(fmt.Sprint("writer", i), "Writer")
		wg.Go(func() {
			for seq := 0; ; {
				select {
				case <-stop:
					return
				default:
				}
				r := freezeResult{content: fmt.Sprintf("w%d-%d", i, seq), afterThaw: w.thawed.Load()}
				var h http.Header
				r.status, h, r.took, r.err = timedRequest(e, "POST", "/api/rooms/general/messages", tok,
					fmt.Sprintf(`{"content":%q,"client_id":%q}`, r.content, r.content))
				r.retryAfter = h.Get("Retry-After")
				w.results <- r
				switch {
				case r.err != nil:
					return
				case r.accepted():
					seq++
				case r.status != http.StatusServiceUnavailable:
					return
				}
			}
		})
	}
	w.stop = sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
		for len(w.results) > 0 {
			if err := w.note(<-w.results); err != nil {
				t.Error(err)
			}
		}
	})
	t.Cleanup(w.stop)
	return w
}

// until returns the first write's answer for which done holds, failing the test on one that
// is neither a success nor a 503.
func (w *freezeWriters) until(t *testing.T, done func(freezeResult) bool) freezeResult {
	t.Helper()
	for {
		select {
		case r := <-w.results:
			if err := w.note(r); err != nil {
				t.Fatal(err)
			}
			if done(r) {
				return r
			}
		case <-time.After(wait):
			t.Fatalf("no write answered within %s", wait)
		}
	}
}

// note counts an answer; it is an error unless it is a success or a 503.
func (w *freezeWriters) note(r freezeResult) error {
	switch {
	case r.err != nil:
		return fmt.Errorf("writing %s: %v after %s", r.content, r.err, r.took)
	case r.accepted():
		w.accepted[r.content] = true
	case r.status == http.StatusServiceUnavailable:
		w.refused++
	default:
		return fmt.Errorf("writing %s: status %d", r.content, r.status)
	}
	return nil
}

// timedDo is timedRequest that fails the test when there is no answer within wait.
func timedDo(t *testing.T, e *env, method, path, token string) (int, http.Header, time.Duration) {
	t.Helper()
	status, h, took, err := timedRequest(e, method, path, token, "")
	if err != nil {
		t.Fatalf("%s %s: %v after %s", method, path, err, took)
	}
	return status, h, took
}

// timedRequest sends a request that must be answered within wait, and says how long it took.
func timedRequest(e *env, method, path, token, body string) (int, http.Header, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.base+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, time.Since(start), err
	}
	defer res.Body.Close()
	_, err = io.Copy(io.Discard, res.Body)
	return res.StatusCode, res.Header, time.Since(start), err
}

// history returns every message of a room, newest first.
func history(t *testing.T, e *env, room string) []message {
	t.Helper()
	tok := e.token("reader", "Reader")
	var all []message
	for before := ""; ; {
		var page struct {
			Messages   []message `json:"messages"`
			NextBefore string    `json:"next_before"`
		}
		decode(t, e.mustDo(http.StatusOK, "GET", "/api/rooms/"+room+"/messages?limit=100&before="+before, tok, nil), &page)
		all = append(all, page.Messages...)
		if page.NextBefore == "" {
			return all
		}
		before = page.NextBefore
	}
}
