package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestRoomLeftWhileOfflineStaysLeft: the cursor brings a room back on reconnect; one the app
// left while there was no connection must be left then, not keep delivering.
func TestRoomLeftWhileOfflineStaysLeft(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	s.post("Bob", "random", "seed")
	alice := newPage(t, newBrowser(t), "Alice", 1024, 768)
	alice.signIn(s.base()+"/?transports=ws", "Alice")
	alice.do("recording", chromedp.Evaluate[chromedp.Void](
		`window.got = []; switchboard.on('chat_message', ev => got.push(ev.room + ':' + ev.data.content)); switchboard.join('random')`))
	alice.until("random is joined", `switchboard.rooms.has('random')`)
	id := eval[string](alice, `switchboard.connectionId`)

	s.stop()
	alice.until("offline", `switchboard.state !== 'open'`)
	alice.do("leaving random while offline", chromedp.Evaluate[chromedp.Void](`switchboard.leave('random')`))
	s.start()
	alice.until("back", fmt.Sprintf(`switchboard.state === 'open' && switchboard.connectionId !== %s`, js(id)))
	s.post("Bob", "random", "after leave")
	s.post("Bob", "general", "marker") // delivered after anything posted before it
	alice.until("the marker arrives", `got.includes('general:marker')`)
	if got := eval[string](alice, `got.join('|')`); strings.Contains(got, "random:after leave") {
		t.Fatalf("a room left while offline still delivers: %s", got)
	}
}

// TestRoomOpenedWhileReconnectingMissesNothing: the app loads a room's history when the
// connection opens; the room's deferred join must be done by then, or a message stored between
// the history and the join is in neither.
func TestRoomOpenedWhileReconnectingMissesNothing(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	var armed atomic.Bool
	joinArrived, release := make(chan struct{}, 1), make(chan struct{})
	historyAsked := make(chan struct{}, 8)
	s.onRequest = func(r *http.Request) {
		if !armed.Load() {
			return
		}
		switch {
		case r.Method == "POST" && r.URL.Path == "/api/rooms/random/join":
			joinArrived <- struct{}{}
			<-release
		case r.Method == "GET" && r.URL.Path == "/api/rooms/random/messages":
			historyAsked <- struct{}{}
		}
	}
	s.start()
	s.post("Bob", "random", "seed")
	alice := newPage(t, newBrowser(t), "Alice", 1024, 768)
	alice.signIn(s.base()+"/?transports=ws", "Alice")
	alice.until("random is listed below general", randomBelowGeneral)

	s.stop()
	alice.until("offline", `switchboard.state !== 'open'`)
	alice.do("opening random while offline", chromedp.Click(chromedp.CSS(`[data-room=random]`)))
	armed.Store(true)
	s.start()
	select {
	case <-joinArrived:
	case <-time.After(wait):
		t.Fatal("the deferred join never came")
	}
	select { // a history read sent before the join is done would come now (a negative: wait a little)
	case <-historyAsked:
	case <-time.After(time.Second):
	}
	s.post("Bob", "random", "between history and join")
	close(release)
	s.post("Bob", "random", "after join")
	alice.until("both, once each", allOnce("between history and join", "after join"))
}

// TestLongPollResumeJoinsRoomsOpenedMeanwhile: a long-poll that resumes the connection the
// server still holds gets no connected event; rooms opened during the blip must be joined all
// the same.
func TestLongPollResumeJoinsRoomsOpenedMeanwhile(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	s.post("Bob", "random", "seed")
	alice := newPage(t, newBrowser(t), "Alice", 1024, 768)
	alice.signIn(s.base()+"/?transports=poll", "Alice")
	alice.until("random is listed below general", randomBelowGeneral)
	id := eval[string](alice, `switchboard.connectionId`)
	alice.do("losing the network", chromedp.Evaluate[chromedp.Void](`dispatchEvent(new Event('offline'))`))
	alice.until("offline", `switchboard.state !== 'open'`)
	alice.do("opening random while offline", chromedp.Click(chromedp.CSS(`[data-room=random]`)))
	alice.until("deferred", `switchboard._conn._later.has('random')`)
	alice.do("network back", chromedp.Evaluate[chromedp.Void](`dispatchEvent(new Event('online'))`))
	alice.until("back on the same connection, in random", fmt.Sprintf(
		`switchboard.state === 'open' && switchboard.connectionId === %s && switchboard.rooms.has('random')`, js(id)))
	s.post("Bob", "random", "live in random")
	alice.until("the live message", allOnce("live in random"))
}

// TestReopenedClientStillWakes: after close() and open(), the client follows the page's
// events again: the network coming back reconnects at once.
func TestReopenedClientStillWakes(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice := newPage(t, newBrowser(t), "Alice", 390, 844)
	alice.signIn(s.base()+"/?transports=ws", "Alice")
	alice.do("closing and opening again", chromedp.Evaluate[chromedp.Void](`switchboard.close(); switchboard.open()`))
	alice.until("open again", `switchboard.state === 'open'`)
	id := eval[string](alice, `switchboard.connectionId`)
	alice.do("the network comes back", chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new Event('online'))`))
	alice.until("a fresh connection", fmt.Sprintf(`switchboard.state === 'open' && switchboard.connectionId !== %s`, js(id)))
}

// TestMessageArrivingWhileHistoryLoadsStays: a room's history is read after its join; a
// message the stream delivers after that read, before its answer is shown, must stay shown
// when the page arrives (it is newer than the page).
func TestMessageArrivingWhileHistoryLoadsStays(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	s.post("Bob", "random", "seed")
	alice := newPage(t, newBrowser(t), "Alice", 1024, 768)
	alice.signIn(s.base()+"/?transports=ws", "Alice")
	alice.until("random is listed below general", randomBelowGeneral)
	alice.do("holding the history's answer in the page", chromedp.Evaluate[chromedp.Void](`
		window.got = []; switchboard.on('chat_message', ev => got.push(ev.data.content))
		window.historyRead = false; const held = new Promise(r => window.releaseHistory = r); const f = window.fetch
		window.fetch = async (u, o) => {
			const res = await f(u, o)
			if (String(u).includes('/api/rooms/random/messages')) { historyRead = true; await held }
			return res
		}`))
	alice.do("opening random", chromedp.Click(chromedp.CSS(`[data-room=random]`)))
	alice.until("the history has been read", `historyRead`)
	s.post("Bob", "random", "after the history was read")
	alice.until("it came live", `got.includes('after the history was read')`)
	alice.do("the history's answer arrives", chromedp.Evaluate[chromedp.Void](`releaseHistory()`))
	alice.until("the page is shown", allOnce("seed"))
	if !eval[bool](alice, allOnce("seed", "after the history was read")) {
		t.Fatalf("the live message is gone once the page arrived: %s", alice.state())
	}
}

// randomBelowGeneral is a JavaScript expression: the room list shows random below general.
// The list is ordered by latest activity: random (Bob's message) comes first until the list
// takes in the page's join of general, and a click on random as the list reorders lands on
// general.
const randomBelowGeneral = `document.querySelector('[data-room=random]')?.closest('li').
	previousElementSibling?.querySelector('[data-room=general]') != null`
