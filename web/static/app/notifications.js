// notifications.js: the bell with its unread badge, the list of your notifications with
// mark-read and mark-all-read, and a toast for each one that arrives.
//
// The badge counts locally as notifications arrive, and takes the server's count whenever one
// comes: on every (re)connect, with every notification_read (so every tab agrees), and a moment
// after a burst of arrivals (so a replayed one is never counted twice).
import { $, h, when, safeURL } from './dom.js'

const PAGE = 20
const TOAST_MS = 8000 // low and medium ones fade; high and critical ones stay until dismissed
const MAX_TOASTS = 3

export class Notifications {
  constructor (sb) {
    this.sb = sb
    this.unread = 0
    this.items = new Map() // id → li, for the notifications listed
    this.next = '' // next_cursor of the oldest page listed
    this.loaded = false // the list holds its first page
    this.toasts = new Map() // id → toast element
    this.bell = $('#bell')
    this.badge = $('#bell-badge')
    this.panel = $('#bell-panel')
    this.list = $('#notification-list')
    this.more = $('#notifications-more')

    this.bell.addEventListener('click', () => this.toggle())
    $('#mark-all-read').addEventListener('click', () => this.markAllRead())
    this.more.addEventListener('click', () => this.load(this.next))
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && !this.panel.hidden) { this.toggle(false); this.bell.focus() }
    })
    document.addEventListener('click', (e) => {
      if (!this.panel.hidden && !$('#bell-slot').contains(e.target)) this.toggle(false)
    })

    sb.on('notification', (ev) => this.arrive(ev.data))
    sb.on('notification_read', (ev) => this.read(ev.data))
    sb.on('open', () => this.count())
    sb.on('reset', (ev) => { // a gap in your history: what is listed may be stale
      if (ev.data?.topic && !ev.data.topic.startsWith('user:')) return
      this.count()
      if (this.loaded) this.load()
    })
  }

  // count takes the server's unread count. An arrival while it is asked for asks again, since
  // the answer may not include it.
  async count () {
    if (this.counting) { this.again = true; return }
    this.counting = true
    try {
      do {
        this.again = false
        const { unread_count: n } = await this.sb.request('GET', '/api/notifications/unread-count')
        if (!this.again) this.setUnread(n)
      } while (this.again)
    } catch (e) {
      console.warn('unread notifications', e)
    } finally {
      this.counting = false
    }
  }

  setUnread (n) {
    this.unread = Math.max(0, n)
    this.badge.textContent = this.unread > 99 ? '99+' : String(this.unread)
    this.badge.hidden = this.unread === 0
    this.bell.setAttribute('aria-label', this.unread ? `Notifications, ${this.unread} unread` : 'Notifications')
    document.title = (this.unread ? `(${this.unread}) ` : '') + 'Switchboard'
  }

  // arrive handles a notification event: the badge, the list when it is loaded, a toast.
  arrive (n) {
    if (this.items.has(n.id) || this.toasts.has(n.id)) return
    if (this.counting) this.again = true
    clearTimeout(this.recount)
    this.recount = setTimeout(() => this.count(), 500)
    if (n.read) return
    this.setUnread(this.unread + 1)
    if (this.loaded) {
      this.list.prepend(this.item(n))
      this.showEmpty()
    }
    this.toast(n)
  }

  // read applies a notification_read event: {ids, all, unread_count}.
  read ({ ids = [], all, unread_count: n }) {
    if (this.counting) this.again = true
    this.setUnread(n)
    for (const id of all ? [...this.items.keys(), ...this.toasts.keys()] : ids) {
      const li = this.items.get(id)
      if (li) li.dataset.read = 'true'
      this.dropToast(id)
    }
  }

  async markRead (id) {
    try {
      this.read({ ids: [id], ...await this.sb.request('PATCH', `/api/notifications/${encodeURIComponent(id)}/read`) })
    } catch (e) {
      this.error(`Could not mark it read: ${e.message}`)
    }
  }

  async markAllRead () {
    try {
      this.read({ all: true, ...await this.sb.request('PATCH', '/api/notifications/mark-all-read') })
    } catch (e) {
      this.error(`Could not mark them read: ${e.message}`)
    }
  }

  toggle (open = this.panel.hidden) {
    this.panel.hidden = !open
    this.bell.setAttribute('aria-expanded', String(open))
    if (open && !this.loaded) this.load()
  }

  // load shows the newest page of notifications, or appends the page before cursor.
  async load (cursor = '') {
    const q = new URLSearchParams({ limit: PAGE })
    if (cursor) q.set('cursor', cursor)
    this.error('')
    try {
      const page = await this.sb.request('GET', '/api/notifications?' + q)
      if (!cursor) {
        this.list.replaceChildren()
        this.items.clear()
      }
      for (const n of page.notifications) if (!this.items.has(n.id)) this.list.append(this.item(n))
      this.next = page.next_cursor || ''
      this.more.hidden = !this.next
      this.loaded = true
      if (!this.counting) this.setUnread(page.unread_count)
      this.showEmpty()
    } catch (e) {
      this.error(`Could not load notifications: ${e.message}`)
    }
  }

  item (n) {
    const li = h('li', { class: 'notification', dataset: { id: n.id, type: n.type, priority: n.priority, read: String(!!n.read) } },
      h('p', { class: 'n-title' }, n.title),
      n.message ? h('p', { class: 'n-message' }, n.message) : null,
      h('div', { class: 'n-foot' },
        h('time', { datetime: n.created_at, title: new Date(n.created_at).toLocaleString() }, when(n.created_at)),
        this.action(n),
        h('button', { type: 'button', class: 'mark-read', 'aria-label': `Mark “${n.title}” read`, onclick: () => this.markRead(n.id) },
          'Mark read')))
    this.items.set(n.id, li)
    return li
  }

  // action is the notification's link (action_url, action_text); following it marks it read.
  action (n) {
    const href = safeURL(n.action_url)
    if (!href) return null
    const external = new URL(href).origin !== location.origin
    return h('a', {
      class: 'n-action', href, target: external ? '_blank' : null, rel: external ? 'noopener' : null,
      onclick: () => this.isUnread(n.id) && this.markRead(n.id)
    }, n.action_text || 'Open')
  }

  isUnread (id) {
    const li = this.items.get(id)
    return li ? li.dataset.read !== 'true' : this.toasts.has(id)
  }

  showEmpty () {
    $('#notifications-empty').hidden = !this.loaded || this.items.size > 0
  }

  error (text) {
    $('#notifications-error').textContent = text
  }

  toast (n) {
    const el = h('div', {
      class: 'toast', dataset: { id: n.id, type: n.type, priority: n.priority }, role: n.priority === 'critical' ? 'alert' : null
    },
    h('div', { class: 'toast-body' },
      h('strong', { class: 'toast-title' }, n.title),
      n.message ? h('p', { class: 'toast-message' }, n.message) : null,
      h('div', { class: 'toast-actions' },
        this.action(n),
        h('button', { type: 'button', class: 'toast-read', onclick: () => this.markRead(n.id) }, 'Mark read'))),
    h('button', { type: 'button', class: 'toast-close', 'aria-label': `Dismiss “${n.title}”`, onclick: () => this.dropToast(n.id) }, '×'))
    this.toasts.set(n.id, el)
    $('#toasts').append(el)
    while (this.toasts.size > MAX_TOASTS) this.dropToast(this.toasts.keys().next().value)
    if (n.priority === 'high' || n.priority === 'critical') return
    // A toast fades after a while, but not while it is pointed at or focused.
    const hold = () => clearTimeout(el.timer)
    const fade = () => { hold(); el.timer = setTimeout(() => this.dropToast(n.id), TOAST_MS) }
    el.addEventListener('mouseenter', hold)
    el.addEventListener('focusin', hold)
    el.addEventListener('mouseleave', fade)
    el.addEventListener('focusout', fade)
    fade()
  }

  dropToast (id) {
    const el = this.toasts.get(id)
    if (!el) return
    clearTimeout(el.timer)
    this.toasts.delete(id)
    el.remove()
  }
}
