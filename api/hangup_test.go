package api_test

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"switchboard/db"
	"switchboard/realtime"
)

// A client that closes its SSE socket is noticed although it never reads again and nothing is
// written to it: its connection and its room subscriptions are freed.
func TestClosedSSESocketIsNoticedAndFreed(t *testing.T) {
	e := newEnv(t, db.SQLite)
	conn := openRawSSE(t, e, e.token("leaver", "Leaver"), "rooms=hall")
	subscribed := func() bool { return len(e.hub.Subscribers(realtime.RoomTopic("hall"))) == 1 }
	waitUntil(t, "the stream subscribed to the room", subscribed)
	conn.Close()
	waitUntil(t, "the server freeing the stream of the closed socket", func() bool {
		return len(e.hub.Subscribers(realtime.RoomTopic("hall"))) == 0 && len(e.hub.Conns()) == 0
	})
}

// On Linux an idle SSE stream holds no goroutine: a shared watcher notices hang-ups. 200
// streams open, the server's goroutines grow by far less than one per stream; closed, they
// are all noticed.
func TestIdleSSEStreamsHoldNoGoroutine(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the readiness watcher is Linux-only; elsewhere a goroutine per stream watches")
	}
	e := newEnv(t, db.SQLite)
	before := runtime.NumGoroutine()
	const n = 200
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = openRawSSE(t, e, e.token(fmt.Sprint("idler", i), "Idler"), "rooms=hall")
	}
	waitUntil(t, "every stream registered", func() bool { return len(e.hub.Conns()) == n })
	if grown := runtime.NumGoroutine() - before; grown > n/10 {
		t.Fatalf("%d idle streams added %d goroutines", n, grown)
	}
	for _, c := range conns {
		c.Close()
	}
	waitUntil(t, "every closed stream freed", func() bool { return len(e.hub.Conns()) == 0 })
}

// openRawSSE opens an SSE stream on a plain socket and reads up to the connected event, after
// which it reads nothing (and so holds no goroutine in the test either).
func openRawSSE(t *testing.T, e *env, token, query string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "GET /events?%s HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\n\r\n", query, token)
	conn.SetReadDeadline(time.Now().Add(wait))
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream head: %v", err)
		}
		if strings.HasPrefix(line, "id: ") {
			return conn
		}
	}
}
