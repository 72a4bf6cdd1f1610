package web_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// Authors edit and delete their own messages and the other page follows; in a room she
// created, Alice (its admin) may delete Bob's messages, and Bob is offered no such thing.
func TestEditAndDeleteMessages(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := twoUsers(t, s.base(), "")

	alice.say("Helo everyone")
	alice.until("Alice's message is delivered", delivered("Helo everyone"))
	bob.until("Bob gets it", allOnce("Helo everyone"))
	bob.until("Bob is offered no action on it", fmt.Sprintf(`getComputedStyle(%s[0].querySelector('.actions')).display === 'none'`, msgs("Helo everyone")))
	id := eval[string](alice, msgs("Helo everyone")+`[0].dataset.id`)
	msg := fmt.Sprintf(`#messages li[data-id=%q]`, id)

	alice.do("editing it",
		chromedp.Click(chromedp.CSS(msg+` [data-act=edit]`)),
		chromedp.WaitVisible(chromedp.CSS(msg+` .edit-form input`)),
		chromedp.SetValue(chromedp.CSS(msg+` .edit-form input`), "Hello everyone"),
	)
	shoot(t, "editing", alice)
	alice.do("saving the edit", chromedp.Click(chromedp.CSS(msg+` .edit-form button[type=submit]`)))
	for _, p := range []*page{alice, bob} {
		p.until("the message shows its new text, marked edited", allOnce("Hello everyone")+
			fmt.Sprintf(` && !%s[0].querySelector('.edited').hidden && %s.length === 0`, msgs("Hello everyone"), msgs("Helo everyone")))
	}
	shoot(t, "edited", bob)

	alice.do("deleting it (and confirming)",
		chromedp.Click(chromedp.CSS(msg+` [data-act=remove]`)),
		chromedp.Click(chromedp.CSS(msg+` [data-act=remove][data-confirm]`)),
	)
	for _, p := range []*page{alice, bob} {
		p.until("the message is gone", msgs("Hello everyone")+`.length === 0`)
	}

	alice.do("creating a room", chromedp.SendKeys(chromedp.ID("room-name"), "Mod Squad"), chromedp.Click(chromedp.CSS("#room-form button")))
	alice.until("Alice is in her room", `document.querySelector('#room-title').textContent === '#Mod Squad'`)
	bob.do("opening Alice's room", chromedp.SendKeys(chromedp.ID("room-name"), "Mod Squad"), chromedp.Click(chromedp.CSS("#room-form button")))
	bob.until("Bob is in the room", `document.querySelector('[data-room=mod-squad][aria-current=true]') !== null &&
		document.querySelector('#online-count').textContent === '2'`)
	bob.say("Buy cheap watches")
	alice.until("Alice gets it, with a Delete", allOnce("Buy cheap watches")+
		fmt.Sprintf(` && getComputedStyle(%s[0].querySelector('[data-act=remove]')).display !== 'none'`, msgs("Buy cheap watches")))
	spam := fmt.Sprintf(`#messages li[data-id=%q]`, eval[string](alice, msgs("Buy cheap watches")+`[0].dataset.id`))
	alice.do("deleting Bob's message",
		chromedp.Click(chromedp.CSS(spam+` [data-act=remove]`)),
		chromedp.Click(chromedp.CSS(spam+` [data-act=remove][data-confirm]`)),
	)
	for _, p := range []*page{alice, bob} {
		p.until("Bob's message is gone", msgs("Buy cheap watches")+`.length === 0`)
	}
}

// Signing out clears the HttpOnly token cookie (POST /api/auth/logout), and a page on long-poll
// ends its connection on the server (DELETE /api/connections/:id): the other page sees Alice
// leave after the presence grace period, not when her connection would have expired (50 s).
func TestSignOutEndsTheSession(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := twoUsers(t, s.base(), "?transports=poll")
	for _, p := range []*page{alice, bob} {
		p.until("the page uses long-poll and two are online", `document.querySelector('#conn').dataset.transport === 'poll' &&
			document.querySelector('#online-count').textContent === '2'`)
	}
	const cookieAuth = `fetch('/api/notifications/unread-count').then(r => r.status)` // no Authorization header
	if got := eval[int](alice, cookieAuth, chromedp.EvalAwaitPromise); got != 200 {
		t.Fatalf("before signing out, the cookie answers %d, want 200", got)
	}

	alice.do("signing out", chromedp.Click(chromedp.ID("sign-out")), chromedp.WaitVisible(chromedp.ID("demo-name")))
	if got := eval[int](alice, cookieAuth, chromedp.EvalAwaitPromise); got != 401 {
		t.Fatalf("after signing out, the cookie answers %d, want 401", got)
	}
	bob.until("Bob sees Alice leave", `document.querySelector('#online-count').textContent === '1' &&
		document.querySelector('#online-list [data-user=alice]') === null`)
	if n := len(s.hub.UserConns("alice")); n != 0 {
		t.Fatalf("alice has %d live connections after signing out, want 0", n)
	}
	shoot(t, "signed-out", alice, bob)
}
