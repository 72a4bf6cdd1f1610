// chat.js: the messages of one room: its header, history loaded on scroll (and the note at
// its start), live messages, the composer, the typing indicator, the sent/delivered marks of
// your own messages, and editing and deleting them (room admins and moderators may delete
// anyone's). How one message looks, and how the list groups them, is message.js.
import { $, h } from './dom.js'
import { uid } from '../switchboard.js'
import { renderMessage, setContent, stamp, regroup } from './message.js'
import { showRoomHead, showIntro } from './roomhead.js'

const PAGE = 30
const STATUS = { sending: 'Sending', sent: 'Sent', delivered: 'Delivered', failed: 'Not sent' }

export class Chat {
  constructor (sb, me, hooks) {
    this.sb = sb
    this.me = me
    this.hooks = hooks // {read(room, unread), info(room): its summary (with your role), joined(room)}
    this.room = ''
    this.list = $('#messages')
    this.box = $('#messages-box')
    this.older = $('#load-older')
    this.input = $('#message-input')
    this.byId = new Map() // message id → li
    this.byClient = new Map() // client_id → li, for your own messages
    this.typers = new Map() // user id → {name, timer}
    this.before = '' // next_before of the oldest page shown
    this.loaded = false
    this.joining = '' // the room whose join is under way: its latest page loads once joined
    this.gen = 0 // reloads started: only the latest one's page is shown
    this.settled = 0 // the latest reload that has finished, shown or not

    this.box.addEventListener('scroll', () => { if (this.box.scrollTop < 60) this.loadOlder() })
    this.older.addEventListener('click', () => this.loadOlder())
    $('#composer').addEventListener('submit', (e) => { e.preventDefault(); this.submit() })
    this.input.addEventListener('input', () => this.typed())
    this.input.addEventListener('blur', () => this.stopTyping())
    this.list.addEventListener('click', (e) => {
      const button = e.target.closest('button[data-act]')
      const li = button?.closest('li.msg')
      if (li?.dataset.id) this[button.dataset.act](li, button)
    })
    // A message's menu (touch screens) closes on a tap elsewhere, and on Escape.
    document.addEventListener('click', (e) => { if (this.menuOf && !this.menuOf.contains(e.target)) this.closeMenu() })
    document.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape' || !this.menuOf) return
      const more = this.menuOf.querySelector('.more')
      this.closeMenu()
      more.focus()
    })

    const here = (fn) => (ev) => ev.room === this.room && fn(ev.data)
    sb.on('chat_message', here((m) => this.receive(m)))
    sb.on('chat_message_updated', here((m) => this.update(m)))
    sb.on('chat_message_deleted', here((d) => this.gone(d.id)))
    sb.on('user_typing_start', here((d) => this.typing(d, true)))
    sb.on('user_typing_stop', here((d) => this.typing(d, false)))
    // A reset names the room whose history has a gap; one without a topic (a cursor the server
    // refused, a tab back from the background) covers every room.
    sb.on('reset', (ev) => (ev.room === this.room || !ev.data?.topic) && this.reload())
    sb.on('open', () => { if (!this.loaded && this.joining !== this.room) this.reload() })
    document.addEventListener('visibilitychange', () => { if (!document.hidden) this.markRead() })
  }

  // open shows a room: the stream subscribes to it, then its latest page loads. Until that page
  // is shown the list is aria-busy (tests wait for it too: the room's start note appears then).
  async open (room) {
    this.stopTyping()
    this.room = room
    for (const t of this.typers.values()) clearTimeout(t.timer)
    this.typers.clear()
    this.renderTyping()
    this.clear()
    this.list.setAttribute('aria-busy', 'true')
    this.joining = room
    try {
      await this.sb.join(room)
    } catch (e) {
      if (room === this.room) this.list.removeAttribute('aria-busy')
      this.notice(`Cannot open #${room}: ${e.message}`)
      return
    } finally {
      if (this.joining === room) this.joining = ''
    }
    this.hooks.joined(room)
    if (room === this.room && this.sb.state === 'open') await this.reload() // else when it opens
  }

  // describe shows the open room's header and the note at its start, from its summary in the
  // room list (called again whenever that changes), and tells CSS your role in it: room admins
  // and moderators are offered Delete on others' messages (#messages[data-role]).
  describe () {
    const info = this.hooks.info(this.room) || { key: this.room, name: this.room }
    this.list.dataset.role = info.my_role || ''
    showRoomHead(info)
    showIntro(info, this.loaded && !this.before, this.list.querySelector('.msg') === null)
  }

  clear () {
    this.closeMenu()
    this.list.replaceChildren()
    this.byId.clear()
    this.byClient.clear()
    this.before = ''
    this.older.hidden = true
    this.loaded = false
    this.describe()
  }

  // reload shows the room's latest page (on open, and on reset) in place of what is shown,
  // keeping what the stream delivered meanwhile and your messages not stored yet. A message the
  // page still has keeps its element, updated: what you were doing with it (its menu, the form
  // editing it, the focus) survives a reload that answers late. Reloads may overlap (a reset
  // comes during one, the room is opened again): only the last one started is shown, so an
  // earlier one finishing late cannot replace what a later one, or an older page, put there.
  async reload () {
    const room = this.room
    const gen = ++this.gen
    this.list.setAttribute('aria-busy', 'true')
    let page
    try {
      page = await this.sb.history(room, { limit: PAGE })
    } catch (e) {
      if (gen === this.gen && room === this.room) {
        this.list.removeAttribute('aria-busy')
        if (this.sb.state === 'open') this.notice(`Cannot load #${room}: ${e.message}`)
      }
      return // retried when the connection opens
    } finally {
      this.settled = Math.max(this.settled, gen)
    }
    if (room !== this.room || gen !== this.gen) return
    // Messages the stream brought while the page was read are newer than its newest: kept.
    const newest = Math.max(0, ...page.messages.map((m) => m.seq))
    const inPage = new Set(page.messages.map((m) => m.id))
    for (const li of [...this.list.children]) {
      if (li.classList.contains('day')) continue // regroup keeps the separators right
      const id = li.dataset.id
      if (li.classList.contains('msg') && (!id || inPage.has(id) || +li.dataset.seq > newest)) continue
      if (li === this.menuOf) this.closeMenu()
      li.remove()
      this.byId.delete(id)
      if (li.dataset.clientId) this.byClient.delete(li.dataset.clientId)
    }
    this.loaded = true
    for (const m of page.messages) this.receive(m, true)
    this.setBefore(page.next_before)
    this.changed()
    this.list.removeAttribute('aria-busy')
    this.box.scrollTop = this.box.scrollHeight
    this.markRead()
  }

  // loadOlder adds the page before the oldest shown. While the latest reload is under way it
  // does nothing, and a page read while one started is dropped: that reload replaces the list
  // (the view is then at its latest messages, and scrolling up asks again).
  async loadOlder () {
    if (!this.before || this.loading || this.settled < this.gen) return
    this.loading = true
    const room = this.room
    const gen = this.gen
    try {
      const page = await this.sb.history(room, { before: this.before, limit: PAGE })
      if (room !== this.room || gen !== this.gen) return
      const height = this.box.scrollHeight
      for (const m of page.messages) this.receive(m, true)
      this.setBefore(page.next_before)
      this.changed()
      this.box.scrollTop += this.box.scrollHeight - height // keep the view where it was
    } catch (e) {
      console.warn('older messages of', room, e)
    } finally {
      this.loading = false
    }
  }

  setBefore (id) {
    this.before = id || ''
    this.older.hidden = !this.before
  }

  // changed regroups the list and shows the note at the room's start when all of it is shown.
  changed () {
    regroup(this.list)
    showIntro(this.hooks.info(this.room) || { key: this.room, name: this.room }, this.loaded && !this.before, this.list.querySelector('.msg') === null)
  }

  // receive shows a message once, in seq order, whether it came from history, the stream or
  // the answer to your own POST.
  receive (m, fromHistory) {
    let li = this.byId.get(m.id) || (m.client_id && m.user_id === this.me.id && this.byClient.get(m.client_id))
    const atBottom = this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight < 80
    if (li) {
      this.update(m, li)
      stamp(li, m.created_at)
    } else {
      li = renderMessage(m, this.me)
      stamp(li, m.created_at)
    }
    li.dataset.id = m.id
    li.dataset.seq = m.seq
    this.byId.set(m.id, li)
    if (m.user_id === this.me.id) this.mark(li, 'delivered')
    this.insert(li, m.seq)
    if (!fromHistory) {
      this.changed()
      if (atBottom || m.user_id === this.me.id) this.box.scrollTop = this.box.scrollHeight
      this.typing({ user_id: m.user_id }, false)
      this.markRead()
    }
  }

  // update shows a message's new content (chat_message_updated), if it is shown.
  update (m, li = this.byId.get(m.id)) {
    if (!li) return
    const text = li.querySelector('.text')
    if (text.textContent !== m.content) setContent(li, m.content)
    li.querySelector('.edited').hidden = !m.edited_at
  }

  gone (id) {
    const li = this.byId.get(id)
    if (li === this.menuOf) this.closeMenu()
    li?.remove()
    this.byId.delete(id)
    this.changed()
  }

  // menu opens or closes a message's actions as a menu: on touch screens, where nothing shows
  // them on hover, a ⋯ button stands in for them (CSS: (hover: none) and (pointer: coarse)).
  menu (li, button) {
    if (this.menuOf === li) return this.closeMenu()
    this.closeMenu()
    this.menuOf = li
    li.dataset.menu = 'open'
    button.setAttribute('aria-expanded', 'true')
    li.querySelector('.actions button')?.focus()
  }

  closeMenu () {
    const li = this.menuOf
    if (!li) return
    this.menuOf = null
    delete li.dataset.menu
    li.querySelector('.more').setAttribute('aria-expanded', 'false')
  }

  // edit replaces a message's text with a form to change it.
  edit (li) {
    this.closeMenu()
    if (li.querySelector('.edit-form')) return
    const text = li.querySelector('.text')
    const id = 'edit-' + li.dataset.id
    const input = h('input', { id, value: text.textContent, maxlength: 1000, required: true, autocomplete: 'off' })
    const error = h('p', { class: 'error', role: 'alert' })
    const done = () => {
      form.remove()
      text.hidden = false
      const edit = li.querySelector('[data-act=edit]')
      ;(edit?.offsetParent ? edit : li.querySelector('.more')).focus()
    }
    const form = h('form', { class: 'edit-form' },
      h('label', { class: 'sr-only', for: id }, 'Edit your message'), input,
      h('button', { type: 'submit' }, 'Save'),
      h('button', { type: 'button', onclick: done }, 'Cancel'), error)
    input.addEventListener('keydown', (e) => { if (e.key === 'Escape') done() })
    form.addEventListener('submit', async (e) => {
      e.preventDefault()
      const content = input.value.trim()
      if (!content || content === text.textContent) return done()
      try {
        this.update(await this.sb.request('PATCH', this.path(li), { content }), li)
        done()
      } catch (err) {
        error.textContent = err.message
      }
    })
    text.hidden = true
    text.after(form)
    input.focus()
  }

  // remove deletes a message, on a second press: the first asks to confirm.
  async remove (li, button) {
    if (!button.dataset.confirm) {
      button.dataset.confirm = 'true'
      const label = button.getAttribute('aria-label')
      button.textContent = 'Confirm delete'
      button.setAttribute('aria-label', 'Confirm: ' + label)
      button.timer = setTimeout(() => {
        delete button.dataset.confirm
        button.textContent = 'Delete'
        button.setAttribute('aria-label', label)
      }, 4000)
      return
    }
    clearTimeout(button.timer)
    try {
      await this.sb.request('DELETE', this.path(li))
      this.gone(li.dataset.id)
    } catch (e) {
      button.textContent = 'Not deleted'
      button.title = e.message
    }
  }

  path (li) {
    return `/api/rooms/${encodeURIComponent(this.room)}/messages/${encodeURIComponent(li.dataset.id)}`
  }

  // insert places li after the last message with a lower seq; pending ones stay last. A message
  // already in its place is left there (and one that moves keeps the focus it holds).
  insert (li, seq) {
    let before = null
    for (let el = this.list.lastElementChild; el; el = el.previousElementSibling) {
      if (el === li) continue
      if (el.dataset.seq && +el.dataset.seq < seq) break
      before = el
    }
    if (li.parentNode === this.list && li.nextElementSibling === before) return
    const focused = li.contains(document.activeElement) ? document.activeElement : null
    this.list.insertBefore(li, before)
    focused?.focus({ preventScroll: true })
  }

  mark (li, status) {
    if (li.dataset.status === 'delivered') return // the stream has had it: nothing to add
    li.dataset.status = status
    const mark = li.querySelector('.mark')
    mark.textContent = { sending: '…', sent: '✓', delivered: '✓✓', failed: '!' }[status]
    mark.setAttribute('aria-label', STATUS[status])
    mark.title = STATUS[status]
  }

  // submit sends the composer's text. The POST is retried with the same client_id until the
  // server answers, so a message written offline is sent once when the connection is back.
  async submit () {
    const content = this.input.value.trim()
    if (!content) return
    this.input.value = ''
    this.stopTyping()
    const room = this.room
    const clientId = uid()
    const li = renderMessage({ user_id: this.me.id, content, client_id: clientId }, this.me)
    this.mark(li, 'sending')
    this.byClient.set(clientId, li)
    this.list.append(li)
    this.changed()
    this.box.scrollTop = this.box.scrollHeight
    try {
      const m = await this.sb.send(room, content, clientId, { retries: 20 })
      this.mark(li, 'sent')
      if (room === this.room && !this.byId.has(m.id)) {
        li.dataset.id = m.id
        li.dataset.seq = m.seq
        this.byId.set(m.id, li)
        stamp(li, m.created_at)
        this.insert(li, m.seq)
        this.changed()
      }
    } catch (e) {
      this.mark(li, 'failed')
      li.title = e.message
    }
  }

  // typed tells the room you are typing: at most one start every 3 s, a stop after 3 s idle.
  typed () {
    if (!this.input.value.trim()) return this.stopTyping()
    const now = Date.now()
    if (now - (this.typingSent || 0) > 3000) {
      this.typingSent = now
      this.typingRoom = this.room
      this.sb.typing(this.room, true).catch(() => {})
    }
    clearTimeout(this.typingIdle)
    this.typingIdle = setTimeout(() => this.stopTyping(), 3000)
  }

  stopTyping () {
    clearTimeout(this.typingIdle)
    if (!this.typingSent) return
    this.typingSent = 0
    this.sb.typing(this.typingRoom, false).catch(() => {})
  }

  // typing shows who else is typing; a start with no stop fades after 6 s.
  typing (d, on) {
    if (d.user_id === this.me.id) return
    const t = this.typers.get(d.user_id)
    if (t) clearTimeout(t.timer)
    if (!on) {
      if (!t) return
      this.typers.delete(d.user_id)
    } else {
      this.typers.set(d.user_id, { name: d.user_name || d.user_id, timer: setTimeout(() => this.typing(d, false), 6000) })
    }
    this.renderTyping()
  }

  renderTyping () {
    const names = [...this.typers.values()].map((t) => t.name)
    $('#typing').textContent = !names.length ? '' : names.length === 1 ? `${names[0]} is typing…`
      : names.length === 2 ? `${names[0]} and ${names[1]} are typing…` : 'Several people are typing…'
  }

  // markRead records the newest message shown as read, when the page is visible.
  markRead () {
    clearTimeout(this.readTimer)
    this.readTimer = setTimeout(async () => {
      const last = [...this.list.querySelectorAll('li[data-seq]')].pop()
      if (!last || document.hidden || last.dataset.id === this.readId) return
      this.readId = last.dataset.id
      try {
        const r = await this.sb.markRead(this.room, last.dataset.id)
        this.hooks.read(r.room, r.unread_count)
      } catch (e) {
        console.warn('mark read', e)
      }
    }, 300)
  }

  notice (text) {
    this.list.append(h('li', { class: 'notice', role: 'note' }, text))
    this.changed()
  }
}
