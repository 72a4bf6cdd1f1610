// admin-audit.js: the audit log tab — administrative actions, newest first, filtered by action,
// actor, target and time range (GET /api/admin/audit), a page at a time.
import { $, h } from './dom.js'
import { wire, values, fieldError } from './admin-forms.js'
import { timeEl } from './admin-time.js'

const PAGE = 50

export class AuditLog {
  constructor (sb) {
    this.sb = sb
    this.form = $('#audit-form')
    this.next = '' // next_before of the last page shown
    this.query = null // the filters of the list shown
    wire(this.form, () => this.load())
    this.form.addEventListener('reset', () => setTimeout(() => this.form.requestSubmit()))
    $('#audit-more').addEventListener('click', () => this.more())
  }

  // show loads the log the first time its tab opens.
  show () {
    if (!this.query) this.form.requestSubmit()
  }

  // load shows the first page matching the form's filters.
  async load () {
    const v = values(this.form)
    const q = new URLSearchParams({ limit: String(PAGE) })
    for (const k of ['action', 'actor', 'target']) if (v[k]) q.set(k, v[k])
    // datetime-local is the viewer's local time; the server takes RFC 3339.
    for (const k of ['since', 'until']) {
      if (!v[k]) continue
      const d = new Date(v[k])
      if (Number.isNaN(d.getTime())) throw fieldError(k, `${k} is not a date and time`)
      q.set(k, d.toISOString())
    }
    const page = await this.sb.request('GET', '/api/admin/audit?' + q)
    this.query = q
    $('#audit-list tbody').replaceChildren(...page.entries.map(row))
    this.paged(page)
    const n = page.entries.length
    return n === 0 ? 'No entries match.' : `${n}${page.next_before ? '+' : ''} entr${n === 1 ? 'y' : 'ies'}.`
  }

  async more () {
    const q = new URLSearchParams(this.query)
    q.set('before', this.next)
    const button = $('#audit-more')
    button.disabled = true
    try {
      const page = await this.sb.request('GET', '/api/admin/audit?' + q)
      $('#audit-list tbody').append(...page.entries.map(row))
      this.paged(page)
    } catch (e) {
      this.form.querySelector('.form-error').textContent = e.message
    } finally {
      button.disabled = false
    }
  }

  paged (page) {
    this.next = page.next_before || ''
    $('#audit-more').hidden = !this.next
    $('#audit-list').dataset.count = String($('#audit-list tbody').children.length)
  }
}

function row (e) {
  return h('tr', { dataset: { id: e.id, action: e.action } },
    h('td', { 'data-label': 'When' }, timeEl(e.created_at)),
    h('td', { 'data-label': 'Actor', class: 'mono' }, e.actor),
    h('td', { 'data-label': 'Action' }, h('span', { class: 'tag' }, e.action)),
    h('td', { 'data-label': 'Target', class: 'mono' }, e.target || '–'),
    h('td', { 'data-label': 'Details', class: 'details' }, details(e.details)))
}

// details shows an entry's details as key: value pairs.
function details (d = {}) {
  const entries = Object.entries(d)
  if (!entries.length) return '–'
  return h('dl', { class: 'kv' }, entries.flatMap(([k, v]) =>
    [h('dt', {}, k), h('dd', {}, typeof v === 'string' ? v : JSON.stringify(v))]))
}
