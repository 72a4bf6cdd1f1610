package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The app reloads a room's latest page when the room opens and when the stream reports a gap.
// These tests hold a reload's answer on the server, or cut the stream with a cursor the server
// will refuse, and check what the page ends up showing.

// A latest page that answers late — after Alice left the room, came back (a second reload) and
// scrolled up to its older messages — is dropped: it must not replace what was shown since.
func TestLateLatestPageReplacesNothingNewer(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	var armed atomic.Bool
	held, release := make(chan struct{}, 1), make(chan struct{})
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free) // the server's shutdown waits for the held request
	s.onRequest = func(r *http.Request) {
		if r.Method == "GET" && r.URL.Path == "/api/rooms/general/messages" &&
			r.URL.Query().Get("before") == "" && armed.CompareAndSwap(true, false) {
			held <- struct{}{}
			<-release
		}
	}
	s.start()
	history := s.postHistory("general", 45)
	s.post("Alice", "random", "Alice was here")

	alice := newPage(t, newBrowser(t), "Alice", 1024, 768)
	alice.signIn(s.base()+"/", "Alice")
	latest := `document.querySelector('#room-title').textContent === '#general' &&
		document.querySelectorAll('#messages .msg').length === 30 && ` + allOnce(history[15:]...)
	alice.until("general's latest page is shown", latest)
	inRandom := `document.querySelector('#room-title').textContent === '#random' && ` + allOnce("Alice was here")

	armed.Store(true)
	alice.do("opening random", chromedp.Click(chromedp.CSS(`[data-room=random]`)))
	alice.until("random is shown", inRandom)
	alice.do("back to general", chromedp.Click(chromedp.CSS(`[data-room=general]`)))
	select {
	case <-held:
	case <-time.After(wait):
		t.Fatal("general's latest page was never asked for")
	}
	alice.do("random again", chromedp.Click(chromedp.CSS(`[data-room=random]`)))
	alice.until("random is shown", inRandom)
	alice.do("general again", chromedp.Click(chromedp.CSS(`[data-room=general]`)))
	alice.until("general's latest page is shown (the second reload)", latest)
	alice.do("scrolling up", chromedp.Evaluate[chromedp.Void](`document.querySelector('#messages-box').scrollTop = 0`))
	whole := fmt.Sprintf(`document.querySelector('#load-older').hidden &&
		[...document.querySelectorAll('#messages .msg .text')].map(e => e.textContent).join() === %s`, js(strings.Join(history, ",")))
	alice.until("the older page is shown, in order", whole)

	read := eval[int](alice, generalLatestReads) // all but the held one, which has not answered
	free()
	alice.until("the late page has arrived", fmt.Sprintf(`%s === %d`, generalLatestReads, read+1))
	if !afterASecond[bool](alice, whole) {
		t.Fatalf("the late page replaced the view: %s", alice.state())
	}
}

// A cursor the server refuses means the stream cannot say what it missed: the open room is
// reloaded, so a message posted while the stream was silent (black-holed by a proxy) is shown
// all the same.
func TestRefusedCursorReloadsTheOpenRoom(t *testing.T) {
	t.Parallel()
	s, proxy := resilient(t)
	s.post("Bob", "general", "Before")
	alice := newPage(t, newBrowser(t), "Alice", 1024, 768)
	alice.signIn(proxy.url+"/", "Alice")
	alice.until("the room is shown", allOnce("Before"))
	missed := reconnectWithRefusedCursor(t, s, proxy, alice)
	alice.until("the room is reloaded", allOnce("Before", missed))
}

// A reload keeps the messages it still shows as they are: the one Alice is editing keeps its
// form, what she typed there and the focus.
func TestReloadKeepsTheMessageBeingEdited(t *testing.T) {
	t.Parallel()
	s, proxy := resilient(t)
	alice := newPage(t, newBrowser(t), "Alice", 1024, 768)
	alice.signIn(proxy.url+"/", "Alice")
	alice.say("Typo hre")
	alice.until("the message is delivered", delivered("Typo hre"))
	msg := fmt.Sprintf(`#messages li[data-id=%q]`, eval[string](alice, msgs("Typo hre")+`[0].dataset.id`))
	input := msg + ` .edit-form input`
	alice.do("editing it",
		chromedp.Click(chromedp.CSS(msg+` [data-act=edit]`)),
		chromedp.WaitVisible(chromedp.CSS(input)),
		chromedp.SetValue(chromedp.CSS(input), "Typo here, half"),
	)

	missed := reconnectWithRefusedCursor(t, s, proxy, alice)
	alice.until("the room is reloaded", allOnce(missed))
	if !eval[bool](alice, fmt.Sprintf(`(i => i?.value === 'Typo here, half' && document.activeElement === i)(document.querySelector(%s))`, js(input))) {
		t.Fatalf("the reload took the edit away: %s", alice.state())
	}
	alice.do("saving the edit", chromedp.Click(chromedp.CSS(msg+` .edit-form button[type=submit]`)))
	alice.until("the message is edited", allOnce("Typo here, half"))
}

// reconnectWithRefusedCursor silences p's WebSocket at the proxy, has Bob post to general, and
// spoils p's cursor; the client notices the silence (2 heartbeats + 1 s) and reconnects with
// that cursor, which the server refuses: the stream cannot bring the message. It returns the
// message's text.
func reconnectWithRefusedCursor(t *testing.T, s *server, proxy *faultProxy, p *page) string {
	t.Helper()
	id := eval[string](p, `switchboard.connectionId`)
	if n := proxy.blackhole("/ws"); n != 1 {
		t.Fatalf("%d WebSocket streams to silence, want 1", n)
	}
	const missed = "Posted while the stream was silent"
	s.post("Bob", "general", missed)
	p.do("spoiling the cursor", chromedp.Evaluate[chromedp.Void](`switchboard.cursor = 'AAAA-not-a-cursor'`))
	p.until("reconnected", fmt.Sprintf(`switchboard.state === 'open' && switchboard.connectionId !== %s`, js(id)))
	return missed
}

// Signing in reads the open room's latest page once, after its join: the stream opening while
// that join waits for it starts no read of its own (which could miss what comes before the
// join).
func TestSignInReadsTheLatestPageOnce(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	s.post("Bob", "general", "Hello")
	alice := newPage(t, newBrowser(t), "Alice", 1024, 768)
	alice.signIn(s.base()+"/", "Alice")
	alice.until("the room is shown", allOnce("Hello"))
	if n := afterASecond[int](alice, generalLatestReads); n != 1 {
		t.Fatalf("general's latest page was read %d times, want once", n)
	}
}

// generalLatestReads is a JavaScript expression: how many reads of general's latest page the
// page has had answered.
const generalLatestReads = `performance.getEntriesByType('resource').
	filter((e) => /\/api\/rooms\/general\/messages\?limit=30$/.test(e.name)).length`

// postHistory posts n messages to room from several users (each stays under its rate limit),
// "History 01" first, and returns their texts in order.
func (s *server) postHistory(room string, n int) []string {
	authors := []string{"Bob", "Carol", "Dave", "Erin", "Finn"}
	history := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		text := fmt.Sprintf("History %02d", i)
		s.post(authors[i%len(authors)], room, text)
		history = append(history, text)
	}
	return history
}
