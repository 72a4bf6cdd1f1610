// admin-escalations.js: the escalations tab — high and critical notifications on their way to
// the webhook (GET /api/admin/escalations): attempts, last error, next attempt, and a button to
// attempt one again now (POST /api/admin/escalations/:id/retry).
import { $, h } from './dom.js'
import { timeEl } from './admin-time.js'

export class Escalations {
  constructor (sb, canRetry) {
    this.sb = sb
    this.canRetry = canRetry
    this.queued = new Map() // id → attempts when retried, until a listing shows the retry's outcome
    $('#escalation-status').addEventListener('change', () => this.load())
    $('#escalations-refresh').addEventListener('click', () => this.load())
  }

  async load () {
    const status = $('#escalation-status').value
    try {
      const res = await this.sb.request('GET', '/api/admin/escalations?status=' + encodeURIComponent(status))
      this.render(res)
      $('#escalations-error').textContent = ''
    } catch (e) {
      $('#escalations-error').textContent = `Could not load escalations: ${e.message}`
    }
  }

  render ({ escalations, pending, webhook_configured: webhook }) {
    $('#escalations-webhook').hidden = webhook
    this.webhook = webhook
    $('#escalations-empty').hidden = escalations.length > 0
    $('#escalation-list').hidden = escalations.length === 0
    $('#escalation-list tbody').replaceChildren(...escalations.map((e) => this.row(e)))
    badge(pending)
  }

  row (e) {
    if (this.queued.has(e.id) && (e.status !== 'pending' || e.attempts > this.queued.get(e.id))) this.queued.delete(e.id)
    const retried = this.queued.has(e.id)
    const state = e.status === 'delivered' ? 'Delivered'
      : e.in_flight ? 'Sending now…'
        : retried ? 'Retry queued…'
          : e.attempts > 0 ? 'Failing' : 'Waiting'
    return h('tr', { dataset: { id: e.id, status: e.status, user: e.user_id, attempts: String(e.attempts) } },
      h('td', { 'data-label': 'Notification' },
        h('span', { class: 'esc-title' }, e.title || e.notification_id),
        h('span', { class: 'hint' }, ` to ${e.user_id || '?'} · `),
        h('span', { class: 'tag', dataset: { priority: e.priority } }, e.priority || '?')),
      h('td', { 'data-label': 'State' }, state),
      h('td', { 'data-label': 'Attempts', class: 'num' }, String(e.attempts)),
      h('td', { 'data-label': 'Last error', class: 'esc-error' }, e.last_error || '–'),
      h('td', { 'data-label': e.status === 'delivered' ? 'Delivered' : 'Next attempt' },
        timeEl(e.status === 'delivered' ? e.delivered_at : e.next_attempt_at)),
      h('td', { class: 'actions' }, this.canRetry && e.status === 'pending'
        ? h('button', {
          type: 'button',
          class: 'retry',
          disabled: e.in_flight || retried || !this.webhook,
          'aria-label': `Retry “${e.title || e.notification_id}” to ${e.user_id} now`,
          onclick: (ev) => this.retry(e, ev.currentTarget)
        }, 'Retry now')
        : null))
  }

  async retry (e, button) {
    button.disabled = true
    const out = $('#escalations-done')
    try {
      await this.sb.request('POST', `/api/admin/escalations/${encodeURIComponent(e.id)}/retry`)
      this.queued.set(e.id, e.attempts)
      out.textContent = `Retrying “${e.title}” to ${e.user_id} now.`
      $('#escalations-error').textContent = ''
    } catch (err) {
      $('#escalations-error').textContent = `Could not retry “${e.title}”: ${err.message}`
    }
    this.load()
  }
}

// badge shows the number pending on the tab.
function badge (pending) {
  const b = $('#escalation-count')
  if (!b) return
  b.textContent = String(pending)
  b.hidden = !pending
}
export { badge as escalationBadge }
