package web_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Scenario 2: an administrator, in a browser of their own, sends Alice a notification from the
// admin view. The toast appears and the badge reads 1 on Alice's page and on her second tab;
// marking it read on one clears both. A field the server refuses shows its error next to it.
func TestAdminSendsANotification(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := newBrowser(t)
	alice := newPage(t, b, "Alice", 390, 844)
	tab2 := newPage(t, b, "Alice (second tab)", 1024, 768)
	admin := newPage(t, b, "Admin", 1024, 768)
	alice.signIn(s.base()+"/", "Alice")
	tab2.signIn(s.base()+"/", "Alice")
	admin.signInAdmin(s.base()+"/", "Ops")
	admin.until("the connections table lists Alice's tabs and the stats count everyone",
		`document.querySelectorAll('#admin-connections tr[data-user=alice]').length === 2 &&
		document.querySelector('#admin-stats [data-stat=connections] dd')?.textContent === '3'`)
	alice.until("no notification is unread", `document.querySelector('#bell-badge').hidden`)
	shoot(t, "2-admin-view", admin)

	admin.adminTab("send")
	admin.do("sending a notification with a link the server refuses",
		chromedp.SetValue(chromedp.ID("notify-user"), "alice"),
		chromedp.SetValue(chromedp.ID("notify-title-input"), "Deploy finished"),
		chromedp.SetValue(chromedp.ID("notify-message"), "Version 2.4 is live."),
		chromedp.SetValue(chromedp.ID("notify-action-url"), "ftp://example.com/notes"),
		chromedp.Click(chromedp.CSS("#notify-form button[type=submit]")),
	)
	admin.until("the error shows next to the link field", `document.querySelector('#notify-action-url-error').textContent.includes('action_url') &&
		document.querySelector('#notify-action-url').getAttribute('aria-invalid') === 'true' &&
		document.querySelector('#notify-form .form-error').textContent === ''`)
	shoot(t, "2-notification-field-error", admin)

	admin.do("fixing the link and sending",
		chromedp.SetValue(chromedp.ID("notify-action-url"), "/#room=general"),
		chromedp.SetValue(chromedp.ID("notify-action-text"), "Open the chat"),
		chromedp.Click(chromedp.CSS("#notify-form button[type=submit]")),
	)
	admin.until("the admin view confirms it", fmt.Sprintf(`document.querySelector('#notify-form .ok').textContent === %s &&
		document.querySelector('#notify-action-url-error').textContent === ''`, js("Sent “Deploy finished” to alice.")))
	for _, p := range []*page{alice, tab2} {
		p.until("the toast appears and the badge reads 1", toast("Deploy finished", "Open the chat")+" && "+badge("1"))
	}
	alice.until("the toast has slid in", settled)
	shoot(t, "2-notification", alice)

	alice.do("opening the list", chromedp.Click(chromedp.ID("bell")))
	alice.until("the list shows it unread", `document.querySelector('#bell').getAttribute('aria-expanded') === 'true' &&
		document.querySelector('#notification-list .notification[data-read=false] .n-title')?.textContent === 'Deploy finished'`)
	shoot(t, "2-notification-list", alice)
	alice.do("marking it read", chromedp.Click(chromedp.CSS("#notification-list .notification[data-read=false] .mark-read")))
	for _, p := range []*page{alice, tab2} {
		p.until("the badge clears and the toast goes", badge("")+` && document.querySelectorAll('#toasts .toast').length === 0`)
	}
	alice.until("the list shows it read", `document.querySelector('#notification-list .notification').dataset.read === 'true'`)

	// Two more, sent over the API; mark-all-read on the second tab clears Alice's phone too.
	for _, title := range []string{"Disk almost full", "Backup failed"} {
		s.call(s.adminToken("Ops"), "POST", "/api/admin/notifications", map[string]any{"user_id": "alice",
			"notification": map[string]string{"title": title, "type": "warning", "priority": "high"}}, http.StatusCreated)
	}
	alice.until("the badge reads 2", badge("2")+" && "+toast("Backup failed", ""))
	tab2.until("the badge reads 2", badge("2"))
	tab2.do("marking all read", chromedp.Click(chromedp.ID("bell")), chromedp.Click(chromedp.ID("mark-all-read")))
	for _, p := range []*page{alice, tab2} {
		p.until("every badge clears", badge("")+` && document.querySelectorAll('#toasts .toast').length === 0`)
	}
	alice.until("the open list shows all read", `document.querySelectorAll('#notification-list .notification').length === 3 &&
		document.querySelectorAll('#notification-list .notification[data-read=false]').length === 0`)
}

// An announcement broadcast from the admin view shows as a banner on every page, and on a page
// opened after it went out; one for a role reaches only that role; a dismissed one stays
// dismissed after a reload; one whose end passes goes by itself. Then the admin view
// disconnects a user.
func TestAdminAnnouncesAndKicks(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := newBrowser(t)
	bob := newPage(t, b, "Bob", 1024, 768)
	admin := newPage(t, b, "Admin", 390, 844)
	bob.signIn(s.base()+"/", "Bob")
	admin.signInAdmin(s.base()+"/", "Ops")

	admin.adminTab("send")
	admin.do("broadcasting without a message",
		chromedp.SetValue(chromedp.ID("announce-title-input"), "Maintenance tonight"),
		chromedp.SetValue(chromedp.ID("announce-type"), "maintenance"),
		chromedp.Click(chromedp.CSS("#announce-form button[type=submit]")),
	)
	admin.until("the error shows next to the message field", `document.querySelector('#announce-message-error').textContent !== '' &&
		document.querySelector('#announce-message').getAttribute('aria-invalid') === 'true'`)
	admin.do("writing the message and broadcasting",
		chromedp.SetValue(chromedp.ID("announce-message"), "Switchboard restarts at 22:00 UTC; expect a short reconnect."),
		chromedp.Click(chromedp.CSS("#announce-form button[type=submit]")),
	)
	admin.until("the admin view confirms it", `document.querySelector('#announce-form .ok').textContent.startsWith('Broadcast')`)
	for _, p := range []*page{bob, admin} {
		p.until("the banner shows it", banner("Maintenance tonight"))
	}
	shoot(t, "2-announcement", bob, admin)

	carol := newPage(t, b, "Carol", 390, 844)
	carol.signIn(s.base()+"/", "Carol")
	carol.until("a page opened later shows it too", banner("Maintenance tonight"))

	admin.do("broadcasting to admins only",
		chromedp.SetValue(chromedp.ID("announce-title-input"), "Admins: rotate keys"),
		chromedp.SetValue(chromedp.ID("announce-message"), "Rotate the API keys this week."),
		chromedp.SetValue(chromedp.ID("announce-type"), "warning"),
		chromedp.SetValue(chromedp.ID("announce-roles"), "admin"),
		chromedp.Click(chromedp.CSS("#announce-form button[type=submit]")),
	)
	admin.until("the admin sees it", banner("Admins: rotate keys"))

	bob.do("dismissing the announcement", chromedp.Click(chromedp.CSS(`#announcement-list .announcement .a-dismiss`)))
	bob.until("the banner is gone", `document.querySelector('#announcement-banner').hidden`)
	bob.do("reloading", chromedp.Reload())
	bob.until("the reloaded page has the active announcements", `document.querySelector('#announcement-banner').dataset.loaded === 'true'`)

	// Announcements reach pages in order: when this one has arrived, the admins' one would have.
	s.call(s.adminToken("Ops"), "POST", "/api/admin/announcements", map[string]any{"title": "Short notice",
		"message": "This one ends in a moment.", "type": "feature", "ends_at": time.Now().Add(4 * time.Second).Format(time.RFC3339Nano)},
		http.StatusCreated)
	bob.until("a new one shows, not the dismissed one nor the admins' one",
		banner("Short notice")+` && document.querySelectorAll('#announcement-list .announcement').length === 1`)
	bob.until("it goes when it ends", `document.querySelector('#announcement-banner').hidden`)

	admin.adminTab("overview")
	admin.do("disconnecting Carol from the connections table",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#admin-view').scrollTop = 0`),
		chromedp.WaitVisible(chromedp.CSS(`#admin-connections tr[data-user=carol] button`)),
		chromedp.Click(chromedp.CSS(`#admin-connections tr[data-user=carol] button`)),
		chromedp.SetValue(chromedp.ID("kick-reason"), "Spamming the general room"),
		chromedp.Click(chromedp.CSS("#kick-form button[type=submit]")),
	)
	admin.until("the admin view confirms it", `document.querySelector('#kick-form .ok').textContent === 'Disconnected 1 connection of carol.'`)
	carol.until("Carol's page says so and stays disconnected", `document.querySelector('#conn').dataset.state === 'closed' &&
		document.querySelector('#conn-text').textContent === 'Disconnected by an administrator'`)
	admin.until("the table no longer lists Carol", `document.querySelector('#admin-connections tr[data-user=bob]') !== null &&
		document.querySelector('#admin-connections tr[data-user=carol]') === null`)
	shoot(t, "2-admin-kicked", admin)
}

// settled is a JavaScript expression: no animation is running (for screenshots).
const settled = `document.getAnimations().every(a => a.playState === 'finished')`

// signInAdmin signs in with the demo form as an administrator and opens the admin view.
func (p *page) signInAdmin(url, name string) {
	p.t.Helper()
	p.do("signing in as an administrator",
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("demo-name")),
		chromedp.SendKeys(chromedp.ID("demo-name"), name),
		chromedp.Click(chromedp.ID("demo-admin")),
		chromedp.Click(chromedp.CSS("#demo-form button")),
		chromedp.WaitVisible(chromedp.ID("admin-link")),
		chromedp.Click(chromedp.ID("admin-link")),
		chromedp.WaitVisible(chromedp.ID("admin-view")),
	)
	p.until("the page is live", `document.querySelector('#conn').dataset.state === 'open'`)
}

// toast is a JavaScript expression: a toast with this title (and this action link, if any) is shown.
func toast(title, action string) string {
	check := "true"
	if action != "" {
		check = fmt.Sprintf(`el.querySelector('.n-action')?.textContent === %s`, js(action))
	}
	return fmt.Sprintf(`[...document.querySelectorAll('#toasts .toast')].some(el => el.querySelector('.toast-title').textContent === %s && %s)`,
		js(title), check)
}

// badge is a JavaScript expression: the bell's badge reads n, or is hidden when n is "".
func badge(n string) string {
	if n == "" {
		return `document.querySelector('#bell-badge').hidden`
	}
	return fmt.Sprintf(`(b => !b.hidden && b.textContent === %s)(document.querySelector('#bell-badge'))`, js(n))
}

// banner is a JavaScript expression: the announcement banner shows one with this title.
func banner(title string) string {
	return fmt.Sprintf(`!document.querySelector('#announcement-banner').hidden &&
		[...document.querySelectorAll('#announcement-list .a-title')].some(el => el.textContent === %s)`, js(title))
}
