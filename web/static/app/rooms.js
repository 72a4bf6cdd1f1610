// rooms.js: the room list and the form that joins or creates a room. The rooms you are in
// come first — those with unread messages at the top — each group by latest activity, then
// the public rooms you are not in. A direct room is listed under the other person's name, a
// private room with a lock.
import { $, h, slug, icon, avatar } from './dom.js'

export const isDirect = (r) => r?.type === 'direct'

// roomLabel is what a room is called in the list and its header: a direct room by the other
// person's name.
export function roomLabel (r) {
  if (isDirect(r)) return r.direct_with?.user_name || r.direct_with?.user_id || 'Direct message'
  return r?.name || r?.key || ''
}

const activity = (r) => Date.parse(r.last_activity_at || r.last_message?.created_at || r.created_at) || 0

// order sorts rooms for the list: unread first, then yours, then by latest activity.
function order (a, b) {
  return (b.unread_count > 0) - (a.unread_count > 0) ||
    !!b.my_role - !!a.my_role ||
    activity(b) - activity(a) ||
    roomLabel(a).localeCompare(roomLabel(b))
}

export class Rooms {
  constructor (sb, me, onOpen) {
    this.sb = sb
    this.me = me
    this.onOpen = onOpen // called with a room key when the user picks a room
    this.onChange = () => {} // called with a room key when what is known of it changes
    this.onJoinable = () => {} // called with the key of a private room you were made a member of
    this.rooms = new Map() // key → room summary
    this.current = ''
    this.since = null // while the list loads, what changed counts, in order: {message} or {read: key, unread}
    this.list = $('#room-list')
    this.pending = new Map() // key → timer of a refresh asked for
    this.unreadOf = new Set() // keys of rooms whose next refresh takes the server's unread count
    $('#room-form').addEventListener('submit', (e) => { e.preventDefault(); this.create() })
    sb.on('chat_message', (ev) => this.onMessage(ev.data))
    sb.on('room_created', (ev) => {
      const r = ev.data
      this.upsert(r)
      this.render()
      // A private room's room_created reaches its members only: you are one of them.
      if (r.private) {
        this.onJoinable(r.key)
        this.refresh(r.key) // your role, and for a direct room who is on the other side
      }
    })
    sb.on('room_updated', (ev) => {
      if (ev.data.archived_at) this.rooms.delete(ev.data.key)
      else this.upsert(ev.data)
      this.render()
      this.onChange(ev.data.key)
    })
    for (const type of ['member_joined', 'member_left']) sb.on(type, (ev) => this.refresh(ev.room)) // the member count
  }

  // load fetches the rooms the user may see; it returns the keys of those they are a member of.
  // The answer may be older than what happened while it loaded, and that is applied again on
  // top of it, in order: rooms read take the count they were given, and messages newer than a
  // room's last message in the answer are counted. Of overlapping loads (a reconnect, a reset)
  // only the last one started is shown: an earlier answer may predate reads.
  async load () {
    const since = []
    this.since = since
    try {
      const { rooms } = await this.sb.request('GET', '/api/rooms')
      if (this.since === since) {
        const shown = this.rooms.get(this.current)
        this.rooms = new Map(rooms.map((r) => [r.key, r]))
        if (shown) this.upsert({ ...shown, ...this.rooms.get(this.current), unread_count: 0 }) // marked read as it arrives
        for (const e of since) {
          const r = this.rooms.get(e.read || e.message.room)
          if (!r) continue
          if (e.read) r.unread_count = e.unread
          else if (e.message.seq > (r.last_message?.seq ?? 0)) this.count(e.message)
        }
        this.render()
        this.onChange(this.current)
      }
      return rooms.filter((r) => r.my_role).map((r) => r.key)
    } finally {
      if (this.since === since) this.since = null
    }
  }

  // refresh fetches one room's summary again (a moment later, once for a burst of changes). Its
  // unread count is taken only with unread: the list counts as messages arrive and are read,
  // and a summary asked for before a read was recorded would undo it.
  refresh (key, { unread = false } = {}) {
    if (!key) return
    if (unread) this.unreadOf.add(key)
    if (this.pending.has(key)) return
    this.pending.set(key, setTimeout(async () => {
      this.pending.delete(key)
      const takeUnread = this.unreadOf.delete(key) && key !== this.current
      try {
        const r = await this.sb.request('GET', `/api/rooms/${encodeURIComponent(key)}`)
        if (!takeUnread && this.rooms.has(key)) delete r.unread_count
        this.upsert(r)
        this.render()
        this.onChange(key)
      } catch (e) {
        if (e.status !== 404) console.warn('room', key, e)
      }
    }, 200))
  }

  upsert (room) {
    this.rooms.set(room.key, { unread_count: 0, ...this.rooms.get(room.key), ...room })
  }

  select (key) {
    this.current = key
    if (!this.rooms.has(key)) this.upsert({ key, name: key })
    this.setUnread(key, 0)
    this.list.querySelector(`[data-room="${CSS.escape(key)}"]`)?.scrollIntoView({ block: 'nearest', inline: 'nearest' })
  }

  // setUnread shows a room's unread count as reading it left it.
  setUnread (key, n) {
    this.since?.push({ read: key, unread: n })
    const r = this.rooms.get(key)
    if (r) r.unread_count = n
    this.render()
  }

  onMessage (m) {
    this.since?.push({ message: m })
    this.count(m)
    this.render()
  }

  // count takes a message into its room's activity and, unless you are reading it, its unread count.
  count (m) {
    const r = this.rooms.get(m.room)
    if (!r) return
    r.last_activity_at = m.created_at
    if (m.user_id !== this.me.id && (m.room !== this.current || document.hidden)) r.unread_count = (r.unread_count || 0) + 1
  }

  // render updates the list in place: a button keeps its element, and moves only when its
  // place changes, so that one being clicked or holding the focus stays as it is.
  render () {
    const old = new Map([...this.list.children].map((li) => [li.firstChild.dataset.room, li]))
    const items = [...this.rooms.values()].sort(order).map((r) => this.item(old.get(r.key), r))
    const focused = this.list.contains(document.activeElement) ? document.activeElement : null
    items.forEach((li, i) => { if (this.list.children[i] !== li) this.list.insertBefore(li, this.list.children[i] || null) })
    while (this.list.children.length > items.length) this.list.lastElementChild.remove()
    if (focused?.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true })
  }

  item (li, r) {
    li ??= h('li', {}, h('button', { type: 'button', class: 'room', dataset: { room: r.key }, onclick: () => this.onOpen(r.key) }))
    const button = li.firstChild
    if (r.key === this.current) button.setAttribute('aria-current', 'true')
    else button.removeAttribute('aria-current')
    const n = r.unread_count || 0
    const direct = isDirect(r)
    const label = roomLabel(r)
    const look = JSON.stringify([label, n, direct, !!r.private, r.direct_with?.user_id, !!r.my_role])
    if (button.dataset.look === look) return li
    button.dataset.look = look
    button.classList.toggle('joined', !!r.my_role)
    button.title = label
    button.setAttribute('aria-label', label + (direct ? ', direct message' : r.private ? ', private' : '') + (n ? `, ${n} unread` : ''))
    button.replaceChildren(...[
      direct ? avatar(r.direct_with?.user_id || r.key, label)
        : h('span', { class: 'room-icon', 'aria-hidden': 'true' }, r.private ? icon('lock') : '#'),
      h('span', { class: 'room-name' }, label),
      n ? h('span', { class: 'badge unread', 'aria-hidden': 'true' }, n > 99 ? '99+' : String(n)) : null].filter(Boolean))
    return li
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
      const room = await this.sb.request('POST', '/api/rooms', { name, key, private: $('#new-room-private').checked })
      this.upsert({ my_role: 'admin', member_count: 1, ...room }) // the creator is its admin
    } catch (e) {
      if (e.code !== 'room_exists') { err.textContent = e.message; return }
    }
    input.value = ''
    $('#new-room-private').checked = false
    this.onOpen(key)
  }

  // direct opens your direct room with a user, creating it the first time.
  async direct (user) {
    try {
      const room = await this.sb.request('POST', '/api/rooms', { type: 'direct', members: [user.user_id] })
      this.upsert({ my_role: 'admin', member_count: 2, ...room, direct_with: { user_id: user.user_id, user_name: user.user_name } })
      this.onOpen(room.key)
    } catch (e) {
      $('#room-error').textContent = `Cannot message ${user.user_name || user.user_id}: ${e.message}`
    }
  }
}
