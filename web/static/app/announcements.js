// announcements.js: the banner of system announcements, from GET /api/announcements/active (on
// every connect) and live system_announcement events. Each can be dismissed, which this browser
// remembers; one whose ends_at passes goes by itself.
import { $, h } from './dom.js'

const DISMISSED = 'switchboard.dismissed'
const KEEP = 100 // dismissed ids remembered
const MAX_DELAY = 2 ** 31 - 1 // setTimeout's limit
const LABEL = { maintenance: 'Maintenance', feature: 'New', warning: 'Warning' }

export class Announcements {
  constructor (sb) {
    this.sb = sb
    this.shown = new Map() // id → li
    this.list = $('#announcement-list')
    try { this.dismissed = JSON.parse(localStorage.getItem(DISMISSED)) || [] } catch { this.dismissed = [] }
    sb.on('system_announcement', (ev) => this.add(ev.data))
    sb.on('open', () => this.load())
    sb.on('reset', (ev) => { if (!ev.data?.topic?.startsWith('room:')) this.load() })
  }

  // load adds the announcements running now: those sent while this page was not connected.
  async load () {
    try {
      const { announcements } = await this.sb.request('GET', '/api/announcements/active')
      for (const a of announcements.reverse()) this.add(a) // newest first, on top
      $('#announcement-banner').dataset.loaded = 'true'
    } catch (e) {
      console.warn('announcements', e)
    }
  }

  add (a) {
    if (this.shown.has(a.id) || this.dismissed.includes(a.id)) return
    const left = a.ends_at ? Date.parse(a.ends_at) - Date.now() : Infinity
    if (left <= 0) return
    const li = h('li', { class: 'announcement', dataset: { id: a.id, type: a.type } },
      h('span', { class: 'a-type' }, LABEL[a.type] || a.type),
      h('div', { class: 'a-body' },
        h('strong', { class: 'a-title' }, a.title),
        a.message ? h('span', { class: 'a-message' }, ' ' + a.message) : null),
      h('button', { type: 'button', class: 'a-dismiss', 'aria-label': `Dismiss “${a.title}”`, onclick: () => this.dismiss(a.id) }, '×'))
    if (left < MAX_DELAY) li.timer = setTimeout(() => this.remove(a.id), left)
    this.shown.set(a.id, li)
    this.list.prepend(li)
    this.render()
  }

  dismiss (id) {
    this.dismissed = [...this.dismissed.filter((d) => d !== id), id].slice(-KEEP)
    try { localStorage.setItem(DISMISSED, JSON.stringify(this.dismissed)) } catch {}
    this.remove(id)
  }

  remove (id) {
    const li = this.shown.get(id)
    if (!li) return
    clearTimeout(li.timer)
    li.remove()
    this.shown.delete(id)
    this.render()
  }

  render () {
    $('#announcement-banner').hidden = this.shown.size === 0
  }
}
