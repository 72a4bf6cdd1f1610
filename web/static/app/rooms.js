// rooms.js: the room list with unread counts, and the form that joins or creates a room.
import { $, h, slug } from './dom.js'

export class Rooms {
  constructor (sb, me, onOpen) {
    this.sb = sb
    this.me = me
    this.onOpen = onOpen // called with a room key when the user picks a room
    this.rooms = new Map() // key → room summary
    this.current = ''
    this.list = $('#room-list')
    $('#room-form').addEventListener('submit', (e) => { e.preventDefault(); this.create() })
    sb.on('chat_message', (ev) => this.onMessage(ev.data))
    sb.on('room_created', (ev) => { this.upsert(ev.data); this.render() })
    sb.on('room_updated', (ev) => {
      if (ev.data.archived_at) this.rooms.delete(ev.data.key)
      else this.upsert(ev.data)
      this.render()
    })
  }

  // load fetches the rooms the user may see; it returns the keys of those they are a member of.
  async load () {
    const { rooms } = await this.sb.request('GET', '/api/rooms')
    const shown = this.rooms.get(this.current)
    this.rooms = new Map(rooms.map((r) => [r.key, r]))
    if (shown) this.upsert({ ...shown, ...this.rooms.get(this.current), unread_count: 0 }) // marked read as it arrives
    this.render()
    return rooms.filter((r) => r.my_role).map((r) => r.key)
  }

  upsert (room) {
    this.rooms.set(room.key, { unread_count: 0, ...this.rooms.get(room.key), ...room })
  }

  select (key) {
    this.current = key
    if (!this.rooms.has(key)) this.upsert({ key, name: key })
    this.setUnread(key, 0)
  }

  setUnread (key, n) {
    const r = this.rooms.get(key)
    if (r) r.unread_count = n
    this.render()
  }

  onMessage (m) {
    const r = this.rooms.get(m.room)
    if (!r || m.user_id === this.me.id) return
    if (m.room !== this.current || document.hidden) r.unread_count = (r.unread_count || 0) + 1
    this.render()
  }

  // render updates the list in place: a button that is being clicked or has the focus stays
  // the same element.
  render () {
    const old = new Map([...this.list.children].map((li) => [li.firstChild.dataset.room, li]))
    const items = [...this.rooms.values()].map((r) => {
      const n = r.unread_count || 0
      const li = old.get(r.key) || h('li', {}, h('button', { type: 'button', class: 'room', dataset: { room: r.key }, onclick: () => this.onOpen(r.key) }))
      const button = li.firstChild
      if (r.key === this.current) button.setAttribute('aria-current', 'true')
      else button.removeAttribute('aria-current')
      button.setAttribute('aria-label', `${r.name || r.key}${n ? `, ${n} unread` : ''}`)
      button.replaceChildren(h('span', { class: 'room-name' }, '#' + (r.name || r.key)))
      if (n) button.append(h('span', { class: 'badge unread', 'aria-hidden': 'true' }, String(n)))
      return li
    })
    const shown = this.list.children
    if (items.length !== shown.length || items.some((li, i) => li !== shown[i])) this.list.replaceChildren(...items)
  }

  // create opens the room named in the form, creating it when it does not exist yet.
  async create () {
    const input = $('#room-name')
    const err = $('#room-error')
    const name = input.value.trim()
    const key = slug(name)
    err.textContent = ''
    if (!key) { err.textContent = 'Use at least one letter or digit.'; return }
    try {
      this.upsert({ my_role: 'admin', ...await this.sb.request('POST', '/api/rooms', { name, key }) }) // the creator is its admin
    } catch (e) {
      if (e.code !== 'room_exists') { err.textContent = e.message; return }
    }
    input.value = ''
    this.onOpen(key)
  }
}
