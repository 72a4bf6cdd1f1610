// presence.js: who is online in the current room, with their status; you are marked "(you)",
// and anyone else can be sent a direct message from the list.
import { $, h, icon } from './dom.js'

export class Presence {
  constructor (sb, me, onMessage) {
    this.sb = sb
    this.me = me
    this.onMessage = onMessage // called with a user ({user_id, user_name}) to message directly
    this.room = ''
    this.users = new Map() // user id → {user_id, user_name, status}
    this.count = 0
    this.since = null // the open room's events that came while its presence was loading
    const on = (type, apply) => sb.on(type, (ev) => {
      if (ev.room !== this.room) return
      apply(ev.data)
      this.since?.push([apply, ev.data])
      this.render()
    })
    on('user_joined', (u) => this.users.set(u.user_id, u))
    on('user_presence', (u) => this.users.set(u.user_id, u))
    on('user_left', (u) => this.users.delete(u.user_id))
    on('room_info', (d) => { this.count = d.online_count })
  }

  // show switches to a room and loads who is there now (presence is never replayed). The
  // answer may be older than events that came while it loaded: they are applied again on top
  // of it, in order (each sets what it says, so one the answer already holds changes nothing).
  // Of overlapping loads only the last one started is shown.
  async show (room) {
    this.room = room
    this.users.clear()
    this.count = 0
    this.render()
    const since = []
    this.since = since
    try {
      const p = await this.sb.request('GET', `/api/rooms/${encodeURIComponent(room)}/presence`)
      if (this.since !== since) return
      this.users = new Map(p.users.map((u) => [u.user_id, u]))
      this.count = p.online_count
      for (const [apply, data] of since) apply(data)
      this.render()
    } catch (e) {
      console.warn('presence of', room, e)
    } finally {
      if (this.since === since) this.since = null
    }
  }

  render () {
    const name = (u) => u.user_name || u.user_id
    const users = [...this.users.values()].sort((a, b) =>
      (b.user_id === this.me.id) - (a.user_id === this.me.id) || name(a).localeCompare(name(b)))
    $('#online-count').textContent = String(this.count)
    $('#online-list').replaceChildren(...users.map((u) => {
      const you = u.user_id === this.me.id
      return h('li', { class: 'person', dataset: { user: u.user_id, status: u.status } },
        h('span', { class: 'status-dot', 'aria-hidden': 'true' }),
        h('span', { class: 'person-name', title: name(u) }, name(u)),
        you ? h('span', { class: 'you' }, '(you)') : null,
        h('span', { class: 'person-status' }, u.status),
        you ? null : h('button', {
          type: 'button', class: 'dm', title: `Message ${name(u)}`, 'aria-label': `Message ${name(u)}`,
          onclick: () => this.onMessage({ user_id: u.user_id, user_name: name(u) })
        }, icon('chat')))
    }))
  }
}
