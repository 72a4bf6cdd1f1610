package api_test

import (
	"context"
	"net/http"
	"strings"
	"switchboard/db"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Shutdown ends SSE streams, closes WebSockets with 1001 and answers waiting polls, each with
// the shutdown event last.
func TestShutdownClosesStreams(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		stream := e.dialSSE(alice, "rooms=general")
		ws := e.dialWS(alice, "rooms=general")
		p := e.dialPoll(alice, "timeout=5")
		connectedOf(t, p)
		c, ok := e.hub.Conn(p.id)
		if !ok {
			t.Fatal("the long-poll connection is not in the hub")
		}
		before := c.Info().LastActive
		polled := make(chan []envelope, 1)
		go func() { polled <- p.poll(t) }()
		// A poll that arrives once shutdown has begun is refused (503 shutting_down): this one
		// must be waiting first. A poll that starts waiting marks the connection active.
		waitUntil(t, "the poll to wait", func() bool { return !c.Info().LastActive.Equal(before.Time) })

		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := e.api.Shutdown(ctx, 50*time.Millisecond); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
		if rest := stream.ended(t); len(rest) == 0 || rest[len(rest)-1].Type != "shutdown" {
			t.Fatalf("the SSE stream ended after %v, want shutdown last", rest)
		}
		rest, code, reason := ws.ended(t)
		if code != websocket.StatusGoingAway || !strings.Contains(reason, "resume") {
			t.Fatalf("WebSocket closed with %d %q, want 1001", code, reason)
		}
		if len(rest) == 0 || rest[len(rest)-1].Type != "shutdown" || !strings.Contains(string(rest[len(rest)-1].Data), `"retry_ms":`) {
			t.Fatalf("the WebSocket closed after %v, want shutdown with retry_ms last", rest)
		}
		select {
		case evs := <-polled:
			if len(evs) == 0 || evs[len(evs)-1].Type != "shutdown" {
				t.Fatalf("the waiting poll got %v, want shutdown last", evs)
			}
		case <-time.After(wait):
			t.Fatal("a waiting poll was not answered at shutdown")
		}
		status, body := e.do("GET", "/events", alice, nil)
		if status != http.StatusServiceUnavailable {
			t.Fatalf("new stream during shutdown: %d %s", status, body)
		}
	})
}
