package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// On a phone (390 × 844 CSS pixels) the app is never wider than the screen, with a dozen rooms
// of long names: the room list scrolls sideways in its own row, and the composer, the room
// form, your own messages' actions and the header all stay on screen and usable.
func TestPhoneLayoutFitsManyRoomsWithLongNames(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	// Twelve rooms Alice is a member of, made by two others (each may create ten at once).
	for i := 1; i <= 12; i++ {
		creator := []string{"Bob", "Carol"}[i%2]
		key := fmt.Sprintf("long-room-%02d", i)
		s.call(s.token(creator, time.Hour), "POST", "/api/rooms", map[string]any{"key": key,
			"name": fmt.Sprintf("Quarterly planning and retrospective of the platform infrastructure team %02d", i)}, http.StatusCreated)
		s.call(s.token(creator, time.Hour), "POST", "/api/rooms/"+key+"/members", map[string]string{"user_id": "alice"}, http.StatusCreated)
	}

	// Words and addresses longer than a phone is wide.
	s.post("Bob", "general", strings.Repeat("Supercalifragilistic", 15))
	s.post("Bob", "general", "https://example.com/"+strings.Repeat("very-long-path-segment/", 12)+"?and=a&long=query")

	alice := newPage(t, newBrowser(t), "Alice", 390, 844)
	alice.do("opening the sign-in page", chromedp.Navigate(s.base()+"/"), chromedp.WaitVisible(chromedp.ID("demo-name")))
	if eval[bool](alice, `document.querySelector('#conn').checkVisibility()`) {
		t.Fatalf("the sign-in page shows the connection state %q before anyone signed in",
			eval[string](alice, `document.querySelector('#conn').textContent.trim()`))
	}
	alice.signIn(s.base()+"/", "Alice")
	alice.until("the twelve rooms are listed", `document.querySelectorAll('#room-list .room.joined').length === 12`)
	alice.until("the header shows the connection", `document.querySelector('#conn').checkVisibility()`)
	alice.until("Bob's long words are shown", `document.querySelectorAll('#messages .msg').length === 2`)

	fits(t, alice, "with twelve long room names and long words")
	if !eval[bool](alice, `(l => l.scrollWidth > l.clientWidth && getComputedStyle(l).overflowX === 'auto')(document.querySelector('#room-list'))`) {
		t.Fatal("the room list does not scroll in its own row")
	}
	shoot(t, "phone-many-rooms", alice)

	alice.do("writing a message", chromedp.SendKeys(chromedp.ID("message-input"), "Sent from a phone"))
	clickable(t, alice, "#send")
	alice.do("sending it", chromedp.Click(chromedp.ID("send")))
	alice.until("the message is delivered", delivered("Sent from a phone"))
	fits(t, alice, "with a message of yours")
	onScreen(t, alice, msgs("Sent from a phone")+`[0].querySelector('[data-act=edit]')`, "your message's Edit")
	onScreen(t, alice, msgs("Sent from a phone")+`[0].querySelector('[data-act=remove]')`, "your message's Delete")

	// A room with a long name, opened: its header truncates; the list keeps its row.
	alice.do("opening a long-named room", chromedp.Click(chromedp.CSS(`[data-room=long-room-07]`)))
	alice.until("the room is open", `document.querySelector('#room-title').textContent.startsWith('#Quarterly planning') &&
		document.querySelector('#room-intro').checkVisibility()`)
	fits(t, alice, "in a long-named room")
	clickable(t, alice, "#send")
	clickable(t, alice, "#room-form button[type=submit]")
	alice.say("A long room, a short message")
	alice.until("it is delivered", delivered("A long room, a short message"))
	shoot(t, "phone-long-room", alice)
}

// fits fails the test if the page is wider than its viewport, or an element of the app sticks
// out of it.
func fits(t *testing.T, p *page, when string) {
	t.Helper()
	overflow := eval[string](p, `(() => {
		if (document.documentElement.scrollWidth > innerWidth) return 'the page is ' + document.documentElement.scrollWidth + 'px wide'
		const out = [...document.querySelectorAll('body *')].filter(e => e.checkVisibility() && !e.closest('#room-list') &&
			!e.closest('.sr-only') && e.getBoundingClientRect().right > innerWidth + 0.5 && e.getBoundingClientRect().width > 0)
		return out.map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + [...e.classList].join('.') + ' right=' + Math.round(e.getBoundingClientRect().right)).join(', ')
	})()`)
	if overflow != "" {
		shoot(t, "overflow-"+p.name, p)
		t.Fatalf("%s: %s, past the %d px viewport: %s", p.name, when, eval[int](p, `innerWidth`), overflow)
	}
}

// clickable fails the test unless the element is on screen and is what a tap at its centre hits.
func clickable(t *testing.T, p *page, sel string) {
	t.Helper()
	onScreen(t, p, fmt.Sprintf(`document.querySelector(%s)`, js(sel)), sel)
	hit := eval[bool](p, fmt.Sprintf(`(e => { const r = e.getBoundingClientRect();
		const at = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2); return at === e || e.contains(at) })(document.querySelector(%s))`, js(sel)))
	if !hit {
		t.Fatalf("%s: a tap at the centre of %s hits something else", p.name, sel)
	}
}

// onScreen fails the test unless the element expr evaluates to lies wholly inside the viewport.
func onScreen(t *testing.T, p *page, expr, what string) {
	t.Helper()
	in := eval[bool](p, fmt.Sprintf(`(e => { if (!e || !e.checkVisibility()) return false; const r = e.getBoundingClientRect();
		return r.width > 0 && r.left >= 0 && r.top >= 0 && r.right <= innerWidth && r.bottom <= innerHeight })(%s)`, expr))
	if !in {
		t.Fatalf("%s: %s is not wholly on screen: %s", p.name, what, eval[string](p, fmt.Sprintf(`JSON.stringify(%s?.getBoundingClientRect())`, expr)))
	}
}
