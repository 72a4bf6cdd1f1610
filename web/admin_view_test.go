package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"switchboard/api"
	"switchboard/api/escalation"
	"switchboard/db"
)

// adminTab opens a tab of the admin view and waits until its panel shows.
func (p *page) adminTab(name string) {
	p.t.Helper()
	p.do("opening the admin view's "+name+" tab", chromedp.Click(chromedp.ID("tab-"+name)))
	p.until("the "+name+" tab is shown", fmt.Sprintf(`document.querySelector('#tab-%[1]s').getAttribute('aria-selected') === 'true' &&
		!document.querySelector('#panel-%[1]s').hidden`, name))
}

// rows is a JavaScript expression: the rows of a table in the admin view.
func rows(table string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#%s tbody tr')]`, table)
}

// The audit log tab lists administrative actions with relative times (the full time on hover),
// filters them by action, actor and time range, shows a bad range next to its field, and clears.
// Its tabs follow the arrow keys.
func TestAdminAuditTab(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	admin := newPage(t, newBrowser(t), "Admin", 1024, 768)
	admin.signInAdmin(s.base()+"/", "Ops")
	root, ops := s.adminToken("Root"), s.adminToken("Ops")
	notify := func(token, user, title string) {
		s.call(token, "POST", "/api/admin/notifications", map[string]any{"user_id": user,
			"notification": map[string]string{"title": title}}, http.StatusCreated)
	}
	notify(root, "alice", "From root")
	s.call(ops, "DELETE", "/api/admin/users/bob/connections", map[string]any{"reason": "testing", "block_seconds": 0}, http.StatusOK)
	notify(ops, "carol", "From ops")
	s.call(root, "POST", "/api/admin/announcements", map[string]any{"title": "Hello", "message": "m", "type": "feature"}, http.StatusCreated)

	admin.do("moving to the audit tab with the keyboard",
		chromedp.Focus(chromedp.ID("tab-overview")),
		chromedp.KeyEvent(kb.End), chromedp.KeyEvent(kb.ArrowLeft))
	admin.until("the audit tab is selected and focused", `document.activeElement?.id === 'tab-audit' &&
		document.querySelector('#tab-audit').getAttribute('aria-selected') === 'true' &&
		document.querySelector('#tab-overview').getAttribute('aria-selected') === 'false' &&
		!document.querySelector('#panel-audit').hidden && document.querySelector('#panel-overview').hidden`)
	admin.until("the log lists every action, newest first, with relative times", rows("audit-list")+`.map(r => r.dataset.action).join() === 'announce,notify,kick,notify' &&
		`+rows("audit-list")+`.every(r => { const t = r.querySelector('time'); return t.title !== '' && /now|second|minute/.test(t.textContent) && t.title !== t.textContent })`)
	shoot(t, "admin-audit", admin)

	admin.do("filtering by action and actor",
		chromedp.SetValue(chromedp.ID("audit-action"), "notify"),
		chromedp.SetValue(chromedp.ID("audit-actor"), "ops"),
		chromedp.Click(chromedp.CSS("#audit-form button[type=submit]")))
	admin.until("only Ops's notification is listed", rows("audit-list")+`.length === 1 &&
		`+rows("audit-list")+`[0].textContent.includes('carol') && document.querySelector('#audit-form .ok').textContent === '1 entry.'`)
	shoot(t, "admin-audit-filtered", admin)

	admin.do("a time range that ends before it starts",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#audit-actor').value = ''`),
		chromedp.SetValue(chromedp.ID("audit-since"), "2030-01-02T00:00:30"),
		chromedp.SetValue(chromedp.ID("audit-until"), "2030-01-01T00:00:30"),
		chromedp.Click(chromedp.CSS("#audit-form button[type=submit]")))
	admin.until("the error shows next to the until field", `document.querySelector('#audit-until-error').textContent.includes('until') &&
		document.querySelector('#audit-until').getAttribute('aria-invalid') === 'true'`)
	admin.do("a range in the future",
		chromedp.SetValue(chromedp.ID("audit-until"), "2031-01-01T00:00:30"),
		chromedp.Click(chromedp.CSS("#audit-form button[type=submit]")))
	admin.until("nothing matches", rows("audit-list")+`.length === 0 && document.querySelector('#audit-form .ok').textContent === 'No entries match.' &&
		document.querySelector('#audit-until-error').textContent === ''`)
	admin.do("a range around now",
		chromedp.SetValue(chromedp.ID("audit-since"), "2020-01-01T00:00:30"),
		chromedp.Click(chromedp.CSS("#audit-form button[type=submit]")))
	admin.until("both notifications match", rows("audit-list")+`.map(r => r.dataset.action).join() === 'notify,notify'`)

	admin.do("clearing the filters", chromedp.Click(chromedp.CSS("#audit-form button[type=reset]")))
	admin.until("everything is listed again", rows("audit-list")+`.length === 4 && document.querySelector('#audit-action').value === ''`)
}

// failingWebhook answers 503 while failing is set, then 204; it counts the attempts.
type failingWebhook struct {
	srv *httptest.Server

	mu       sync.Mutex
	failing  bool
	attempts int
	accepted int
}

func newFailingWebhook(t *testing.T) *failingWebhook {
	w := &failingWebhook{failing: true}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.attempts++
		if w.failing {
			http.Error(rw, "gateway down", http.StatusServiceUnavailable)
			return
		}
		w.accepted++
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *failingWebhook) counts() (attempts, accepted int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.attempts, w.accepted
}

// The escalations tab lists a failing escalation with its attempts, last error and next
// attempt (an hour away); once the webhook is back, Retry delivers it at once and it leaves
// the pending list.
func TestAdminRetriesAnEscalation(t *testing.T) {
	t.Parallel()
	hook := newFailingWebhook(t)
	s := startServer(t, func(c *api.Config) {
		c.Escalation = escalation.Config{WebhookURL: hook.srv.URL, Backoff: time.Hour, MaxBackoff: time.Hour, Interval: 20 * time.Millisecond}
	})
	admin := newPage(t, newBrowser(t), "Admin", 1024, 768)
	admin.signInAdmin(s.base()+"/", "Ops")
	s.call(s.adminToken("Root"), "POST", "/api/admin/notifications", map[string]any{"user_id": "alice",
		"notification": map[string]string{"title": "Disk almost full", "priority": "high"}}, http.StatusCreated)
	waitFor(t, "the first attempt", func() bool { n, _ := hook.counts(); return n == 1 })

	admin.adminTab("escalations")
	row := `document.querySelector('#escalation-list tr[data-user=alice]')`
	admin.until("the failed escalation is listed with its error and next attempt", row+` !== null && `+row+`.dataset.attempts === '1' &&
		`+row+`.querySelector('.esc-title').textContent === 'Disk almost full' &&
		`+row+`.querySelector('.esc-error').textContent.includes('503') &&
		/^in /.test(`+row+`.querySelector('time').textContent) && `+row+`.querySelector('time').title !== '' &&
		!document.querySelector('#escalation-count').hidden && document.querySelector('#escalation-count').textContent === '1'`)
	shoot(t, "admin-escalations", admin)

	hook.mu.Lock()
	hook.failing = false
	hook.mu.Unlock()
	admin.do("retrying it", chromedp.Click(chromedp.CSS(`#escalation-list tr[data-user=alice] button.retry`)))
	admin.until("the retry is confirmed", `document.querySelector('#escalations-done').textContent === 'Retrying “Disk almost full” to alice now.'`)
	admin.until("it is delivered and leaves the pending list", rows("escalation-list")+`.length === 0 &&
		!document.querySelector('#escalations-empty').hidden && document.querySelector('#escalation-count').hidden`)
	if attempts, accepted := hook.counts(); attempts != 2 || accepted != 1 {
		t.Fatalf("the webhook saw %d attempts and accepted %d, want 2 and 1", attempts, accepted)
	}
	admin.do("showing delivered ones", chromedp.SetValue(chromedp.ID("escalation-status"), "delivered"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#escalation-status').dispatchEvent(new Event('change'))`))
	admin.until("it is listed as delivered, with no retry", row+`?.dataset.status === 'delivered' && `+row+`.dataset.attempts === '2' &&
		`+row+`.querySelector('button') === null`)
	shoot(t, "admin-escalation-delivered", admin)
}

// The publish tool sends an event of the operator's choosing to a user, who gets it live; bad
// JSON and a type the server refuses show next to their fields.
func TestAdminPublishTool(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := newBrowser(t)
	bob := newPage(t, b, "Bob", 1024, 768)
	admin := newPage(t, b, "Admin", 1024, 768)
	bob.signIn(s.base()+"/", "Bob")
	bob.do("listening for stock.changed", chromedp.Evaluate[chromedp.Void](
		`window.got = []; switchboard.on('stock.changed', (ev) => got.push(ev))`))
	admin.signInAdmin(s.base()+"/", "Ops")
	admin.adminTab("send")

	admin.do("publishing data that is not JSON",
		chromedp.SetValue(chromedp.ID("publish-type"), "stock.changed"),
		chromedp.SetValue(chromedp.ID("publish-users"), "bob"),
		chromedp.SetValue(chromedp.ID("publish-data"), `{"sku": "A-1",`),
		chromedp.Click(chromedp.CSS("#publish-form button[type=submit]")))
	admin.until("the error shows next to the data field", `document.querySelector('#publish-data-error').textContent.startsWith('data is not JSON') &&
		document.querySelector('#publish-data').getAttribute('aria-invalid') === 'true'`)
	admin.do("publishing one of the server's own types",
		chromedp.SetValue(chromedp.ID("publish-type"), "kicked"),
		chromedp.SetValue(chromedp.ID("publish-data"), `{"sku": "A-1", "qty": 3}`),
		chromedp.Click(chromedp.CSS("#publish-form button[type=submit]")))
	admin.until("the server's error shows next to the type field", `document.querySelector('#publish-type-error').textContent.includes('server') &&
		document.querySelector('#publish-data-error').textContent === ''`)
	admin.do("publishing stock.changed to Bob",
		chromedp.SetValue(chromedp.ID("publish-type"), "stock.changed"),
		chromedp.Click(chromedp.CSS("#publish-form button[type=submit]")))
	admin.until("the tool confirms it", `document.querySelector('#publish-form .ok').textContent === 'Published stock.changed to users bob (1 event).'`)
	bob.until("Bob's page gets it", `got.length === 1 && got[0].data.sku === 'A-1' && got[0].data.qty === 3`)
	shoot(t, "admin-publish", admin)
}

// The room inspector shows a private room to an operator who is not a member: its facts, who
// is online, its members and its history; a room that does not exist is said so.
func TestAdminRoomInspector(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	s.call(s.token("Alice", time.Hour), "POST", "/api/rooms", map[string]any{"name": "Secret plans", "key": "secret", "private": true,
		"members": []string{"bob"}}, http.StatusCreated)
	s.post("Alice", "secret", "Launch at dawn")
	b := newBrowser(t)
	alice := newPage(t, b, "Alice", 1024, 768)
	admin := newPage(t, b, "Admin", 1024, 768)
	alice.signIn(s.base()+"/#room=secret", "Alice")
	admin.signInAdmin(s.base()+"/", "Ops")

	admin.until("Alice's connection lists the room", `[...document.querySelectorAll('#admin-connections tr[data-user=alice] a.room-link')].some(a => a.textContent === 'secret')`)
	admin.do("opening the room from the connections table", chromedp.Evaluate[chromedp.Void](
		`[...document.querySelectorAll('#admin-connections tr[data-user=alice] a.room-link')].find(a => a.textContent === 'secret').click()`))
	admin.until("the inspector shows the room", `document.querySelector('#tab-rooms').getAttribute('aria-selected') === 'true' &&
		document.querySelector('#inspect-result')?.dataset.room === 'secret' && !document.querySelector('#inspect-result').hidden &&
		document.querySelector('#inspect-name').textContent === 'Secret plans' &&
		document.querySelector('#inspect-facts').textContent.includes('Private') &&
		document.querySelector('#inspect-presence [data-user=alice]')?.dataset.status === 'online' &&
		document.querySelector('#inspect-members tr[data-user=alice]')?.dataset.role === 'admin' &&
		document.querySelector('#inspect-members tr[data-user=bob]')?.dataset.role === 'member' &&
		[...document.querySelectorAll('#inspect-history .inspect-text')].map(p => p.textContent).join() === 'Launch at dawn'`)
	shoot(t, "admin-room-inspector", admin)

	entries, _, err := s.store.AuditLog(t.Context(), db.AuditFilter{Action: "inspect_room", Limit: 10})
	if err != nil || len(entries) != 1 || entries[0].Actor != "ops" || entries[0].Target != "secret" {
		t.Fatalf("audit of the inspection: %+v %v", entries, err)
	}

	admin.do("inspecting a room that does not exist",
		chromedp.SetValue(chromedp.ID("inspect-room"), "nosuch"),
		chromedp.Click(chromedp.CSS("#inspect-form button[type=submit]")))
	admin.until("the form says so", `document.querySelector('#inspect-form .form-error').textContent === 'room "nosuch" does not exist'`)
}

// On a phone, the admin view is no wider than the screen on any tab, and the connections table
// becomes cards whose Kick buttons are in view.
func TestAdminViewOnAPhone(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := newBrowser(t)
	bob := newPage(t, b, "Bob", 1024, 768)
	admin := newPage(t, b, "Admin", 390, 844)
	bob.signIn(s.base()+"/", "Bob")
	admin.signInAdmin(s.base()+"/", "Ops")
	s.call(s.adminToken("Root"), "POST", "/api/admin/notifications", map[string]any{"user_id": "bob",
		"notification": map[string]string{"title": "Certificate expires in a week — renew it before the weekend", "priority": "critical"}}, http.StatusCreated)

	const fits = `document.documentElement.scrollWidth <= innerWidth &&
		document.querySelector('#admin-view').scrollWidth <= document.querySelector('#admin-view').clientWidth`
	admin.until("the chart has two samples of both connections", `(svg => svg.dataset.points >= 2 && svg.querySelector('polyline') !== null &&
		svg.closest('figure').querySelector('.chart-now').textContent === '2' && svg.getAttribute('aria-label').startsWith('Live connections: 2 now'))(
		document.querySelector('#chart-conns')) && document.querySelector('#chart-eps').dataset.points >= 2`)
	kick := `document.querySelector('#admin-connections tr[data-user=bob] button')`
	admin.until("Bob's connection shows as a card", kick+` !== null && getComputedStyle(`+kick+`.closest('tr')).display === 'grid'`)
	admin.do("scrolling Bob's card into view", chromedp.Evaluate[chromedp.Void](kick+`.scrollIntoView({ block: 'center' })`))
	admin.until("the page fits the screen and Bob's Kick button is in view", fits+` && (b => {
		const r = b.getBoundingClientRect()
		return r.width > 0 && r.left >= 0 && r.right <= innerWidth && r.top >= 0 && r.bottom <= innerHeight &&
			document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === b
	})(`+kick+`)`)
	shoot(t, "admin-phone-overview", admin)

	admin.adminTab("escalations")
	admin.until("the escalation shows as a card and the page fits", rows("escalation-list")+`.length === 1 && `+fits+` &&
		!document.querySelector('#escalations-webhook').hidden`)
	shoot(t, "admin-phone-escalations", admin)
	admin.adminTab("audit")
	admin.until("the log shows and the page fits", rows("audit-list")+`.length === 1 && `+fits)
	shoot(t, "admin-phone-audit", admin)
	admin.adminTab("rooms")
	admin.do("inspecting general", chromedp.SetValue(chromedp.ID("inspect-room"), "general"),
		chromedp.Click(chromedp.CSS("#inspect-form button[type=submit]")))
	admin.until("the room shows and the page fits", `document.querySelector('#inspect-result')?.dataset.room === 'general' && `+fits)
	shoot(t, "admin-phone-rooms", admin)
	admin.adminTab("send")
	admin.until("the forms fit", fits)
	shoot(t, "admin-phone-send", admin)
}
