// admin.js: the admin view. Live stats and connections, refreshed while the view is shown, and
// the forms that send a notification, broadcast an announcement and disconnect a user. Each
// part is shown only to holders of its permission (data-perm); an error from the server shows
// next to the field it names (data-error-for), or under the form when it names none.
import { $, h, when } from './dom.js'

const REFRESH_MS = 3000
const PERMISSIONS = ['admin.connections', 'notifications.send', 'announcements.send']
const TRANSPORTS = { ws: 'WebSocket', sse: 'SSE', poll: 'long-poll' }

export class Admin {
  /** allowed reports whether permissions open the admin view. */
  static allowed (permissions = []) {
    return PERMISSIONS.some((p) => permissions.includes(p))
  }

  constructor (sb, permissions) {
    this.sb = sb
    this.view = $('#admin-view')
    this.watch = permissions.includes('admin.connections')
    for (const el of this.view.querySelectorAll('[data-perm]')) el.hidden = !permissions.includes(el.dataset.perm)
    $('#admin-refresh').addEventListener('click', () => this.refresh())
    wire($('#notify-form'), (f) => this.notify(f))
    wire($('#announce-form'), (f) => this.announce(f))
    wire($('#kick-form'), (f) => this.kick(f))
    document.addEventListener('visibilitychange', () => document.hidden ? clearTimeout(this.timer) : this.visible && this.refresh())
  }

  show (room) {
    $('#admin-back').href = '#room=' + encodeURIComponent(room)
    this.visible = true
    this.view.hidden = false
    this.refresh()
  }

  hide () {
    this.visible = false
    this.view.hidden = true
    clearTimeout(this.timer)
  }

  // refresh loads the stats and the connections, and again every few seconds while the view
  // is shown and the page visible.
  async refresh () {
    clearTimeout(this.timer)
    if (!this.watch) return
    try {
      const [stats, conns] = await Promise.all([
        this.sb.request('GET', '/api/admin/stats'),
        this.sb.request('GET', '/api/admin/connections')])
      this.renderStats(stats)
      this.renderConns(conns.connections)
      const now = new Date()
      $('#admin-updated').dateTime = now.toISOString()
      $('#admin-updated').textContent = now.toLocaleTimeString()
      $('#admin-conns-error').textContent = ''
    } catch (e) {
      $('#admin-conns-error').textContent = `Could not refresh: ${e.message}`
    }
    clearTimeout(this.timer)
    if (this.visible && !document.hidden) this.timer = setTimeout(() => this.refresh(), REFRESH_MS)
  }

  renderStats (st) {
    const by = st.by_transport || {}
    const rows = [
      ['connections', 'Connections', st.connections],
      ['ws', 'WebSocket', by.ws || 0],
      ['sse', 'SSE', by.sse || 0],
      ['poll', 'Long-poll', by.poll || 0],
      ['rooms', 'Rooms', st.rooms],
      ['eps', 'Events per second', (st.events_per_second || 0).toFixed(1)],
      ['delivered', 'Delivered', st.delivered_total],
      ['escalations', 'Escalations pending', st.escalations_pending]
    ]
    $('#admin-stats').replaceChildren(...rows.map(([key, label, value]) =>
      h('div', { class: 'stat', dataset: { stat: key } }, h('dt', {}, label), h('dd', {}, String(value ?? '–')))))
  }

  renderConns (list) {
    $('#admin-conn-count').textContent = String(list.length)
    $('#admin-connections tbody').replaceChildren(...list.map((c) => {
      const who = c.user_name && c.user_name !== c.user_id ? `${c.user_name} (${c.user_id})` : c.user_id
      return h('tr', { dataset: { conn: c.connection_id, user: c.user_id } },
        h('td', {}, who, c.connection_id === this.sb.connectionId ? h('span', { class: 'hint' }, ' · this tab') : null),
        h('td', {}, TRANSPORTS[c.transport] || c.transport),
        h('td', {}, (c.rooms || []).join(', ')),
        h('td', {}, h('time', { datetime: c.connected_at }, when(c.connected_at))),
        h('td', {}, h('time', { datetime: c.last_activity }, when(c.last_activity))),
        h('td', {}, c.remote_addr),
        h('td', { title: c.user_agent }, browser(c.user_agent)),
        h('td', {}, h('button', { type: 'button', class: 'danger', 'aria-label': `Disconnect ${who}`, onclick: () => this.pick(c.user_id) }, 'Kick')))
    }))
    const users = [...new Set(list.map((c) => c.user_id))].sort()
    $('#known-users').replaceChildren(...users.map((u) => h('option', { value: u })))
  }

  // pick fills the kick form with a user from the table.
  pick (user) {
    const f = $('#kick-form')
    f.elements.user.value = user
    f.scrollIntoView({ block: 'nearest' })
    f.elements.reason.focus()
  }

  async notify (f) {
    const v = values(f)
    const n = { title: v['notification.title'], message: v['notification.message'], type: v['notification.type'], priority: v['notification.priority'] }
    if (v['notification.action_url']) n.action_url = v['notification.action_url']
    if (v['notification.action_text']) n.action_text = v['notification.action_text']
    const sent = await this.sb.request('POST', '/api/admin/notifications', { user_id: v.user_id, notification: n })
    for (const name of ['notification.title', 'notification.message', 'notification.action_url', 'notification.action_text']) f.elements.namedItem(name).value = ''
    return `Sent “${sent.title}” to ${sent.user_id}.`
  }

  async announce (f) {
    const v = values(f)
    const body = { title: v.title, message: v.message, type: v.type }
    const roles = v.target_roles.split(',').map((r) => r.trim()).filter(Boolean)
    if (roles.length) body.target_roles = roles
    // datetime-local is the viewer's local time; the server takes RFC 3339.
    if (v.starts_at) body.starts_at = new Date(v.starts_at).toISOString()
    if (v.ends_at) body.ends_at = new Date(v.ends_at).toISOString()
    const a = await this.sb.request('POST', '/api/admin/announcements', body)
    f.reset()
    const later = Date.parse(a.starts_at) > Date.now() ? `, from ${when(a.starts_at)}` : ''
    return `Broadcast “${a.title}” to ${roles.length ? 'roles ' + roles.join(', ') : 'everyone'}${later}.`
  }

  async kick (f) {
    const { user, reason } = values(f)
    if (!user) throw Object.assign(new Error('Name the user to disconnect.'), { field: 'user' })
    const r = await this.sb.request('DELETE', `/api/admin/users/${encodeURIComponent(user)}/connections`, reason ? { reason } : undefined)
    f.reset()
    this.refresh()
    return `Disconnected ${r.kicked} connection${r.kicked === 1 ? '' : 's'} of ${r.user_id}.`
  }
}

// wire submits a form with send(form), which resolves with a confirmation or throws the
// server's error.
function wire (f, send) {
  f.addEventListener('submit', async (e) => {
    e.preventDefault()
    clearErrors(f)
    const button = f.querySelector('button[type=submit]')
    button.disabled = true
    try {
      f.querySelector('.ok').textContent = await send(f)
    } catch (err) {
      showError(f, err)
    } finally {
      button.disabled = false
    }
  })
  f.addEventListener('input', (e) => { if (e.target.name) clearError(f, e.target.name) })
}

function values (f) {
  return Object.fromEntries([...new FormData(f)].map(([k, v]) => [k, String(v).trim()]))
}

// showError puts the error next to the field it names, or under the form.
function showError (f, err) {
  const slot = err.field && f.querySelector(`[data-error-for="${CSS.escape(err.field)}"]`)
  if (!slot) {
    f.querySelector('.form-error').textContent = err.status === 403 ? `Not allowed: ${err.message}` : err.message
    return
  }
  slot.textContent = err.message
  const input = f.elements.namedItem(err.field)
  input?.setAttribute('aria-invalid', 'true')
  input?.focus()
}

function clearError (f, field) {
  const slot = f.querySelector(`[data-error-for="${CSS.escape(field)}"]`)
  if (slot) slot.textContent = ''
  f.elements.namedItem(field)?.removeAttribute('aria-invalid')
}

function clearErrors (f) {
  for (const el of f.querySelectorAll('[data-error-for]')) clearError(f, el.dataset.errorFor)
  f.querySelector('.form-error').textContent = ''
  f.querySelector('.ok').textContent = ''
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
