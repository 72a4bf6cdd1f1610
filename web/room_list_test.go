package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The room list reads like a chat app's: a direct room under the other person's name, a lock
// on a private room, the rooms you are in ordered by latest activity with the unread ones
// first — live, as messages arrive and as you read them — and a header that says what the
// open room is.
func TestRoomListShowsPeopleLocksAndRecentActivity(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	bob, carol := s.token("Bob", time.Hour), s.token("Carol", time.Hour)
	for _, r := range []map[string]any{
		{"key": "alpha", "name": "Alpha"},
		{"key": "beta", "name": "Beta"},
		{"key": "gamma", "name": "Gamma", "description": "Where gamma rays are discussed"},
		{"key": "secret-plans", "name": "Secret plans", "private": true},
	} {
		s.call(bob, "POST", "/api/rooms", r, http.StatusCreated)
		s.call(bob, "POST", "/api/rooms/"+r["key"].(string)+"/members", map[string]string{"user_id": "alice"}, http.StatusCreated)
	}
	var dm struct {
		Key string `json:"key"`
	}
	callJSON(t, s, bob, "POST", "/api/rooms", map[string]any{"type": "direct", "members": []string{"alice"}}, http.StatusCreated, &dm)
	// Activity, oldest first; Bob's messages are unread to Alice, hers are not.
	s.postInTurn(t, "Alice", "alpha", "Alpha, a while ago")
	s.postInTurn(t, "Alice", "beta", "Beta, a little later")
	s.postInTurn(t, "Bob", "gamma", "Gamma news for Alice")
	s.postInTurn(t, "Bob", dm.Key, "Psst, Alice")
	s.postInTurn(t, "Alice", "secret-plans", "The plan, latest of all")

	alice := newPage(t, newBrowser(t), "Alice", 1024, 768)
	alice.signIn(s.base()+"/", "Alice")
	// Unread first (newest first), then the read ones by activity, then rooms Alice is not in.
	alice.until("the rooms are in order", roomOrder(dm.Key, "gamma", "secret-plans", "beta", "alpha", "general"))

	alice.until("the direct room is listed under Bob's name", fmt.Sprintf(`(b => b.querySelector('.room-name').textContent === 'Bob' &&
		b.textContent.trim() === 'BBob1' && b.getAttribute('aria-label') === 'Bob, direct message, 1 unread')(document.querySelector('[data-room=%s]'))`, dm.Key))
	alice.until("the private room has a lock, and only it", `document.querySelector('[data-room=secret-plans] .icon-lock') !== null &&
		document.querySelectorAll('#room-list .icon-lock').length === 1 &&
		document.querySelector('[data-room=secret-plans]').getAttribute('aria-label') === 'Secret plans, private'`)

	// Bob writes in the quietest room: it goes to the top.
	s.postInTurn(t, "Bob", "alpha", "Alpha wakes up")
	alice.until("alpha moves to the top", roomOrder("alpha", dm.Key, "gamma", "secret-plans", "beta", "general")+
		` && document.querySelector('[data-room=alpha] .unread')?.textContent === '1'`)
	shoot(t, "room-list-order", alice)

	// Reading gamma takes it out of the unread rooms; its header says what it is.
	alice.do("opening gamma", chromedp.Click(chromedp.CSS(`[data-room=gamma]`)))
	alice.until("gamma is read and goes below the unread rooms", roomOrder("alpha", dm.Key, "secret-plans", "gamma", "beta", "general")+
		` && !document.querySelector('[data-room=gamma] .unread') && `+allOnce("Gamma news for Alice"))
	alice.until("gamma's header has its name, description and member count", `document.querySelector('#room-title').textContent === '#Gamma' &&
		document.querySelector('#room-desc').textContent === 'Where gamma rays are discussed' &&
		document.querySelector('#room-members').textContent === '2 members' && !document.querySelector('#room-lock').checkVisibility()`)

	alice.do("opening the private room", chromedp.Click(chromedp.CSS(`[data-room=secret-plans]`)))
	alice.until("its header shows the lock", `document.querySelector('#room-title').textContent === '#Secret plans' &&
		document.querySelector('#room-lock').checkVisibility() && document.querySelector('#room-kind').textContent === 'Private' &&
		document.querySelector('#intro-title').textContent === 'This is the start of #Secret plans'`)
	shoot(t, "room-header-private", alice)

	alice.do("opening the direct room", chromedp.Click(chromedp.CSS(`[data-room=`+dm.Key+`]`)))
	alice.until("its header is Bob, not the room's name", `document.querySelector('#room-title').textContent === 'Bob' &&
		document.querySelector('#room-kind').textContent === 'Direct message' && !document.querySelector('#room-lock').checkVisibility() &&
		document.querySelector('#intro-title').textContent === 'This is the start of your conversation with Bob' && `+allOnce("Psst, Alice"))

	// Carol starts a direct conversation while Alice is here: it shows under Carol's name, and
	// counts what she writes.
	var carolDM struct {
		Key string `json:"key"`
	}
	callJSON(t, s, carol, "POST", "/api/rooms", map[string]any{"type": "direct", "members": []string{"alice"}}, http.StatusCreated, &carolDM)
	alice.until("Carol's direct room appears under her name", fmt.Sprintf(
		`document.querySelector('[data-room=%s] .room-name')?.textContent === 'Carol'`, carolDM.Key))
	s.postInTurn(t, "Carol", carolDM.Key, "Hello from Carol")
	alice.until("it comes first, unread", roomOrder(carolDM.Key, "alpha", "secret-plans", dm.Key)+
		fmt.Sprintf(` && document.querySelector('[data-room=%s] .unread')?.textContent === '1'`, carolDM.Key))

	// A room of her own, empty: the start of it says so.
	alice.do("creating a room", chromedp.SendKeys(chromedp.ID("room-name"), "Quiet corner"), chromedp.Click(chromedp.CSS("#room-form button[type=submit]")))
	alice.until("the empty room says where it starts", `document.querySelector('#room-title').textContent === '#Quiet corner' &&
		document.querySelector('#room-intro').checkVisibility() && document.querySelector('#intro-title').textContent === 'This is the start of #Quiet corner' &&
		document.querySelector('#intro-text').textContent.includes('No messages yet') && document.querySelector('#room-members').textContent === '1 member'`)
	shoot(t, "room-empty", alice)
}

// roomOrder is a JavaScript expression: the room list starts with these rooms, in this order.
func roomOrder(keys ...string) string {
	want, _ := json.Marshal(keys)
	return fmt.Sprintf(`JSON.stringify([...document.querySelectorAll('#room-list .room')].slice(0, %d).map(b => b.dataset.room)) === %s`,
		len(keys), js(string(want)))
}

// postInTurn posts a message as user and waits until the server's clock has moved past it, so
// that the next message is stored as later.
func (s *server) postInTurn(t *testing.T, user, room, content string) {
	t.Helper()
	var m struct {
		CreatedAt time.Time `json:"created_at"`
	}
	callJSON(t, s, s.token(user, time.Hour), "POST", "/api/rooms/"+room+"/messages", map[string]string{"content": content}, http.StatusCreated, &m)
	waitFor(t, "the clock to pass "+m.CreatedAt.String(), func() bool { return time.Now().After(m.CreatedAt.Add(2 * time.Millisecond)) })
}

// callJSON is server.call that decodes the answer into out.
func callJSON(t *testing.T, s *server, token, method, path string, body any, want int, out any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.base()+path, strings.NewReader(string(b)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	res, err := s.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.StatusCode, want, raw)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s %s: %v: %s", method, path, err, raw)
	}
}

// A room list that answers late — after a later one, and after Alice read a room in between —
// is not shown: the unread count it carries is out of date.
func TestLateRoomListKeepsNewerCounts(t *testing.T) {
	t.Parallel()
	proxy, alice := aliceWithOneUnread(t)
	alice.until("general is open", inGeneral)

	release := holdRoomListOnReconnect(t, proxy, alice) // its answer: random, 1 unread
	readRandom(t, alice)
	reconnect(t, proxy, alice) // the list is read again: this answer (random: nothing unread) is shown
	alice.until("the second list has arrived", roomLists+` === 2`)

	release()
	alice.until("the late list has arrived", roomLists+` === 3`)
	if got := afterASecond[string](alice, `String(`+unreadInRandom+`)`); got != "undefined" {
		t.Fatalf("random shows %s unread after the late list, want none", got)
	}
}

// The stream counts a room's unread messages while the room list loads; the list's answer,
// read before the latest of them, must not undo that count.
func TestRoomListCountsMessagesThatCameWhileItLoaded(t *testing.T) {
	t.Parallel()
	proxy, alice := aliceWithOneUnread(t)
	lists := eval[int](alice, roomLists)

	release := holdRoomListOnReconnect(t, proxy, alice) // its answer: random, 1 unread
	proxy.srv.post("Bob", "random", "Unread two")
	alice.until("random counts it", unreadInRandom+` === '2'`)
	release()
	alice.until("the held list has arrived", fmt.Sprintf(`%s === %d`, roomLists, lists+1))
	if got := afterASecond[string](alice, `String(`+unreadInRandom+`)`); got != "2" {
		t.Fatalf("random shows %s unread once the list arrived, want 2", got)
	}
}

// unreadInRandom is a JavaScript expression: random's unread count in the list, undefined
// when it shows none.
const unreadInRandom = `document.querySelector('[data-room=random] .unread')?.textContent`

// aliceWithOneUnread signs Alice in through a fault proxy, a member of random with one message
// there she has not read, counted in the list.
func aliceWithOneUnread(t *testing.T) (*faultProxy, *page) {
	t.Helper()
	s, proxy := resilient(t)
	s.post("Alice", "random", "Alice was here") // Alice is a member of random
	alice := newPage(t, newBrowser(t), "Alice", 1024, 768)
	alice.signIn(proxy.url+"/", "Alice")
	s.post("Bob", "random", "Unread one")
	alice.until("random counts it", unreadInRandom+` === '1'`)
	return proxy, alice
}

// inGeneral is a JavaScript expression: general is the open room.
const inGeneral = `document.querySelector('#room-title').textContent === '#general'`

// roomLists is a JavaScript expression: how many room lists (GET /api/rooms) the page has read.
const roomLists = `performance.getEntriesByType('resource').filter((e) => e.name.endsWith('/api/rooms')).length`

// holdRoomListOnReconnect cuts p's stream at the proxy; the client reconnects and reads the
// room list again, whose answer the proxy holds until release is called.
func holdRoomListOnReconnect(t *testing.T, proxy *faultProxy, p *page) (release func()) {
	t.Helper()
	arrived, release := proxy.holdNext("/api/rooms")
	reconnect(t, proxy, p)
	select {
	case <-arrived:
	case <-time.After(wait):
		t.Fatal("the room list was not read again on reconnect")
	}
	return release
}

// A room read while the list loads stays read when the list, read before, answers.
func TestRoomReadWhileTheListLoadsStaysRead(t *testing.T) {
	t.Parallel()
	proxy, alice := aliceWithOneUnread(t)
	lists := eval[int](alice, roomLists)

	release := holdRoomListOnReconnect(t, proxy, alice) // its answer: random, 1 unread
	readRandom(t, alice)
	release()
	alice.until("the held list has arrived", fmt.Sprintf(`%s === %d`, roomLists, lists+1))
	if got := afterASecond[string](alice, `String(`+unreadInRandom+`)`); got != "undefined" {
		t.Fatalf("random shows %s unread once the list arrived, want none", got)
	}
}

// readRandom has p open random, waits until the server has recorded it read, and goes back to
// general.
func readRandom(t *testing.T, p *page) {
	t.Helper()
	p.do("reading random", chromedp.Click(chromedp.CSS(`[data-room=random]`)))
	p.until("random is open and read", `document.querySelector('#room-title').textContent === '#random' && `+unreadInRandom+` === undefined`)
	waitFor(t, "the read to be recorded", func() bool {
		return eval[int](p, `switchboard.request('GET', '/api/rooms/random').then((r) => r.unread_count)`, chromedp.EvalAwaitPromise) == 0
	})
	p.do("back to general", chromedp.Click(chromedp.CSS(`[data-room=general]`)))
	p.until("general is open", inGeneral)
}
