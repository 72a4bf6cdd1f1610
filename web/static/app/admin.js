// admin.js: the admin view, in tabs. Overview: live stats, a chart of the last minutes and the
// live connections, refreshed while the view is shown, with the form that disconnects a user.
// Rooms: the room inspector. Escalations: notifications on their way to the webhook, and
// retrying one. Audit log: administrative actions, filtered. Send: a notification, an
// announcement, a published event. Each tab and form is there only for holders of its
// permission (data-perm in admin.html); the server checks them again on every request.
import { $, h } from './dom.js'
import { wire } from './admin-forms.js'
import { timeEl, refreshTimes, full } from './admin-time.js'
import { Chart } from './admin-chart.js'
import { AuditLog } from './admin-audit.js'
import { Escalations, escalationBadge } from './admin-escalations.js'
import { RoomInspector } from './admin-rooms.js'
import { notify, announce, publish } from './admin-send.js'

const REFRESH_MS = 3000
const PERMISSIONS = ['admin.connections', 'notifications.send', 'announcements.send', 'publish']
const TRANSPORTS = { ws: 'WebSocket', sse: 'SSE', poll: 'long-poll' }
const TAB = 'switchboard.admin.tab' // the tab last shown, for this browser tab

export class Admin {
  /** allowed reports whether permissions open the admin view. */
  static allowed (permissions = []) {
    return PERMISSIONS.some((p) => permissions.includes(p))
  }

  constructor (sb, permissions) {
    this.sb = sb
    this.permissions = permissions
    this.view = $('#admin-view')
    this.watch = permissions.includes('admin.connections')
    this.loaded = null // the markup, once show has asked for it
    this.tab = null // the tab shown
    document.addEventListener('visibilitychange', () => document.hidden ? clearTimeout(this.timer) : this.visible && this.refresh())
  }

  // load fetches the view's markup (app/admin.html) once and wires it.
  load () {
    this.loaded ??= fetch('/app/admin.html').then((res) => {
      if (!res.ok) throw new Error(`the admin view could not be loaded (${res.status})`)
      return res.text()
    }).then((html) => {
      this.view.innerHTML = html
      for (const el of this.view.querySelectorAll('[data-perm]')) {
        if (!el.dataset.perm.split(' ').some((p) => this.permissions.includes(p))) el.remove()
      }
      this.wire()
    }).catch((e) => {
      this.loaded = null // try again on the next show
      this.view.replaceChildren(h('p', { class: 'error', role: 'alert' }, e.message))
      throw e
    })
    return this.loaded
  }

  wire () {
    const can = (p) => this.permissions.includes(p)
    this.tabs = [...this.view.querySelectorAll('[role=tab]')]
    for (const tab of this.tabs) tab.addEventListener('click', () => this.select(tab.dataset.tab))
    $('#admin-tabs').addEventListener('keydown', (e) => this.key(e))
    if (this.watch) {
      $('#admin-refresh').addEventListener('click', () => this.refresh())
      wire($('#kick-form'), (f) => this.kick(f))
      this.chart = new Chart({ eps: $('#chart-eps'), conns: $('#chart-conns') })
      this.chart.draw()
      this.audit = new AuditLog(this.sb)
      this.escalations = new Escalations(this.sb, can('notifications.send'))
      this.inspector = new RoomInspector(this.sb)
    }
    wire($('#notify-form'), (f) => notify(this.sb, f))
    wire($('#announce-form'), (f) => announce(this.sb, f))
    wire($('#publish-form'), (f) => publish(this.sb, f))
    let first = null
    try { first = sessionStorage.getItem(TAB) } catch {}
    this.select(this.tabs.some((t) => t.dataset.tab === first) ? first : this.tabs[0]?.dataset.tab, false)
  }

  async show (room) {
    this.visible = true
    this.view.hidden = false
    this.room = room
    try { await this.load() } catch { return }
    if (!this.visible) return
    $('#admin-back').href = '#room=' + encodeURIComponent(this.room)
    this.refresh()
    if (this.watch) this.sb.request('GET', '/api/rooms?limit=200').then((r) => this.inspector.offer(r.rooms.map((x) => x.key))).catch(() => {})
  }

  hide () {
    this.visible = false
    this.view.hidden = true
    clearTimeout(this.timer)
  }

  // select shows a tab's panel (and, with focus, moves the focus to the tab).
  select (name, focus = false) {
    if (!name) return
    this.tab = name
    for (const tab of this.tabs) {
      const on = tab.dataset.tab === name
      tab.setAttribute('aria-selected', String(on))
      tab.tabIndex = on ? 0 : -1
      $('#' + tab.getAttribute('aria-controls')).hidden = !on
      if (on && focus) tab.focus()
    }
    try { sessionStorage.setItem(TAB, name) } catch {}
    if (name === 'audit') this.audit.show()
    if (name === 'escalations' || name === 'overview') this.refresh()
  }

  // key moves between tabs with the arrow keys, Home and End, as the ARIA tabs pattern does.
  key (e) {
    const i = this.tabs.findIndex((t) => t.dataset.tab === this.tab)
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: this.tabs.length - 1 }[e.key]
    if (to === undefined) return
    e.preventDefault()
    this.select(this.tabs[(to + this.tabs.length) % this.tabs.length].dataset.tab, true)
  }

  // refresh loads the stats — for the tiles, the chart and the escalations' count — and what
  // the tab shown lists, and again every few seconds while the view is shown and the page
  // visible.
  async refresh () {
    clearTimeout(this.timer)
    if (!this.watch || !this.visible) return
    try {
      const [stats, conns] = await Promise.all([
        this.sb.request('GET', '/api/admin/stats'),
        this.tab === 'overview' ? this.sb.request('GET', '/api/admin/connections') : null,
        this.tab === 'escalations' ? this.escalations.load() : null])
      this.renderStats(stats)
      if (conns) this.renderConns(conns.connections, conns.count)
      const now = new Date()
      $('#admin-updated').dateTime = now.toISOString()
      $('#admin-updated').title = full(now)
      $('#admin-updated').textContent = now.toLocaleTimeString()
      $('#admin-conns-error').textContent = ''
    } catch (e) {
      $('#admin-conns-error').textContent = `Could not refresh: ${e.message}`
    }
    refreshTimes(this.view)
    clearTimeout(this.timer)
    if (this.visible && !document.hidden) this.timer = setTimeout(() => this.refresh(), REFRESH_MS)
  }

  renderStats (st) {
    const by = st.by_transport || {}
    const nodes = st.nodes || 1
    const here = nodes > 1 ? `on this node (of ${nodes})` : 'on this server'
    const tiles = [
      ['connections', 'Live connections', st.connections, `${here}, every transport`],
      ['ws', 'WebSocket', by.ws || 0, 'live connections'],
      ['sse', 'SSE', by.sse || 0, 'live connections'],
      ['poll', 'Long-poll', by.poll || 0, 'live connections'],
      ['rooms-live', 'Rooms with live connections', st.rooms_live ?? st.rooms, `someone subscribed ${here}`],
      ['rooms-total', 'Rooms', st.rooms_total, 'that exist, not archived'],
      ['eps', 'Events per second', (st.events_per_second || 0).toFixed(1), 'published, last 10 s'],
      ['delivered', 'Frames delivered', st.delivered_total, 'since this node started'],
      ['escalations', 'Escalations pending', st.escalations_pending, 'not yet accepted by the webhook']
    ]
    $('#admin-stats').replaceChildren(...tiles.map(([key, label, value, note]) =>
      h('div', { class: 'stat', dataset: { stat: key } },
        h('dt', {}, label), h('dd', {}, String(value ?? '–')), h('dd', { class: 'stat-note' }, note))))
    this.chart.add({ t: Date.now(), eps: st.events_per_second || 0, conns: st.connections || 0 })
    escalationBadge(st.escalations_pending)
  }

  renderConns (list, count = list.length) {
    $('#admin-conn-count').textContent = String(count)
    $('#admin-connections tbody').replaceChildren(...list.map((c) => {
      const who = c.user_name && c.user_name !== c.user_id ? `${c.user_name} (${c.user_id})` : c.user_id
      return h('tr', { dataset: { conn: c.connection_id, user: c.user_id } },
        h('td', { 'data-label': 'User', class: 'who-cell' }, who, c.connection_id === this.sb.connectionId ? h('span', { class: 'hint' }, ' · this tab') : null),
        h('td', { 'data-label': 'Transport' }, TRANSPORTS[c.transport] || c.transport),
        h('td', { 'data-label': 'Rooms' }, ...(c.rooms || []).flatMap((r, i) => [i ? ', ' : null,
          h('a', { href: '#admin', class: 'room-link', onclick: (e) => { e.preventDefault(); this.inspect(r) } }, r)])),
        h('td', { 'data-label': 'Connected' }, timeEl(c.connected_at)),
        h('td', { 'data-label': 'Last activity' }, timeEl(c.last_activity)),
        h('td', { 'data-label': 'Address', class: 'mono' }, c.remote_addr),
        h('td', { 'data-label': 'Browser', title: c.user_agent }, browser(c.user_agent)),
        h('td', { class: 'actions' }, h('button', { type: 'button', class: 'danger', 'aria-label': `Disconnect ${who}`, onclick: () => this.pick(c.user_id) }, 'Kick')))
    }))
    const users = [...new Set(list.map((c) => c.user_id))].sort()
    $('#known-users').replaceChildren(...users.map((u) => h('option', { value: u })))
    this.inspector.offer(new Set(list.flatMap((c) => c.rooms || [])))
  }

  // inspect opens a room in the inspector's tab.
  inspect (room) {
    this.select('rooms', true)
    this.inspector.open(room)
  }

  // pick fills the kick form with a user from the table.
  pick (user) {
    const f = $('#kick-form')
    f.elements.user.value = user
    f.scrollIntoView({ block: 'nearest' })
    f.elements.reason.focus()
  }

  async kick (f) {
    const user = f.elements.user.value.trim()
    const reason = f.elements.reason.value.trim()
    if (!user) throw Object.assign(new Error('Name the user to disconnect.'), { field: 'user' })
    const r = await this.sb.request('DELETE', `/api/admin/users/${encodeURIComponent(user)}/connections`, reason ? { reason } : undefined)
    f.reset()
    this.refresh()
    return `Disconnected ${r.kicked} connection${r.kicked === 1 ? '' : 's'} of ${r.user_id}.`
  }
}

// browser names the browser of a user agent, roughly: the table has little room.
function browser (ua = '') {
  for (const [re, name] of [[/Edg\/(\d+)/, 'Edge'], [/OPR\/(\d+)/, 'Opera'], [/Firefox\/(\d+)/, 'Firefox'],
    [/Chrom(?:e|ium)\/(\d+)/, 'Chrome'], [/Version\/(\d+).*Safari/, 'Safari'], [/^curl\/([\d.]+)/, 'curl']]) {
    const m = ua.match(re)
    if (m) return `${name} ${m[1]}`
  }
  return ua.slice(0, 24) || '–'
}
