package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"switchboard/api"
	"switchboard/api/apitest"
)

// The app in the browser. Each starts a server and a headless Chromium, signs in two
// users in separate browser contexts (Alice on a phone-sized viewport, Bob on a desktop one)
// and waits on what the pages show. Scenario 2 (notifications, from the admin view) and the
// announcement banner are in notify_test.go; editing, deleting and signing out in actions_test.go.

// Scenario 1: two users chat in real time; typing and the online count reach the other page.
func TestChatInRealTime(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := twoUsers(t, s.base(), "")
	converse(t, alice, bob, "ws")
	shoot(t, "1-chat", alice, bob)
}

// Scenario 3: WebSocket upgrades are refused; the client falls back to SSE.
func TestFallbackToSSEWhenWebSocketIsRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *api.Config) { c.DisableWebSocket = true })
	alice, bob := twoUsers(t, s.base(), "?connect_timeout=3000")
	converse(t, alice, bob, "sse")
	shoot(t, "3-fallback-sse", alice, bob)
}

// Scenario 4: a proxy refuses upgrades and buffers responses until they end, so no event
// stream gets through; the client falls back to long-poll and remembers that it works.
func TestFallbackToLongPollBehindBufferingProxy(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	proxy := apitest.BufferingProxy(t, s.base())
	alice, bob := twoUsers(t, proxy, "?connect_timeout=1500")
	converse(t, alice, bob, "poll")
	shoot(t, "4-fallback-poll", alice, bob)

	alice.do("reloading", chromedp.Reload())
	alice.until("the reloaded page goes straight to long-poll",
		`document.querySelector('#conn').dataset.state === 'open' && document.querySelector('#conn').dataset.transport === 'poll'`)
	if got := eval[string](alice, `JSON.parse(localStorage.getItem('switchboard.transport')).t`); got != "poll" {
		t.Fatalf("remembered transport %q, want poll", got)
	}
}

// Scenario 5: the server restarts mid-conversation. The pages reconnect by themselves, and
// the messages written during the outage, and one posted before the pages are back, appear
// once each.
func TestServerRestartMidConversation(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := twoUsers(t, s.base(), "")
	converse(t, alice, bob, "ws")

	s.stop()
	for _, p := range []*page{alice, bob} {
		p.until("the page sees the outage", `document.querySelector('#conn').dataset.state !== 'open'`)
	}
	alice.say("Written offline by Alice")
	bob.say("Written offline by Bob")
	alice.until("Alice's message waits", fmt.Sprintf(`%s.some(li => li.dataset.status === 'sending')`, msgs("Written offline by Alice")))

	s.start()
	s.post("Carol", "general", "Posted by Carol after the restart")
	for _, p := range []*page{alice, bob} {
		p.until("the page is live again", `document.querySelector('#conn').dataset.state === 'open'`)
	}
	bob.say("Back online")
	written := []string{"Written offline by Alice", "Written offline by Bob", "Posted by Carol after the restart", "Back online"}
	for _, p := range []*page{alice, bob} {
		p.until("every message arrives", allOnce(written...))
	}
	alice.until("Alice's offline message is delivered", delivered("Written offline by Alice"))
	bob.until("Bob's offline message is delivered", delivered("Written offline by Bob"))
	// A last message: whatever could arrive twice would have arrived before it.
	alice.say("Last one")
	for _, p := range []*page{alice, bob} {
		p.until("the last message arrives", allOnce("Last one"))
		if !eval[bool](p, allOnce(append(written, "Hello Alice!", "Hi Bob")...)) {
			t.Fatalf("%s: a message is missing or doubled: %s", p.name, p.state())
		}
		if !eval[bool](p, `(ids => new Set(ids).size === ids.length)([...document.querySelectorAll('#messages li[data-id]')].map(li => li.dataset.id))`) {
			t.Fatalf("%s: a message id is shown twice: %s", p.name, p.state())
		}
	}
	shoot(t, "5-server-restart", alice, bob)
}

// twoUsers opens Alice's and Bob's pages at base+query and signs them in.
func twoUsers(t *testing.T, base, query string) (alice, bob *page) {
	t.Helper()
	b := newBrowser(t)
	alice = newPage(t, b, "Alice", 390, 844)
	bob = newPage(t, b, "Bob", 1024, 768)
	alice.signIn(base+"/"+query, "Alice")
	bob.signIn(base+"/"+query, "Bob")
	return alice, bob
}

// signIn signs in with the demo form and waits until the page is live and its room's latest
// page is shown (the room's start note, which moves its messages, shows then).
func (p *page) signIn(url, name string) {
	p.t.Helper()
	p.do("signing in",
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("demo-name")),
		chromedp.SendKeys(chromedp.ID("demo-name"), name),
		chromedp.Click(chromedp.CSS("#demo-form button")),
		chromedp.WaitVisible(chromedp.ID("message-input")),
	)
	p.until("the page is live, its room shown", `document.querySelector('#conn').dataset.state === 'open' &&
		!document.querySelector('#messages[aria-busy]')`)
}

// say types a message into the composer and sends it.
func (p *page) say(text string) {
	p.t.Helper()
	p.do("saying "+text,
		chromedp.SendKeys(chromedp.ID("message-input"), text),
		chromedp.Click(chromedp.ID("send")),
	)
}

// converse is scenario 1 between two signed-in pages, over the transport both must be using.
func converse(t *testing.T, alice, bob *page, transport string) {
	t.Helper()
	for _, p := range []*page{alice, bob} {
		p.until("the page uses "+transport, fmt.Sprintf(`document.querySelector('#conn').dataset.transport === %s`, js(transport)))
		p.until("two people are online", `document.querySelector('#online-count').textContent === '2'`)
	}
	alice.until("Bob is in Alice's online list", `document.querySelector('#online-list [data-user=bob][data-status=online]') !== null`)

	bob.do("typing", chromedp.SendKeys(chromedp.ID("message-input"), "Hello Al"))
	alice.until("Alice sees Bob typing", `document.querySelector('#typing').textContent === 'Bob is typing…'`)
	bob.do("finishing and sending", chromedp.SendKeys(chromedp.ID("message-input"), "ice!"), chromedp.Click(chromedp.ID("send")))
	alice.until("Alice gets Bob's message", allOnce("Hello Alice!"))
	alice.until("the typing indicator clears", `document.querySelector('#typing').textContent === ''`)
	bob.until("Bob's message is delivered", delivered("Hello Alice!"))

	alice.say("Hi Bob")
	bob.until("Bob gets Alice's reply", allOnce("Hi Bob"))
	alice.until("Alice's reply is delivered", delivered("Hi Bob"))

	bob.do("setting his status", chromedp.Evaluate[chromedp.Void](
		`(s => { s.value = 'away'; s.dispatchEvent(new Event('change')) })(document.querySelector('#my-status'))`))
	alice.until("Alice sees Bob away", `document.querySelector('#online-list [data-user=bob][data-status=away]') !== null`)
}

// msgs is a JavaScript expression: the message elements whose text is text.
func msgs(text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#messages .msg')].filter(li => li.querySelector('.text').textContent === %s)`, js(text))
}

// allOnce is a JavaScript expression: each text is shown exactly once.
func allOnce(texts ...string) string {
	s := "true"
	for _, text := range texts {
		s += fmt.Sprintf(" && %s.length === 1", msgs(text))
	}
	return s
}

// delivered is a JavaScript expression: your message with this text came back on the stream.
func delivered(text string) string {
	return fmt.Sprintf(`%s.some(li => li.classList.contains('mine') && li.dataset.status === 'delivered')`, msgs(text))
}

// shoot saves a screenshot of each page for the scenario.
func shoot(t *testing.T, scenario string, pages ...*page) {
	t.Helper()
	for _, p := range pages {
		if path := p.screenshot(scenario + "-" + p.name); path != "" {
			t.Logf("screenshot: %s", path)
		}
	}
}

// A user removed by an administrator is not reconnected by the client. The page says why, in
// the server's words; the composer is disabled and who is online greyed out (it is not known
// any more) until the user reconnects by hand. A kick that blocks the user for a while makes
// that reconnection fail, and the page says that too.
func TestKickedClientStaysDisconnected(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice := newPage(t, newBrowser(t), "Alice", 390, 844)
	alice.signIn(s.base()+"/", "Alice")
	alice.do("showing who is online", chromedp.Evaluate[chromedp.Void](`document.querySelector('#online-panel').open = true`))
	// The colour is read in the same evaluation that finds the dot: the list is re-rendered
	// as presence arrives, and CI once read it between two renders.
	alice.until("Alice is online, live", `(dot => dot !== null && document.querySelector('#online-panel').dataset.stale === 'false' &&
		(window.liveDotColour = getComputedStyle(dot).backgroundColor) !== '')(document.querySelector('#online-list [data-user=alice] .status-dot'))`)
	live := eval[string](alice, `window.liveDotColour`)

	if n := s.hub.Kick("alice", "testing kicks"); n != 1 {
		t.Fatalf("kicked %d connections, want 1", n)
	}
	alice.until("the page shows the kick and its reason", `document.querySelector('#conn').dataset.state === 'closed' &&
		document.querySelector('#conn-text').textContent === 'Disconnected by an administrator' &&
		document.querySelector('#conn-reason').textContent === 'An administrator disconnected you: “testing kicks”' &&
		document.querySelector('#conn-banner').checkVisibility() && document.querySelector('#conn-retry').checkVisibility() &&
		switchboard.state === 'closed'`)
	alice.until("the composer is disabled and presence greyed", `document.querySelector('#message-input').disabled &&
		document.querySelector('#send').disabled && document.querySelector('#online-panel').dataset.stale === 'true'`)
	if grey := eval[string](alice, `getComputedStyle(document.querySelector('#online-list [data-user=alice] .status-dot')).backgroundColor`); grey == live {
		t.Fatalf("the status dot keeps its colour %s while disconnected", live)
	}
	if n := len(s.hub.UserConns("alice")); n != 0 {
		t.Fatalf("alice has %d live connections after the kick, want 0", n)
	}
	fits(t, alice, "disconnected")
	clickable(t, alice, "#conn-retry")
	shoot(t, "kicked", alice)

	alice.do("reconnecting by hand", chromedp.Click(chromedp.ID("conn-retry")))
	alice.until("the page is live again, and usable", `document.querySelector('#conn').dataset.state === 'open' &&
		!document.querySelector('#conn-banner').checkVisibility() && !document.querySelector('#message-input').disabled &&
		!document.querySelector('#send').disabled && document.querySelector('#online-panel').dataset.stale === 'false'`)
	alice.say("Back after the kick")
	alice.until("a message gets through", delivered("Back after the kick"))

	// An administrator's kick keeps the user out for a while: Reconnect is refused, and says so.
	s.call(s.adminToken("Ops"), "DELETE", "/api/admin/users/alice/connections", map[string]any{"reason": "Cooling off", "block_seconds": 60}, http.StatusOK)
	alice.until("the page shows the reason", `document.querySelector('#conn-reason').textContent === 'An administrator disconnected you: “Cooling off”'`)
	alice.do("trying to reconnect", chromedp.Click(chromedp.ID("conn-retry")))
	alice.until("the page says the server refused", `document.querySelector('#conn').dataset.state === 'closed' &&
		document.querySelector('#conn-reason').textContent.startsWith('The server refused the connection: an administrator removed you') &&
		document.querySelector('#message-input').disabled && document.querySelector('#conn-retry').checkVisibility()`)
	shoot(t, "kicked-refused", alice)
}

// When the token expires the server ends the stream; the page asks for a new token, and with
// it resumes from its cursor: what was posted meanwhile arrives.
func TestExpiredTokenAsksForANewOneAndResumes(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice := newPage(t, newBrowser(t), "Alice", 390, 844)
	alice.do("opening the page", chromedp.Navigate(s.base()+"/"), chromedp.WaitVisible(chromedp.ID("token-input")))
	alice.do("signing in with a short-lived token",
		chromedp.SetValue(chromedp.ID("token-input"), s.token("Alice", 4*time.Second)),
		chromedp.Click(chromedp.CSS("#token-form button")),
	)
	alice.until("the page is live", `document.querySelector('#conn').dataset.state === 'open'`)
	alice.until("the page asks for a new token", `!document.querySelector('#signin').hidden &&
		document.querySelector('#signin-note').textContent.startsWith('Your session has ended') && switchboard.state === 'closed'`)
	s.post("Bob", "general", "Posted while Alice was signed out")

	alice.do("pasting a new token",
		chromedp.SetValue(chromedp.ID("token-input"), s.token("Alice", time.Hour)),
		chromedp.Click(chromedp.CSS("#token-form button")),
	)
	alice.until("the page resumes", `document.querySelector('#conn').dataset.state === 'open' && `+allOnce("Posted while Alice was signed out"))
	shoot(t, "token-renewed", alice)
}

// History loads a page at a time as the view scrolls up, and the room list counts what you
// have not read, live.
func TestHistoryOnScrollAndUnreadCounts(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	history := s.postHistory("general", 45)
	s.post("Alice", "random", "Alice was here") // Alice becomes a member of random
	s.post("Bob", "random", "Unread one")
	s.post("Carol", "random", "Unread two")

	alice := newPage(t, newBrowser(t), "Alice", 1024, 768)
	alice.signIn(s.base()+"/", "Alice")
	alice.until("the latest page is shown", `document.querySelectorAll('#messages .msg').length === 30 &&
		!document.querySelector('#load-older').hidden && `+allOnce(history[15:]...))
	alice.until("random has two unread", `document.querySelector('[data-room=random] .unread')?.textContent === '2'`)

	alice.do("scrolling up", chromedp.Evaluate[chromedp.Void](`document.querySelector('#messages-box').scrollTop = 0`))
	alice.until("the older page is shown, in order", fmt.Sprintf(`document.querySelector('#load-older').hidden &&
		[...document.querySelectorAll('#messages .msg .text')].map(e => e.textContent).join() === %s`, js(strings.Join(history, ","))))

	alice.do("opening random", chromedp.Click(chromedp.CSS(`[data-room=random]`)))
	alice.until("random is shown and read", allOnce("Unread one", "Unread two")+
		` && document.querySelector('#room-title').textContent === '#random' && !document.querySelector('[data-room=random] .unread')`)
	s.post("Bob", "general", "While Alice was in random")
	alice.until("general counts it", `document.querySelector('[data-room=general] .unread')?.textContent === '1'`)

	alice.do("creating a room", chromedp.SendKeys(chromedp.ID("room-name"), "Side Talk"), chromedp.Click(chromedp.CSS("#room-form button")))
	alice.until("the new room is open", `document.querySelector('#room-title').textContent === '#Side Talk' &&
		document.querySelector('[data-room=side-talk][aria-current=true]') !== null && document.querySelector('#online-count').textContent === '1'`)
	alice.say("First in the side room")
	alice.until("the message is delivered", delivered("First in the side room"))
	shoot(t, "history-unread", alice)
}
