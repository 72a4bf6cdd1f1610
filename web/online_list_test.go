package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The online list: you first, marked "(you)"; a long name is cut short with an ellipsis and
// keeps its status dot; and anyone listed can be messaged directly, which opens a direct room
// that both sides list under the other's name.
func TestOnlineListTruncatesLongNamesAndStartsDirectMessages(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	const long = "Maximilian Alexander Featherstonehaugh"
	b := newBrowser(t)
	max := newPage(t, b, "Max", 1024, 768)
	alice := newPage(t, b, "Alice", 390, 844)
	max.signIn(s.base()+"/", long)
	alice.signIn(s.base()+"/", "Alice")
	max.until("both are online", `document.querySelectorAll('#online-list .person').length === 2`)

	me := `document.querySelector('#online-list .person:first-child')`
	max.until("Max is listed first, as you", me+`.querySelector('.you')?.textContent === '(you)' &&
		document.querySelectorAll('#online-list .you').length === 1 && !`+me+`.querySelector('.dm')`)
	got := eval[string](max, fmt.Sprintf(`(li => { const name = li.querySelector('.person-name'), dot = li.querySelector('.status-dot'),
		panel = document.querySelector('#online-panel').getBoundingClientRect(), d = dot.getBoundingClientRect(), n = li.getBoundingClientRect();
		return [name.textContent, name.scrollWidth > name.clientWidth, getComputedStyle(name).textOverflow,
			d.width > 4 && d.left >= panel.left && d.right <= panel.right, n.right <= panel.right + 0.5,
			li.querySelector('.you').getBoundingClientRect().right <= panel.right].join('|') })(%s)`, me))
	if want := long + "|true|ellipsis|true|true|true"; got != want {
		t.Fatalf("Max's entry (name | cut short | overflow | dot in the panel | row in the panel | (you) in the panel) is %s, want %s", got, want)
	}
	shoot(t, "online-long-name", max)

	max.do("messaging Alice from the list", chromedp.Click(chromedp.CSS(`#online-list [data-user=alice] .dm`)))
	max.until("the direct room with Alice opens", `document.querySelector('#room-title').textContent === 'Alice' &&
		document.querySelector('#room-kind').textContent === 'Direct message' &&
		document.querySelector('#room-list .room[aria-current=true] .room-name')?.textContent === 'Alice'`)
	max.say("Hi Alice, a word in private")
	max.until("it is delivered", delivered("Hi Alice, a word in private"))
	alice.until("Alice lists the direct room under Max's name, unread", `(b => b && b.querySelector('.room-name').textContent === `+js(long)+` &&
		b.querySelector('.unread')?.textContent === '1')([...document.querySelectorAll('#room-list .room')].find(b => b.dataset.room.startsWith('dm-')))`)
	fits(t, alice, "with a direct room under a long name")
	alice.do("opening it", chromedp.Click(chromedp.CSS(`#room-list .room[data-room^="dm-"]`)))
	alice.until("she reads it", allOnce("Hi Alice, a word in private")+` && document.querySelector('#room-title').textContent === `+js(long))
	fits(t, alice, "in a direct room with a long name")
	shoot(t, "direct-message", alice, max)
}

// Who is online is read when a room opens and on every reconnect, while the stream goes on
// saying who comes, goes and changes status: an answer read before such a change but coming
// in after it must not undo it.
func TestOnlineListKeepsChangesMadeWhileItLoads(t *testing.T) {
	t.Parallel()
	s, proxy := resilient(t)
	s.post("Carol", "general", "Hello")
	b := newBrowser(t)
	alice, bob := newPage(t, b, "Alice", 1024, 768), newPage(t, b, "Bob", 1024, 768)
	alice.signIn(proxy.url+"/", "Alice")
	alice.until("general is loaded", allOnce("Hello"))
	const path = "/api/rooms/general/presence"
	loaded := `performance.getEntriesByType('resource').filter((e) => e.name.endsWith('` + path + `')).length`
	// Alice's reads of who is online (one or two, as the page opens) are all in: only Alice's
	// reach the server so far.
	waitFor(t, "Alice's reads of who is online", func() bool { return eval[int](alice, loaded) == s.requests(path) })
	bob.signIn(s.base()+"/", "Bob") // not through the proxy: his stream stays
	bobAway := `document.querySelector('#online-list [data-user=bob][data-status=away]') !== null`
	alice.until("Bob is online", `document.querySelector('#online-list [data-user=bob][data-status=online]') !== null`)
	before := eval[int](alice, loaded)

	arrived, release := proxy.holdNext(path)
	reconnect(t, proxy, alice)
	select { // the reconnect read who is online again: the answer (Bob online) is held
	case <-arrived:
	case <-time.After(wait):
		t.Fatal("who is online was not read again on reconnect")
	}
	bob.do("setting his status", chromedp.Evaluate[chromedp.Void](
		`(s => { s.value = 'away'; s.dispatchEvent(new Event('change')) })(document.querySelector('#my-status'))`))
	alice.until("Alice sees Bob away", bobAway)

	release()
	alice.until("the held answer has arrived", fmt.Sprintf(`%s === %d`, loaded, before+1))
	if !afterASecond[bool](alice, bobAway) {
		t.Fatalf("the late answer undid Bob's status: %s", eval[string](alice, `document.querySelector('#online-list').innerHTML`))
	}
}
