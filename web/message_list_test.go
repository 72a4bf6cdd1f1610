package web_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// Messages read like a chat app's: initials avatars, one author's consecutive messages under
// one name, a separator for the day, and web addresses as links — safely: only http(s), in a
// new tab without access to this page, and nothing a user wrote is ever markup.
func TestMessagesAreGroupedAndLinksAreSafe(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := twoUsers(t, s.base(), "")

	const hostile = `Docs: https://example.com/guide?a=1&b=2. Not links: javascript:alert(document.cookie) JAVASCRIPT://%0aalert(1) ` +
		`data:text/html,<b>x</b> [x](javascript:alert(1)) <img src=x onerror="alert(1)"><a href="javascript:alert(1)">click</a> (see https://example.org/a_(b))`
	bob.say("Morning!")
	bob.say("Has anyone seen the guide?")
	bob.say(hostile)
	alice.until("Alice has Bob's three messages", allOnce("Morning!", "Has anyone seen the guide?", hostile))
	alice.say("Not yet")
	bob.say("Here it is again")
	alice.until("and the rest", allOnce("Not yet", "Here it is again"))

	for _, p := range []*page{alice, bob} {
		// Grouping: a new author, or the same after someone else, starts a group with avatar and name.
		p.until("the messages are grouped by author", `JSON.stringify([...document.querySelectorAll('#messages .msg')].map(li =>
			li.classList.contains('cont') ? '+' : li.querySelector('.avatar').textContent + ':' + li.querySelector('.who').textContent)) ===
			'["B:Bob","+","+","A:Alice","B:Bob"]'`)
		p.until("one day separator, Today, above the first", `document.querySelectorAll('#messages .day').length === 1 &&
			document.querySelector('#messages > :first-child.day')?.textContent === 'Today' &&
			document.querySelector('#messages > .day').nextElementSibling === document.querySelector('#messages .msg')`)
		if got := eval[string](p, `getComputedStyle(document.querySelector('#messages .msg.cont .avatar')).visibility + ' ' +
			getComputedStyle(document.querySelector('#messages .msg.cont .who')).display`); got != "hidden none" {
			t.Fatalf("%s: a grouped message shows its avatar and name: %s", p.name, got)
		}

		text := msgs(hostile) + `[0].querySelector('.text')`
		links := eval[string](p, fmt.Sprintf(`JSON.stringify([...%s.querySelectorAll('a')].map(a => [a.getAttribute('href'), a.textContent, a.target, a.rel]))`, text))
		want := `[["https://example.com/guide?a=1&b=2","https://example.com/guide?a=1&b=2","_blank","noopener noreferrer"],` +
			`["https://example.org/a_(b)","https://example.org/a_(b)","_blank","noopener noreferrer"]]`
		if links != want {
			t.Fatalf("%s: the links of the message are\n\t%s\nwant\n\t%s", p.name, links, want)
		}
		if n := eval[int](p, text+`.querySelectorAll('*:not(a)').length`); n != 0 {
			t.Fatalf("%s: the message's text made %d elements: %s", p.name, n, eval[string](p, text+`.innerHTML`))
		}
		if !eval[bool](p, text+`.textContent === `+js(hostile)) {
			t.Fatalf("%s: the message reads %q", p.name, eval[string](p, text+`.textContent`))
		}
	}
	if n := eval[int](alice, `document.querySelectorAll('a[href^="javascript:" i], a[href^="data:" i], img').length`); n != 0 {
		t.Fatalf("the page has %d javascript:/data: links or images", n)
	}
	shoot(t, "messages-grouped-links", alice, bob)

	// Across days: a separator for each day, named Today and Yesterday where it can be, and no
	// group across a day's end or a long pause; a day whose messages go loses its separator.
	got := eval[[]string](alice, `(async () => {
		const { renderMessage, regroup } = await import('/app/message.js')
		const at = (daysAgo, minute) => { const d = new Date(); d.setDate(d.getDate() - daysAgo); d.setHours(10, minute, 0, 0); return d.toISOString() }
		const list = document.createElement('ol')
		const shown = () => [...list.children].map(li => li.classList.contains('day') ? li.textContent : li.classList.contains('cont') ? '+' : li.dataset.user).join(' ')
		for (const [user, daysAgo, minute] of [['bob', 3, 0], ['bob', 1, 0], ['bob', 1, 2], ['bob', 1, 20], ['ann', 0, 0], ['ann', 0, 1]]) {
			list.append(renderMessage({ user_id: user, user_name: user, content: 'x', created_at: at(daysAgo, minute) }, { id: 'zed', name: 'Zed' }))
		}
		regroup(list)
		const before = shown()
		for (const li of [...list.querySelectorAll('.msg')].slice(1, 4)) li.remove()
		regroup(list)
		const then = new Date(at(3, 0))
		return [before, shown(), then.toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long',
			...(then.getFullYear() !== new Date().getFullYear() && { year: 'numeric' }) })]
	})()`, chromedp.EvalAwaitPromise)
	if want := got[2] + " bob Yesterday bob + bob Today ann +"; got[0] != want {
		t.Fatalf("messages over three days are shown as\n\t%s\nwant\n\t%s", got[0], want)
	}
	if want := got[2] + " bob Today ann +"; got[1] != want {
		t.Fatalf("without yesterday's messages they are shown as\n\t%s\nwant\n\t%s", got[1], want)
	}
}

// On a touch screen, where nothing hovers, a message's Edit and Delete are in a menu behind ⋯.
func TestMessageActionsAreInAMenuOnTouchScreens(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice := newPage(t, newBrowser(t), "Alice", 390, 844)
	alice.signIn(s.base()+"/", "Alice")
	touch(t, alice)
	alice.say("Typo hre")
	alice.until("the message is delivered", delivered("Typo hre"))
	li := msgs("Typo hre") + `[0]`
	alice.until("the actions are behind a menu button", fmt.Sprintf(`(li => li.querySelector('.more').checkVisibility() &&
		!li.querySelector('.actions').checkVisibility())(%s)`, li))
	onScreen(t, alice, li+`.querySelector('.more')`, "the ⋯ button")
	id := eval[string](alice, li+`.dataset.id`)
	msg := fmt.Sprintf(`#messages li[data-id=%q]`, id)

	alice.do("opening the menu", chromedp.Click(chromedp.CSS(msg+` .more`)))
	alice.until("the menu shows Edit and Delete", fmt.Sprintf(`(li => li.querySelector('[data-act=edit]').checkVisibility() &&
		li.querySelector('[data-act=remove]').checkVisibility() && li.querySelector('.more').getAttribute('aria-expanded') === 'true')(%s)`, li))
	onScreen(t, alice, li+`.querySelector('[data-act=remove]')`, "the menu's Delete")
	shoot(t, "touch-menu", alice)
	alice.do("closing it with a tap elsewhere", chromedp.Click(chromedp.ID("room-title")))
	alice.until("the menu is closed", fmt.Sprintf(`!%s.querySelector('.actions').checkVisibility()`, li))

	alice.do("editing from the menu",
		chromedp.Click(chromedp.CSS(msg+` .more`)),
		chromedp.Click(chromedp.CSS(msg+` [data-act=edit]`)),
		chromedp.WaitVisible(chromedp.CSS(msg+` .edit-form input`)),
		chromedp.SetValue(chromedp.CSS(msg+` .edit-form input`), "Typo here"),
		chromedp.Click(chromedp.CSS(msg+` .edit-form button[type=submit]`)),
	)
	alice.until("the message is edited", allOnce("Typo here"))
	alice.do("deleting from the menu",
		chromedp.Click(chromedp.CSS(msg+` .more`)),
		chromedp.Click(chromedp.CSS(msg+` [data-act=remove]`)),
		chromedp.Click(chromedp.CSS(msg+` [data-act=remove][data-confirm]`)),
	)
	alice.until("the message is gone", msgs("Typo here")+`.length === 0`)
}

// touch makes the page a touch screen's: no hover, a coarse pointer.
func touch(t *testing.T, p *page) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	if _, err := chromedp.Call(ctx, emulation.SetTouchEmulationEnabled, emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5}); err != nil {
		t.Fatalf("%s: emulating a touch screen: %v", p.name, err)
	}
	p.until("the page is a touch screen's", `matchMedia('(hover: none) and (pointer: coarse)').matches`)
}

// The room's header keeps its height while its member count is unknown: the count arriving
// (here when Alice's first message makes her a member) must not move the messages under a
// click.
func TestMessagesStayPutWhenTheMemberCountArrives(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice := newPage(t, newBrowser(t), "Alice", 1024, 768)
	alice.signIn(s.base()+"/", "Alice")
	const top = `document.querySelector('#messages-box').getBoundingClientRect().top`
	if n := eval[string](alice, `document.querySelector('#room-members').textContent`); n != "" {
		t.Fatalf("the member count is known before Alice is a member: %q", n)
	}
	before := eval[float64](alice, top)
	alice.say("Hello")
	alice.until("the member count is shown", `document.querySelector('#room-members').textContent === '1 member'`)
	if after := eval[float64](alice, top); after != before {
		t.Fatalf("the messages moved from %.1f to %.1f px when the member count arrived", before, after)
	}
}
