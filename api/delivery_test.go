package api_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"switchboard/api"
	"switchboard/api/apitest"
	"switchboard/db"
	"switchboard/realtime"
	"switchboard/web"
)

// A cursor older than retention gets a reset for the room and nothing partial; live delivery
// continues after it.
func TestCursorOlderThanRetentionResets(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		stream := e.dialSSE(alice, "rooms=general")
		e.post(alice, "general", "seen")
		cursor := nextOf(t, stream, "chat_message").ID
		stream.cancel()
		for i := range 5 {
			e.post(alice, "general", fmt.Sprint("missed ", i))
		}
		if _, err := e.db.Trim(context.Background(), db.Retention{MaxEvents: 2}); err != nil {
			t.Fatal(err)
		}
		resumed := e.dialSSE(alice, "", "Last-Event-ID", cursor)
		ev := nextOf(t, resumed, "reset", "chat_message")
		if ev.Type != "reset" || ev.Room != "general" || ev.ID == "" {
			t.Fatalf("first event after resuming past retention: %+v", ev)
		}
		e.post(alice, "general", "live again")
		if m := nextOf(t, resumed, "chat_message").message(t); m.Content != "live again" {
			t.Fatalf("after the reset got %+v: a partial replay", m)
		}
	})
}

// A reader that stops reading is disconnected; the others get everything meanwhile, and after
// resuming from its cursor the stalled one has lost nothing.
func TestStalledReaderIsDisconnectedAndLosesNothing(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind, smallSendBuffers, withHub(func(h *realtime.Config) { h.QueueSize = 32 }))
		alice := e.token("alice", "Alice")
		stalled, cursor := openStalledStream(t, e, alice, "rooms=flood")
		readers := []*sseClient{e.dialSSE(e.token("r1", "R1"), "rooms=flood"), e.dialSSE(e.token("r2", "R2"), "rooms=flood")}
		ws := e.dialWS(e.token("r3", "R3"), "rooms=flood")

		const n = 300
		content := strings.Repeat("é", 996) // 2 KB per message
		for i := range n {
			e.post(alice, "flood", fmt.Sprintf("%04d%s", i, content))
		}
		for name, c := range map[string]client{"sse1": readers[0], "sse2": readers[1], "ws": ws} {
			for i := range n {
				if m := nextOf(t, c, "chat_message").message(t); !strings.HasPrefix(m.Content, fmt.Sprintf("%04d", i)) {
					t.Fatalf("%s: message %d is %.4s", name, i, m.Content)
				}
			}
		}
		expectClosedByServer(t, stalled)
		resumed := e.dialSSE(alice, "", "Last-Event-ID", cursor)
		for i := range n {
			if m := nextOf(t, resumed, "chat_message").message(t); !strings.HasPrefix(m.Content, fmt.Sprintf("%04d", i)) {
				t.Fatalf("resumed: message %d is %.4s", i, m.Content)
			}
		}
	})
}

// openStalledStream opens an SSE stream on a socket with a tiny receive buffer, reads up to
// the connected event's cursor, and then never reads again.
func openStalledStream(t *testing.T, e *env, token, query string) (net.Conn, string) {
	t.Helper()
	conn := dialTinyReceiveBuffer(t, e)
	fmt.Fprintf(conn, "GET /events?%s HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer %s\r\n\r\n", query, token)
	r := bufio.NewReaderSize(conn, 16)
	conn.SetReadDeadline(time.Now().Add(wait))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream head: %v", err)
		}
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			return conn, strings.TrimSpace(id)
		}
	}
}

// Through a proxy that buffers whole responses, SSE shows nothing, but long-poll still works.
func TestLongPollThroughABufferingProxy(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		proxied := e.via(apitest.BufferingProxy(t, e.url))
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")

		// The control: an SSE stream through this proxy delivers nothing.
		sse := proxied.openSSE(alice, "rooms=general")
		select {
		case m := <-sse.events:
			t.Fatalf("the proxy let an SSE event through (%s): it does not buffer", m.Data)
		case <-time.After(300 * time.Millisecond):
		}

		p := proxied.dialPoll(alice, "rooms=general&timeout=5")
		connectedOf(t, p)
		got := make(chan envelope, 1)
		go func() { got <- nextOf(t, p, "chat_message") }()
		sent := e.post(bob, "general", "through the proxy")
		select {
		case ev := <-got:
			if ev.message(t).ID != sent.ID {
				t.Fatalf("got %+v", ev)
			}
		case <-time.After(wait):
			t.Fatal("long-poll through the buffering proxy delivered nothing")
		}
	})
}

// idleCuttingProxy is a TCP proxy that drops a connection on which nothing was sent toward the
// client for idle, as load balancers and Cloudflare do.
func idleCuttingProxy(t *testing.T, target string, idle time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				server, err := net.Dial("tcp", target)
				if err != nil {
					client.Close()
					return
				}
				var last atomic.Int64
				last.Store(time.Now().UnixNano())
				done := make(chan struct{})
				closeBoth := func() { client.Close(); server.Close() }
				go func() { io.Copy(server, client); closeBoth() }()
				go func() {
					defer close(done)
					buf := make([]byte, 4096)
					for {
						n, err := server.Read(buf)
						if n > 0 {
							last.Store(time.Now().UnixNano())
							if _, werr := client.Write(buf[:n]); werr != nil {
								break
							}
						}
						if err != nil {
							break
						}
					}
					closeBoth()
				}()
				tick := time.NewTicker(idle / 20)
				defer tick.Stop()
				for {
					select {
					case <-done:
						return
					case <-tick.C:
						if time.Since(time.Unix(0, last.Load())) > idle {
							closeBoth()
							return
						}
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// readHeartbeats reads a raw SSE stream until it has seen n heartbeat events, or it ends.
func readHeartbeats(body io.Reader, n int) (int, error) {
	sc := bufio.NewScanner(body)
	seen := 0
	for seen < n && sc.Scan() {
		if sc.Text() == "event: heartbeat" {
			seen++
		}
	}
	if seen < n {
		if sc.Err() == nil {
			return seen, io.EOF
		}
		return seen, sc.Err()
	}
	return seen, nil
}

// Through a proxy that cuts connections idle for 30 s, an SSE stream with the default 15 s
// heartbeat stays up. (Without heartbeats the same proxy cuts it: see the control below.)
func TestSSEWithDefaultHeartbeatOutlivesAnIdleCuttingProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 45 s of wall time; runs in CI")
	}
	t.Parallel()
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		t.Parallel()
		e := newEnv(t, kind, withHub(func(h *realtime.Config) { h.Heartbeat = 0 })) // the default
		proxy := idleCuttingProxy(t, strings.TrimPrefix(e.url, "http://"), 30*time.Second)
		alice := e.token("alice", "Alice")
		res, err := http.Get(proxy + "/events?rooms=general&access_token=" + alice)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		r := bufio.NewReader(res.Body)
		if seen, err := readHeartbeats(r, 3); err != nil { // 45 s: past the proxy's 30 s idle limit
			t.Fatalf("stream cut after %d heartbeats: %v", seen, err)
		}
		e.post(alice, "general", "still here")
		line := ""
		for !strings.HasPrefix(line, "data: ") || !strings.Contains(line, "still here") {
			if line, err = r.ReadString('\n'); err != nil {
				t.Fatalf("the stream ended before the message: %v", err)
			}
		}
	})
}

// The control for the test above: without heartbeats, the idle-cutting proxy does end a stream.
func TestIdleCuttingProxyCutsAStreamWithoutHeartbeats(t *testing.T) {
	e := newEnv(t, db.SQLite) // heartbeat: an hour
	proxy := idleCuttingProxy(t, strings.TrimPrefix(e.url, "http://"), 300*time.Millisecond)
	res, err := http.Get(proxy + "/events?access_token=" + e.token("alice", "Alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, res.Body); done <- err }()
	select {
	case <-done:
	case <-time.After(wait):
		t.Fatal("the proxy did not cut an idle stream")
	}
}

// A cursor the server did not issue to the user presenting it — another user's, altered, made
// up — is refused whole with one answer that names nothing in it, on every transport; one from
// another epoch starts over with resets.
func TestForgedCursorsAreRefused(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice, bob := e.token("alice", "Alice"), e.token("bob", "Bob")
		e.createRoom(bob, map[string]any{"name": "Bob's secret", "key": "bobs-secret", "private": true})
		bobs := e.dialSSE(bob, "rooms=bobs-secret").conn.Cursor
		own := e.dialSSE(alice, "").conn.Cursor
		raw, err := base64.RawURLEncoding.DecodeString(own)
		if err != nil {
			t.Fatal(err)
		}
		raw[len(raw)/2] ^= 1
		altered := base64.RawURLEncoding.EncodeToString(raw)
		var first string
		for name, cursor := range map[string]string{"bob's": bobs, "altered": altered, "made up": "AgUBAQE"} {
			for _, path := range []string{"/events?last_event_id=", "/poll?timeout=0&cursor=", "/ws?last_event_id="} {
				status, out := e.do("GET", path+url.QueryEscape(cursor), alice, nil)
				var body struct {
					Error struct{ Code, Message, Field string } `json:"error"`
				}
				decode(t, out, &body)
				if status != http.StatusBadRequest || body.Error.Code != "invalid_cursor" {
					t.Fatalf("%s cursor on %s: %d %s, want 400 invalid_cursor", name, path, status, out)
				}
				answer := body.Error.Message + " " + body.Error.Field
				if first == "" {
					first = answer
				}
				if answer != first || strings.Contains(answer, "bob") || strings.Contains(answer, "secret") {
					t.Fatalf("%s cursor on %s answers %q (first answer %q)", name, path, answer, first)
				}
			}
		}
		if _, err := e.openWS(alice, "last_event_id="+bobs); err == nil || !strings.Contains(err.Error(), "400") {
			t.Fatalf("a WebSocket resuming with bob's cursor: %v, want a 400", err)
		}
		// Only a holder of the key could sign a cursor naming an unknown topic: still refused.
		epoch := e.hub.Config().Epoch
		unknown := e.hub.SignCursor(realtime.Cursor{Epoch: epoch, Positions: []realtime.Position{{TopicID: 1 << 40}}}, "alice")
		if status, body := e.do("GET", "/events?last_event_id="+unknown, alice, nil); status != http.StatusBadRequest {
			t.Fatalf("cursor naming an unknown topic: %d %s", status, body)
		}
		// Another epoch: the log it points into is gone; the client starts over and is told so.
		stale := e.hub.SignCursor(realtime.Cursor{Epoch: epoch + 1, Positions: []realtime.Position{{TopicID: 1, Offset: 3}}}, "alice")
		// Rooms the request names cannot be resumed either: they reset as well.
		stream := e.dialSSE(alice, "rooms=general", "Last-Event-ID", stale)
		if !stream.conn.Resumed {
			t.Fatal("connected does not say resumed")
		}
		want := map[string]bool{"user:alice": true, "all": true, "room:general": true}
		for len(want) > 0 {
			ev := nextOf(t, stream, "reset")
			var d struct {
				Topic string `json:"topic"`
				Room  string `json:"room"`
			}
			decode(t, ev.Data, &d)
			if !want[d.Topic] {
				t.Fatalf("unexpected reset %s (still waiting for %v)", ev.Data, want)
			}
			if room := strings.TrimPrefix(d.Topic, "room:"); d.Room != ev.Room || (room == d.Topic) != (d.Room == "") {
				t.Fatalf("reset of %s names room %q (envelope %q)", d.Topic, d.Room, ev.Room)
			}
			delete(want, d.Topic)
		}
	})
}

// A stream whose token expires ends at exp with a signal the client can tell apart.
func TestTokenExpiryEndsStreams(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		short := e.tokenFor("alice", 2*time.Second)
		stream := e.dialSSE(short, "")
		ws := e.dialWS(short, "")
		rest := stream.ended(t)
		if len(rest) == 0 || rest[len(rest)-1].Type != "token_expired" {
			t.Fatalf("SSE ended without token_expired: %+v", rest)
		}
		// Its ts is when it happened, at the token's expiry, not when the stream connected.
		final := rest[len(rest)-1]
		var d struct {
			ExpiredAt string `json:"expired_at"`
		}
		decode(t, final.Data, &d)
		if final.TS < d.ExpiredAt {
			t.Fatalf("token_expired has ts %s, before the token expired at %s", final.TS, d.ExpiredAt)
		}
		if code, _ := ws.closeStatus(t); code != realtime.CloseTokenExpired {
			t.Fatalf("WebSocket closed with %d, want %d", code, realtime.CloseTokenExpired)
		}
	})
}

// A long-poll waiting when its token expires answers then, with what it had: nothing published
// after the expiry reaches it, and the next request is refused 401 token_expired.
func TestLongPollInFlightEndsAtTokenExpiry(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.PollTimeout = time.Minute }))
	exp := time.Now().Add(2 * time.Second) // the token's exp is this, in whole seconds: no later
	short := e.tokenFor("alice", 2*time.Second)
	p := e.dialPoll(short, "rooms=general")
	connectedOf(t, p)
	nextOf(t, p, "room_info") // her own arrival; nothing else happens before the expiry
	got := make(chan []envelope, 1)
	go func() { got <- p.poll(t) }()
	waitUntil(t, "the token to expire", func() bool { return time.Now().After(exp) })
	e.post(e.token("bob", "Bob"), "general", "after the token expired")
	select {
	case evs := <-got: // nothing happened before the expiry
		if len(evs) > 0 {
			t.Fatalf("a long-poll delivered %s %s after its token expired", evs[0].Type, evs[0].Data)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the long-poll waited on past its token's expiry")
	}
	if status, out := e.do("GET", "/poll?connection_id="+p.id+"&cursor="+p.cursor, short, nil); status != http.StatusUnauthorized || !strings.Contains(string(out), "token_expired") {
		t.Fatalf("the next poll: %d %s", status, out)
	}
}

// Streams end after their maximum age; resuming is seamless.
func TestMaxAgeEndsStreamsAndResumeIsSeamless(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind, withHub(func(h *realtime.Config) { h.MaxStreamAge = 300 * time.Millisecond }))
		alice := e.token("alice", "Alice")
		ws := e.dialWS(alice, "rooms=general")
		stream := e.dialSSE(alice, "rooms=general")
		e.post(alice, "general", "before")
		cursor := nextOf(t, stream, "chat_message").ID
		stream.ended(t)
		if code, reason := ws.closeStatus(t); code != websocket.StatusGoingAway || !strings.Contains(reason, "age") {
			t.Fatalf("WebSocket closed with %d %q", code, reason)
		}
		e.post(alice, "general", "between")
		resumed := e.dialSSE(alice, "", "Last-Event-ID", cursor)
		if m := nextOf(t, resumed, "chat_message").message(t); m.Content != "between" {
			t.Fatalf("after resuming got %+v", m)
		}
	})
}

// A long-poll connection that is not polled expires; polling again with its id and cursor
// resumes it, with the same id, and nothing is lost.
func TestUnpolledConnectionExpiresAndResumes(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind, withHub(func(h *realtime.Config) { h.PollLinger = 100 * time.Millisecond }))
		alice := e.token("alice", "Alice")
		p := e.dialPoll(alice, "rooms=general&timeout=1")
		first := connectedOf(t, p)
		waitUntil(t, "the unpolled connection expiring", func() bool { _, ok := e.hub.Conn(first.ConnectionID); return !ok })
		e.post(alice, "general", "while expired")
		again := connectedOf(t, p)
		if again.ConnectionID != first.ConnectionID || !again.Resumed {
			t.Fatalf("resumed as %+v, was %+v", again, first)
		}
		if m := nextOf(t, p, "chat_message").message(t); m.Content != "while expired" {
			t.Fatalf("got %+v", m)
		}
	})
}

// GET /ws?last_event_id= resumes like SSE.
func TestWebSocketResumes(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		ws := e.dialWS(alice, "rooms=general")
		e.post(alice, "general", "one")
		cursor := nextOf(t, ws, "chat_message").ID
		ws.ws.CloseNow()
		e.post(alice, "general", "two")
		e.post(alice, "general", "three")
		resumed := e.dialWS(alice, "last_event_id="+cursor)
		if !resumed.conn.Resumed || fmt.Sprint(resumed.conn.Rooms) != "[general]" { // restored from the cursor
			t.Fatalf("connected %+v", resumed.conn)
		}
		for _, want := range []string{"two", "three"} {
			if m := nextOf(t, resumed, "chat_message").message(t); m.Content != want {
				t.Fatalf("got %q, want %q", m.Content, want)
			}
		}
		resumed.send(t, map[string]string{"type": "leave_room", "room": "general"})
		if ev := nextOf(t, resumed, "room_left", "fault"); ev.Type != "room_left" {
			t.Fatalf("the resumed socket is not in the room: %+v", ev)
		}
	})
}

// With the prelude on, a stream starts with 2 KiB of comment for proxies that hold the first bytes.
func TestSSEPrelude(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.SSE.Prelude = true }))
	res, err := http.Get(e.url + "/events?access_token=" + e.token("alice", "Alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	head := make([]byte, 2100)
	if _, err := io.ReadFull(res.Body, head); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(head), ": "+strings.Repeat(" ", 2048)+"\n\n") {
		t.Fatalf("no 2 KiB prelude in %q…", head[:40])
	}
}

// REST actions name a long-poll connection like any other: joining one subscribes it.
func TestRESTJoinWorksForLongPollConnections(t *testing.T) {
	forEachDB(t, func(t *testing.T, kind db.Kind) {
		e := newEnv(t, kind)
		alice := e.token("alice", "Alice")
		p := e.dialPoll(alice, "timeout=5")
		id := connectedOf(t, p).ConnectionID
		e.mustDo(http.StatusOK, "POST", "/api/rooms/lobby/join", alice, map[string]string{"connection_id": id})
		if ev := p.next(t); ev.Type != "room_joined" || ev.Room != "lobby" {
			t.Fatalf("got %+v", ev)
		}
		e.post(alice, "lobby", "hello poller")
		if m := nextOf(t, p, "chat_message").message(t); m.Content != "hello poller" {
			t.Fatalf("got %+v", m)
		}
		e.mustDo(http.StatusNoContent, "POST", "/api/rooms/lobby/typing", alice, map[string]any{"typing": true, "connection_id": id})
	})
}

// A client ends its own long-poll connection at once, instead of leaving it to expire; it may
// not end another user's.
func TestClientClosesItsLongPollConnection(t *testing.T) {
	e := newEnv(t, db.SQLite)
	alice := e.token("alice", "Alice")
	p := e.dialPoll(alice, "rooms=general&timeout=1")
	id := connectedOf(t, p).ConnectionID
	if status, _ := e.do("DELETE", "/api/connections/"+id, e.token("bob", "Bob"), nil); status != http.StatusForbidden {
		t.Fatalf("bob closed alice's connection: %d", status)
	}
	e.mustDo(http.StatusNoContent, "DELETE", "/api/connections/"+id, alice, nil)
	if _, ok := e.hub.Conn(id); ok {
		t.Fatal("the connection is still live")
	}
	if status, _ := e.do("DELETE", "/api/connections/"+id, alice, nil); status != http.StatusNotFound {
		t.Fatalf("closing it again: %d", status)
	}
}

// The web app's files answer HEAD as well as GET.
func TestWebAppAnswersHead(t *testing.T) {
	e := newEnv(t, db.SQLite, withAPI(func(a *api.Config) { a.Web = web.FS() }))
	for _, path := range []string{"/", "/switchboard.js"} {
		if res := rawRequest(t, e, "HEAD", path, "", ""); res.StatusCode != http.StatusOK {
			t.Fatalf("HEAD %s: %d", path, res.StatusCode)
		}
	}
	if res := rawRequest(t, e, "HEAD", "/nothing-here.js", "", ""); res.StatusCode != http.StatusNotFound {
		t.Fatalf("HEAD of a missing file: %d", res.StatusCode)
	}
}

// A WebSocket client that stops reading is cut off as an SSE one is, and the others get
// everything meanwhile (with -cpu=1 there is one shared writer: a write that waited on the
// stalled socket would hold it).
func TestStalledWebSocketReaderIsDisconnected(t *testing.T) {
	e := newEnv(t, db.SQLite, smallSendBuffers, withHub(func(h *realtime.Config) { h.QueueSize = 32 }))
	alice := e.token("alice", "Alice")
	stalled := openStalledWS(t, e, e.token("sleepy", "Sleepy"), "rooms=flood")
	reader := e.dialSSE(e.token("r1", "R1"), "rooms=flood")

	const n = 300
	content := strings.Repeat("é", 996) // 2 KB per message
	for i := range n {
		e.post(alice, "flood", fmt.Sprintf("%04d%s", i, content))
	}
	for i := range n {
		if m := nextOf(t, reader, "chat_message").message(t); !strings.HasPrefix(m.Content, fmt.Sprintf("%04d", i)) {
			t.Fatalf("message %d is %.4s", i, m.Content)
		}
	}
	expectClosedByServer(t, stalled)
}

// TestStalledReaderInAQuietRoomIsDisconnected: a client that stops reading once a few
// messages have filled its socket — too few to overflow its queue — is cut off by the write
// timeout, on SSE and on WebSocket, although nothing more is posted and no heartbeat is due;
// its socket is reset, so that the kernel holds nothing more for it.
func TestStalledReaderInAQuietRoomIsDisconnected(t *testing.T) {
	open := map[string]func(e *env, token string) net.Conn{
		"sse": func(e *env, token string) net.Conn {
			conn, _ := openStalledStream(t, e, token, "rooms=quiet")
			return conn
		},
		"ws": func(e *env, token string) net.Conn { return openStalledWS(t, e, token, "rooms=quiet") },
	}
	for name, open := range open {
		t.Run(name, func(t *testing.T) {
			// Longer than posting takes, so that no post follows the timed-out write: the
			// stream must end on the failure itself.
			const timeout = time.Second
			e := newEnv(t, db.SQLite, smallSendBuffers, withAPI(func(c *api.Config) {
				c.WriteTimeout = timeout
			}))
			alice := e.token("alice", "Alice")
			stalled := open(e, e.token("sleepy", "Sleepy"))
			content := strings.Repeat("é", 996) // 2 KB per message: 400 KB, far more than the sockets hold
			for i := range 200 {
				e.post(alice, "quiet", fmt.Sprintf("%04d%s", i, content))
			}
			waitUntil(t, "the server ending the stalled stream", func() bool {
				return !slices.ContainsFunc(e.hub.Conns(), func(c *realtime.Conn) bool { return c.User().ID == "sleepy" })
			})
			// Reset, not closed in order: the kernel drops what the client never read.
			stalled.SetReadDeadline(time.Now().Add(wait))
			if _, err := io.Copy(io.Discard, stalled); !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("reading the stalled stream to its end: %v, want a reset", err)
			}
		})
	}
}

// expectClosedByServer fails unless the server has closed the stalled socket: reading it ends,
// rather than blocking. The server resets a stalled socket (the unread rest is dropped, so the
// end arrives at once, not after the kernel's zero-window probes back off), but a socket that
// had taken everything is closed in order, so either end will do.
func expectClosedByServer(t *testing.T, stalled net.Conn) {
	t.Helper()
	stalled.SetReadDeadline(time.Now().Add(wait))
	if _, err := io.Copy(io.Discard, stalled); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the stalled stream was not closed by the server: %v", err)
	}
}

// dialTinyReceiveBuffer connects to the server with a 1 KiB receive buffer, set before
// connecting, so that a client that stops reading soon fills it.
func dialTinyReceiveBuffer(t *testing.T, e *env) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024) })
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// openStalledWS upgrades a socket with a tiny receive buffer to a WebSocket, reads the 101,
// and then never reads again.
func openStalledWS(t *testing.T, e *env, token, query string) net.Conn {
	t.Helper()
	conn := dialTinyReceiveBuffer(t, e)
	fmt.Fprintf(conn, "GET /ws?%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer %s\r\n\r\n",
		query, strings.TrimPrefix(e.url, "http://"), token)
	r := bufio.NewReaderSize(conn, 16)
	conn.SetReadDeadline(time.Now().Add(wait))
	status, err := r.ReadString('\n')
	if err != nil || !strings.Contains(status, "101") {
		t.Fatalf("upgrade: %q, %v", status, err)
	}
	for { // the rest of the head; frames follow, and are never read
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the upgrade head: %v", err)
		}
		if line == "\r\n" {
			return conn
		}
	}
}
