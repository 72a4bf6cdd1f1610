package web_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"switchboard/realtime"
)

// How the client picks and changes transports: a refused token is not a blocked transport,
// the cursor survives a change of transport, and a connection that died silently is replaced
// as soon as the page learns the network or the page came back.

// A token the server refuses at the handshake although it has not expired (here the server
// restarts with a new signing key) is not taken for a blocked transport: with WebSocket and
// SSE only, the client learns the 401 with a plain GET of /ws, asks once for a new token and
// stops, without falling back to SSE or remembering a transport. With the new token it
// reconnects over WebSocket from its cursor.
func TestRefusedTokenAsksForANewOne(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice := newPage(t, newBrowser(t), "Alice", 390, 844)
	alice.signIn(s.base()+"/?transports=ws,sse", "Alice")
	alice.until("the page uses WebSocket", `document.querySelector('#conn').dataset.transport === 'ws'`)
	alice.do("counting requests for a token", chromedp.Evaluate[chromedp.Void](
		`window.authRequired = 0; switchboard.on('auth_required', () => authRequired++)`))

	s.stop()
	s.cfg.Auth.Secret = []byte("a-rotated-secret-a-rotated-secret-!!")
	s.start()
	alice.until("the page asks for a new token", `authRequired > 0 && switchboard.state === 'closed' &&
		!document.querySelector('#signin').hidden && document.querySelector('#signin-note').textContent.startsWith('Your session has ended')`)
	// A REST call refused with the same token does not ask again.
	status := eval[int](alice, `switchboard.request('GET', '/api/me').then(() => 200, (e) => e.status)`, chromedp.EvalAwaitPromise)
	if n := eval[int](alice, `authRequired`); n != 1 || status != 401 {
		t.Fatalf("after the stream and a REST call were refused: auth_required emitted %d times (want 1), REST status %d", n, status)
	}
	s.post("Bob", "general", "Posted while Alice was signed out")

	alice.do("signing in again",
		chromedp.SetValue(chromedp.ID("demo-name"), "Alice"),
		chromedp.Click(chromedp.CSS("#demo-form button")),
	)
	alice.until("the page resumes over WebSocket", `document.querySelector('#conn').dataset.state === 'open' &&
		switchboard.transport === 'ws' && `+allOnce("Posted while Alice was signed out"))
	alice.say("Back with a new token")
	alice.until("the page is live", delivered("Back with a new token"))
	if n := eval[int](alice, `authRequired`); n != 1 {
		t.Errorf("auth_required emitted %d times, want 1", n)
	}
	// Since the restart: the refused handshake, whose status a plain GET of /ws told, and the
	// one with the new token; never SSE.
	if ws, check, sse := s.requests("/ws"), s.requests("check /ws"), s.requests("/events"); ws != 2 || check != 1 || sse != 0 {
		t.Errorf("%d WebSocket handshakes, %d status checks and %d SSE handshakes since the key changed, want 2, 1 and 0", ws, check, sse)
	}
	if v := eval[bool](alice, `localStorage.getItem('switchboard.transport') === null`); !v {
		t.Errorf("a fallback was remembered for a refused token")
	}
	shoot(t, "token-refused", alice)
}

// The cursor survives a change of transport: the server restarts without WebSocket while the
// pages are on it; they resume over SSE from their cursors, so a message stored before their
// new connections exist arrives, and every message arrives once.
func TestCursorKeptAcrossTransportSwitch(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := twoUsers(t, s.base(), "?connect_timeout=3000")
	for _, p := range []*page{alice, bob} {
		p.until("the page uses WebSocket with two online", `document.querySelector('#conn').dataset.transport === 'ws' &&
			document.querySelector('#online-count').textContent === '2'`)
	}
	alice.say("Before the restart")
	bob.until("Bob gets it", allOnce("Before the restart"))

	s.stop()
	for _, p := range []*page{alice, bob} {
		p.until("the page sees the outage", `document.querySelector('#conn').dataset.state !== 'open'`)
	}
	alice.say("Written offline by Alice")
	// Hold both pages' SSE handshakes until Carol's message is stored: they connect from
	// before it, so only their cursors can bring it.
	arrived, release := make(chan struct{}, 2), make(chan struct{})
	s.onRequest = func(r *http.Request) {
		if r.URL.Path != "/events" {
			return
		}
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-release
	}
	s.cfg.DisableWebSocket = true
	s.start()
	for range 2 {
		select {
		case <-arrived:
		case <-time.After(wait):
			close(release)
			t.Fatalf("the pages did not try SSE: %d WebSocket, %d SSE requests", s.requests("/ws"), s.requests("/events"))
		}
	}
	s.post("Carol", "general", "Posted by Carol before the pages are back")
	close(release)

	for _, p := range []*page{alice, bob} {
		p.until("the page is live over SSE", `document.querySelector('#conn').dataset.state === 'open' &&
			document.querySelector('#conn').dataset.transport === 'sse'`)
	}
	bob.say("Back over SSE")
	written := []string{"Before the restart", "Written offline by Alice", "Posted by Carol before the pages are back", "Back over SSE"}
	for _, p := range []*page{alice, bob} {
		p.until("every message arrives", allOnce(written...))
	}
	alice.until("Alice's offline message is delivered", delivered("Written offline by Alice"))
	alice.say("Last one")
	for _, p := range []*page{alice, bob} {
		p.until("the last message arrives", allOnce("Last one"))
		if !eval[bool](p, allOnce(written...)) {
			t.Fatalf("%s: a message is missing or doubled: %s", p.name, p.state())
		}
		if !eval[bool](p, `(ids => new Set(ids).size === ids.length)([...document.querySelectorAll('#messages li[data-id]')].map(li => li.dataset.id))`) {
			t.Fatalf("%s: a message id is shown twice: %s", p.name, p.state())
		}
	}
	shoot(t, "ws-to-sse", alice, bob)
}

// A WebSocket that died silently (a mobile network dropped it in the background; neither end
// noticed) is replaced at once when the network comes back (online) or the page is shown
// (visibilitychange: a ping goes unanswered), not at the next heartbeat, here minutes away.
// What was posted meanwhile arrives.
func TestWakeReplacesASilentlyDeadConnection(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	s.hcfg = func(c *realtime.Config) { c.Heartbeat = 5 * time.Minute } // the watchdog stays quiet
	s.start()
	proxy := newFaultProxy(t, s)
	alice := newPage(t, newBrowser(t), "Alice", 390, 844)
	alice.signIn(proxy.url+"/?connect_timeout=2000", "Alice")
	alice.until("the page uses WebSocket and is shown", `switchboard.transport === 'ws' && document.visibilityState === 'visible'`)

	for _, wake := range []struct{ event, dispatch string }{
		{"online", `dispatchEvent(new Event('online'))`},
		{"visibilitychange", `document.dispatchEvent(new Event('visibilitychange'))`},
	} {
		id := eval[string](alice, `switchboard.connectionId`)
		if n := proxy.blackhole("/ws"); n != 1 {
			t.Fatalf("black-holed %d WebSocket connections, want 1", n)
		}
		text := "Posted while the connection was dead (" + wake.event + ")"
		s.post("Bob", "general", text)
		alice.do("dispatching "+wake.event, chromedp.Evaluate[chromedp.Void](wake.dispatch))
		alice.until("after "+wake.event+", a new connection replaces the dead one and brings the message", fmt.Sprintf(
			`switchboard.state === 'open' && switchboard.transport === 'ws' && switchboard.connectionId !== %s && %s`, js(id), allOnce(text)))
	}
	alice.say("Still here")
	alice.until("the page is live", delivered("Still here"))
}
