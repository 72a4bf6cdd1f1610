// switchboard.js: the browser client of Switchboard. ES modules with no dependencies and no
// build step (this one, and switchboard/*.js beside it; types: switchboard.d.ts). One live
// connection per browser — not per tab — carries every room over WebSocket, Server-Sent Events
// or long-poll, whichever gets through; REST helpers carry the actions.
//
//   import { connect } from '/switchboard.js'
//   const sb = connect({ token, getToken: fetchNewToken, rooms: ['general'] })
//   sb.on('chat_message', (ev) => console.log(ev.data.content))
//   sb.on('error', (e) => console.warn(e.status, e.code, e.message))
//   await sb.ready()
//   await sb.send('general', 'hello')
//
// Client is what a tab sees: its rooms, its handlers, the state of the connection. The
// connection itself (switchboard/connection.js) is held by one tab of the browser for every
// tab of the same user and server (switchboard/tabs.js): the leader, whose subscriptions are
// the union of what the tabs want, and which passes each event to the others. A tab alone, a
// browser without Web Locks or BroadcastChannel, or shareTabs: false, holds its own.

import { Api } from './switchboard/api.js'
import { Connection } from './switchboard/connection.js'
import { TabGroup, sharable } from './switchboard/tabs.js'
import { claims, fullJitter, uid } from './switchboard/util.js'

export { uid }

// The client's own events; EventSource must not listen for these ("error" and "open" are its own).
const LOCAL = ['*', 'state', 'connecting', 'open', 'reconnecting', 'closed', 'auth_required', 'error']

// USER_WIDE are events that name a room but concern the user, not the room's subscribers:
// every tab shows them.
const USER_WIDE = ['room_created']

// RECENT is how many durable events a tab remembers, to show none twice when a new leader
// resumes from a cursor some tabs had passed.
const RECENT = 512

/**
 * connect opens a live connection and returns the client. Options: url (default: this page's
 * origin), token, getToken (async () => token: called before the token expires and when it is
 * refused), rooms, transports (default ['ws','sse','poll']), connectTimeout (ms to get
 * `connected`, default 5000), backoff {base, max} (ms, default 1000 and 30000), autoConnect,
 * shareTabs (default true: one connection for every tab of this user and server).
 */
export function connect (opts = {}) {
  return new Client(opts)
}

export class Client {
  constructor ({ url = location.origin, token = '', getToken = null, rooms = [], transports = ['ws', 'sse', 'poll'],
    connectTimeout = 5000, backoff = {}, autoConnect = true, shareTabs = true } = {}) {
    this.api = new Api(url.replace(/\/$/, ''), token, getToken)
    this.api.onRenewed = () => this._role === 'follower' ? this._group.post({ k: 'token', token: this.api.token }) : this._conn?.tokenChanged()
    this.api.onRefused = (e) => this._emit('auth_required', e)
    this.rooms = new Set(rooms) // this tab's rooms: it shows their events
    this.transports = transports
    this.shareTabs = shareTabs
    this.tab = uid()
    this.state = 'idle'
    this.transport = ''
    this.connectionId = ''
    this._opts = { transports, connectTimeout, backoff }
    this._role = '' // solo (a connection of its own), leader or follower; '' while closed
    this._conn = null // solo and leader: the connection
    this._group = null // leader and follower: the tabs sharing it
    this._tabs = new Map() // every tab of the group → its rooms (this tab's is this.rooms)
    this._asks = new Map() // follower: joins waiting for the leader's answer, by id
    this._early = [] // joins made before open(): [room, resolve, reject]
    this._handlers = new Map()
    this._readies = [] // ready() callers waiting for the first open
    this._recent = new Set() // fingerprints of the durable events shown last
    this._cursor = '' // the resume point, while this tab holds no connection
    this._everUp = false
    this._page = this._page.bind(this)
    if (autoConnect) this.open()
  }

  get url () { return this.api.url }
  get token () { return this.api.token }
  set token (token) { this.api.token = token }
  get getToken () { return this.api.getToken }
  set getToken (fn) { this.api.getToken = fn }
  get cursor () { return this._conn ? this._conn.cursor : this._cursor }
  set cursor (c) { this._cursor = c; if (this._conn) this._conn.cursor = c }

  /** on subscribes fn to an event type ('*' for all but heartbeats) and returns the function that unsubscribes it. */
  on (type, fn) {
    if (!this._handlers.has(type)) {
      this._handlers.set(type, new Set())
      if (!LOCAL.includes(type)) {
        this._conn?.listen(type)
        if (this._role === 'follower') this._group.post({ k: 'listen', type })
      }
    }
    this._handlers.get(type).add(fn)
    return () => this._handlers.get(type)?.delete(fn)
  }

  _emit (type, ev) {
    if (type === 'auth_required') {
      // Once per refused token: the stream and a REST call refused together ask the app once.
      if (this._refused === this.api.token) return
      this._refused = this.api.token
    }
    for (const key of type === 'heartbeat' ? [type] : [type, '*']) {
      for (const fn of this._handlers.get(key) || []) {
        try { fn(ev) } catch (e) { console.error('switchboard: handler of', type, e) }
      }
    }
  }

  // _setState shows a state of the connection in this tab.
  _setState (ev) {
    this.state = ev.state
    this.transport = ev.transport ?? this.transport
    if (ev.connectionId) this.connectionId = ev.connectionId
    if (ev.state === 'open') {
      this._everUp = true
      for (const r of this._readies.splice(0)) r.resolve()
    }
    if (ev.state === 'closed') {
      this._closedWith = Object.assign(new Error(ev.message || 'closed: ' + ev.reason), ev)
      for (const r of this._readies.splice(0)) r.reject(this._closedWith)
    }
    this._emit(ev.state, ev)
    this._emit('state', ev)
  }

  // _deliver shows an event in this tab unless it belongs to a room of another tab; a durable
  // event already shown (a new leader resumed from before it) is not shown again.
  _deliver (type, ev) {
    if (ev?.id) {
      this._cursor = ev.id
      const key = ev.type + '|' + ev.room + '|' + ev.ts + '|' + JSON.stringify(ev.data)
      if (this._recent.has(key)) return
      this._recent.add(key)
      if (this._recent.size > RECENT) this._recent.delete(this._recent.values().next().value)
    }
    const room = ev?.room
    if (room && !USER_WIDE.includes(type) && !this.rooms.has(room)) return
    // Removed, refused or gone: a refusal's room_left is followed by an error, which ends it.
    if (room && ((type === 'room_left' && !ev.data?.status) || type === 'error')) {
      this.rooms.delete(room)
      this._announce()
    }
    this._emit(type, ev)
  }

  // _fromConn handles what this tab's connection reports: shown here, and passed to the other
  // tabs when it leads.
  _fromConn (type, ev) {
    if (type === 'state') {
      const share = { ...ev, connectionId: this._conn.connectionId }
      this._setState(share)
      if (this._role === 'leader') this._group.post({ k: 'state', ev: share })
      return
    }
    if (this._role === 'leader') this._group.post({ k: 'ev', type, ev })
    this._deliver(type, ev)
  }

  _startConn () {
    const rooms = this._role === 'leader' ? this._union() : this.rooms
    this._conn = new Connection(this.api, {
      ...this._opts, rooms, cursor: this._cursor, everUp: this._everUp,
      types: [...this._handlers.keys()].filter((t) => !LOCAL.includes(t))
    }, (type, ev) => this._fromConn(type, ev))
    for (const [room, resolve, reject] of this._early.splice(0)) this._conn.join(room).then(resolve, reject)
  }

  // _dropConn stops this tab's connection without showing it: the tab closes, or passes the lead.
  _dropConn () {
    const conn = this._conn
    if (!conn) return
    this._conn = null
    this._cursor = conn.cursor
    conn.emit = () => {}
    conn.close()
  }

  /**
   * open starts the connection (see autoConnect), resumes a closed one, or restarts a live one,
   * from the cursor, trying the transports from the first again. In a follower tab it asks
   * the leader.
   */
  open () {
    window.addEventListener('pagehide', this._page)
    window.addEventListener('pageshow', this._page)
    document.addEventListener('freeze', this._page)
    document.addEventListener('resume', this._page)
    if (this._role === 'follower') return this._group.post({ k: 'open' })
    if (this._role) return this._conn.open()
    const sub = claims(this.api.token).sub
    if (this.shareTabs && sub && sharable()) {
      this._role = 'follower' // until the lead comes to this tab
      this._welcomed = false
      this._group = new TabGroup('switchboard|' + this.api.url + '|' + sub, this.tab,
        { lead: () => this._lead(), message: (m) => this._message(m) })
      this._group.join()
      this._tabs.set(this.tab, this.rooms)
      this._setState({ state: 'connecting', transport: '' })
      this._hello()
      for (const [room, resolve, reject] of this._early.splice(0)) this._askLeader(room).then(resolve, reject)
      return
    }
    this._role = 'solo'
    this._startConn()
    this._conn.open()
  }

  /** close ends the connection for this tab; another tab sharing it goes on. */
  close () {
    this._leaveGroup()
    this._dropConn()
    this._role = ''
    window.removeEventListener('pagehide', this._page)
    window.removeEventListener('pageshow', this._page)
    document.removeEventListener('freeze', this._page)
    document.removeEventListener('resume', this._page)
    this._setState({ state: 'closed', transport: this.transport, reason: 'client' })
  }

  // _page follows the page's life for a shared connection: a tab that goes away or is frozen
  // leaves the group (a leader passes the lead on); when it comes back it joins again, and
  // resets, since what the leader passed meanwhile did not reach it. A connection of its own
  // follows the page by itself.
  _page (e) {
    if (e.type === 'pagehide' || e.type === 'freeze') {
      if (!this._group) return
      this._leaveGroup()
      this._dropConn()
      this._role = ''
      this._suspended = true
    } else if (this._suspended && (e.type === 'resume' || e.persisted)) {
      this._suspended = false
      this.open()
      this._emit('reset', { type: 'reset', data: { reason: 'tab_resumed' } })
    }
  }

  _leaveGroup () {
    if (!this._group) return
    this._group.post({ k: 'bye' })
    this._group.leave()
    this._group = null
    this._tabs.clear()
    const gone = new Error('the tab left before the leader answered')
    for (const a of this._asks.values()) a.reject(gone)
    this._asks.clear()
  }

  // --- Sharing: the leader ---

  // _lead makes this tab the leader: it keeps the rooms of the tabs still here, resumes from the
  // last cursor it saw, and tells the others, which answer with their rooms.
  async _lead () {
    const live = new Set(await this._group.liveTabs())
    for (const tab of this._tabs.keys()) if (!live.has(tab)) this._tabs.delete(tab)
    this._tabs.set(this.tab, this.rooms)
    this._role = 'leader'
    this._startConn()
    for (const a of this._asks.values()) { // asked of the leader that left
      this._joinFor({ tab: this.tab, room: a.msg.room })
        .then((r) => r.ok ? a.resolve(r.value) : a.reject(Object.assign(new Error(r.error.message), r.error)))
    }
    this._asks.clear()
    this._group.post({ k: 'lead' })
    this._conn.open()
  }

  _union () {
    const all = new Set()
    for (const rooms of this._tabs.values()) for (const r of rooms) all.add(r)
    return all
  }

  // _sync makes the connection's rooms the union of the tabs': it joins what a tab wants and
  // leaves what no tab wants. welcome, a tab that said hello, is answered once its rooms are in.
  async _sync (welcome) {
    const conn = this._conn
    if (!conn) return
    const union = this._union()
    for (const r of conn.wanted()) if (!union.has(r)) conn.leave(r).catch(() => {})
    const joins = [...union].filter((r) => !conn.wants(r)).map((r) => conn.join(r).catch(() => {}))
    if (!welcome) return
    if (conn.state === 'open') { // else they are joined before it opens, and the state says so
      await Promise.all([...joins, ...[...(this._tabs.get(welcome) || [])].map((r) => conn.rooms.has(r) || conn.join(r).catch(() => {}))])
    }
    if (conn !== this._conn) return
    this._group.post({ k: 'welcome', to: welcome, ev: { state: this.state, transport: this.transport, connectionId: this.connectionId } })
  }

  // _joinFor joins a room for a tab, and answers it.
  async _joinFor ({ tab, room, id }) {
    const rooms = this._tabs.get(tab) || new Set()
    this._tabs.set(tab, rooms)
    rooms.add(room)
    let answer
    try {
      const value = this._conn?.rooms.has(room) && this._conn.state === 'open'
        ? { room, connection_id: this._conn.connectionId, subscribed: true }
        : await this._conn.join(room)
      answer = { ok: true, value }
    } catch (e) {
      if (tab !== this.tab) rooms.delete(room)
      answer = { ok: false, error: { message: e.message, status: e.status, code: e.code, field: e.field } }
    }
    if (tab === this.tab) return answer
    this._group?.post({ k: 'reply', to: tab, id, ...answer })
  }

  // --- Sharing: every tab ---

  _hello () {
    this._group.post({ k: 'hello', rooms: [...this.rooms], types: [...this._handlers.keys()].filter((t) => !LOCAL.includes(t)) })
  }

  // _announce tells the other tabs this tab's rooms, so that the leader — this one or another
  // one later — knows what every tab wants.
  _announce () {
    this._group?.post({ k: 'rooms', rooms: [...this.rooms] })
    if (this._role === 'leader') this._sync()
  }

  _message (m) {
    const leader = this._role === 'leader'
    switch (m.k) {
      case 'hello':
      case 'rooms':
        this._tabs.set(m.tab, new Set(m.rooms))
        for (const t of m.types || []) this._conn?.listen(t)
        if (leader) this._sync(m.k === 'hello' ? m.tab : null)
        break
      case 'bye':
        this._tabs.delete(m.tab)
        if (leader) this._sync()
        break
      case 'lead': // a new leader: it learns this tab's rooms, and the joins it has not answered
        if (leader) break
        this._hello()
        for (const a of this._asks.values()) this._group.post(a.msg)
        break
      case 'welcome':
        if (m.to !== this.tab || leader) break
        this._welcomed = true
        this._setState(m.ev)
        break
      case 'state':
        if (!leader && this._welcomed) this._setState(m.ev)
        break
      case 'ev':
        if (!leader) this._deliver(m.type, m.ev)
        break
      case 'reply': {
        const a = m.to === this.tab && this._asks.get(m.id)
        if (!a) break
        this._asks.delete(m.id)
        if (m.ok) a.resolve(m.value)
        else a.reject(Object.assign(new Error(m.error.message), m.error))
        break
      }
      case 'join':
        if (leader) this._joinFor(m)
        break
      case 'listen':
        this._conn?.listen(m.type)
        break
      case 'open':
        if (leader) this._conn.open()
        break
      case 'token': // a tab has a fresh token: the connection takes it (the same user's)
        if (!leader) break
        this.api.token = m.token
        this._conn.tokenChanged()
        break
    }
  }

  // _askLeader asks the leader to join a room for this tab.
  _askLeader (room) {
    return new Promise((resolve, reject) => {
      const msg = { k: 'join', room, id: uid() }
      this._asks.set(msg.id, { msg, resolve, reject })
      this._group.post(msg)
    })
  }

  // --- The API ---

  /**
   * ready resolves when the connection is open for the first time (at once if it has been),
   * and rejects if the client closes before that (a refusal, no token, close()).
   */
  ready () {
    if (this._everUp) return Promise.resolve()
    if (this.state === 'closed') return Promise.reject(this._closedWith)
    return new Promise((resolve, reject) => this._readies.push({ resolve, reject }))
  }

  /**
   * setToken supplies a new token: a live connection takes it without reconnecting, and one
   * stopped for auth resumes from its cursor.
   */
  setToken (token) {
    this.api.token = token
    if (this._role === 'follower') this._group.post({ k: 'token', token })
    else this._conn?.tokenChanged()
  }

  /** request calls the REST API: JSON in and out; errors carry status, code and field. */
  request (method, path, body) {
    return this.api.request(method, path, body)
  }

  _room (room) { return '/api/rooms/' + encodeURIComponent(room) }

  /**
   * join subscribes this tab to a room, and keeps it across reconnects. Before the connection
   * opens (or while it is closed) it resolves once the room is joined on opening, and rejects
   * if it is refused or the client closes first.
   */
  async join (room) {
    this.rooms.add(room) // its events show from now
    try {
      let out
      if (this._role === 'follower') out = await this._askLeader(room)
      else if (this._role === 'leader') {
        const a = await this._joinFor({ tab: this.tab, room })
        if (!a.ok) throw Object.assign(new Error(a.error.message), a.error)
        out = a.value
      } else if (this._conn) out = await this._conn.join(room)
      else out = await new Promise((resolve, reject) => this._early.push([room, resolve, reject]))
      this._announce()
      return out
    } catch (e) {
      if (!this._conn?.wants(room)) this.rooms.delete(room) // else joined on the next connection
      this._announce()
      throw e
    }
  }

  /** leave unsubscribes this tab from a room; the connection leaves it when no tab wants it. */
  leave (room) {
    this.rooms.delete(room)
    for (const [r, , reject] of this._early) if (r === room) reject(new Error('left before it was joined'))
    this._early = this._early.filter(([r]) => r !== room)
    if (this._role === 'solo') return this._conn.leave(room)
    this._announce()
    return Promise.resolve(null)
  }

  /**
   * send posts a message. It retries network failures, 429 and 5xx with the same client_id, so
   * the server stores it once; it resolves with the stored message.
   */
  async send (room, content, clientId = uid(), { retries = 10 } = {}) {
    for (let n = 0; ; n++) {
      try {
        return await this.request('POST', this._room(room) + '/messages', { content, client_id: clientId })
      } catch (e) {
        const transient = !e.status || e.status === 429 || e.status >= 500
        if (!transient || n >= retries || this.state === 'closed') throw e
        await this._pause(Math.max((e.retryAfter || 0) * 1000, fullJitter(n, { base: 1000, max: 30000, ...this._opts.backoff })))
      }
    }
  }

  // _pause waits ms, or less if the connection opens meanwhile: the server is back.
  _pause (ms) {
    return new Promise((resolve) => {
      const off = this.on('open', done)
      const timer = setTimeout(done, ms)
      function done () { off(); clearTimeout(timer); resolve() }
    })
  }

  /** typing tells the room that you started (true) or stopped (false) typing. */
  typing (room, on = true) {
    return this.request('POST', this._room(room) + '/typing', { typing: on })
  }

  /** presence sets your status (online, away or busy) in every room you are in. */
  presence (status, currentPage) {
    return this.request('PUT', '/api/presence', { status, current_page: currentPage })
  }

  /** markRead records that you have read a room up to a message; it resolves with your unread count. */
  markRead (room, messageId) {
    return this.request('POST', this._room(room) + '/read', { message_id: messageId })
  }

  /** history returns {messages (newest first), next_before}; pass next_before as before for older ones. */
  history (room, { before, limit = 50 } = {}) {
    const q = new URLSearchParams({ limit })
    if (before) q.set('before', before)
    return this.request('GET', this._room(room) + '/messages?' + q)
  }
}
