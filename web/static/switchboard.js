// switchboard.js: the browser client of Switchboard. An ES module with no dependencies and no
// build step. One live connection per page carries every room over WebSocket, Server-Sent
// Events or long-poll, whichever gets through; REST helpers carry the actions.
//
//   import { connect } from '/switchboard.js'
//   const sb = connect({ token, rooms: ['general'] })
//   sb.on('chat_message', (ev) => console.log(ev.data.content))
//   await sb.send('general', 'hello')

// Server event types. SSE needs a listener per type; on(type) adds any other.
const TYPES = ('connected room_joined room_left chat_message user_typing_start user_typing_stop notification ' +
  'room_notification system_announcement data_update user_presence user_joined user_left room_info room_created ' +
  'room_updated member_joined member_left chat_message_updated chat_message_deleted read_receipt notification_read ' +
  'reset fault kicked token_expired pong').split(' ')

// The client's own events; EventSource must not listen for these (it fires its own "open").
const LOCAL = ['*', 'state', 'connecting', 'open', 'reconnecting', 'closed', 'auth_required']

const STORE_KEY = 'switchboard.transport'
const REMEMBER_MS = 864e5 // a transport that worked is tried first for a day

/** uid returns a random id, for client_id. crypto.randomUUID needs a secure context; this does not. */
export function uid () {
  const b = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

function recall () {
  try {
    const v = JSON.parse(localStorage.getItem(STORE_KEY))
    return v && Date.now() - v.at < REMEMBER_MS ? v.t : null
  } catch { return null } // storage can be missing or refuse access (private mode, webviews)
}

function remember (t) {
  try { localStorage.setItem(STORE_KEY, JSON.stringify({ t, at: Date.now() })) } catch {}
}

// tokenExpired reads a JWT's exp without verifying it: an expired token is not worth a request.
function tokenExpired (token) {
  try {
    const p = JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')))
    return typeof p.exp === 'number' && p.exp * 1000 < Date.now()
  } catch { return false }
}

/**
 * connect opens a live connection and returns the client.
 * Options: url (default: this page's origin), token, rooms, transports (default ['ws','sse','poll']),
 * connectTimeout (ms to get `connected`, default 5000), backoff {base, max} (ms).
 */
export function connect (opts = {}) {
  return new Client(opts)
}

export class Client {
  constructor ({ url = location.origin, token = '', rooms = [], transports = ['ws', 'sse', 'poll'],
    connectTimeout = 5000, backoff = {}, autoConnect = true } = {}) {
    this.url = url.replace(/\/$/, '')
    this.token = token
    this.rooms = new Set(rooms) // named on the first connection, then held by the cursor
    this._later = new Set() // joined while there was no connection
    this._left = new Set() // left while there was no connection: the cursor may bring them back
    this.transports = transports
    this.connectTimeout = connectTimeout
    this.backoff = { base: 500, max: 30000, ...backoff }
    this.cursor = ''
    this.connectionId = ''
    this.transport = ''
    this.state = 'idle'
    this._handlers = new Map()
    this._gen = 0 // bumped on every attempt; late callbacks of older attempts are ignored
    this._fails = 0
    this._pollId = '' // the long-poll connection id survives its resumes
    this._first()
    this._wake = this._wake.bind(this)
    this._leave = this._leave.bind(this)
    this._hiddenAt = 0
    this._listen(true)
    if (autoConnect) this._attempt()
  }

  // _listen adds (or removes) the page's events the connection follows: the network coming
  // back, the page shown again or hidden, the page going away.
  _listen (on) {
    const f = on ? 'addEventListener' : 'removeEventListener' // adding twice adds once
    window[f]('online', this._wake)
    window[f]('pageshow', this._wake)
    window[f]('pagehide', this._leave)
    document[f]('visibilitychange', this._wake)
  }

  /** on subscribes fn to an event type ('*' for all) and returns the function that unsubscribes it. */
  on (type, fn) {
    if (!this._handlers.has(type)) {
      this._handlers.set(type, new Set())
      if (this._es && !TYPES.includes(type) && !LOCAL.includes(type)) this._es.addEventListener(type, this._esHandler)
    }
    this._handlers.get(type).add(fn)
    return () => this._handlers.get(type)?.delete(fn)
  }

  _emit (type, ev) {
    for (const key of [type, '*']) {
      for (const fn of this._handlers.get(key) || []) {
        try { fn(ev) } catch (e) { console.error('switchboard: handler of', type, e) }
      }
    }
  }

  _setState (state, extra = {}) {
    this.state = state
    const ev = { state, transport: this.transport, ...extra }
    this._emit(state, ev)
    this._emit('state', ev)
  }

  // _first goes back to the first transport: the one that worked last, then the others in order.
  _first () {
    const last = recall()
    this._order = last && this.transports.includes(last) ? [last, ...this.transports.filter((t) => t !== last)] : this.transports
    this._i = 0
  }

  // _attempt tries the current transport. It succeeds when `connected` arrives in time.
  _attempt () {
    clearTimeout(this._timer)
    this._waiting = false
    this._teardown()
    if (this.state === 'closed') return
    if (tokenExpired(this.token)) return this._stop('auth', { code: 'token_expired' })
    const gen = ++this._gen
    const t = this.transport = this._order[this._i]
    if (t !== 'poll') this._abandon() // switching away from long-poll
    this._setState(this._everUp ? 'reconnecting' : 'connecting')
    this._timer = setTimeout(() => this._fail(gen, 'timeout'), this.connectTimeout)
    try { this['_' + t](gen) } catch (e) { this._fail(gen, e.message) }
  }

  // _query names the rooms only on a first connection: a cursor restores every subscription
  // it holds, and quietly drops rooms no longer readable, where a named one fails the request.
  _query (extra) {
    const q = new URLSearchParams({ access_token: this.token, ...extra })
    if (!this.cursor && this.rooms.size) q.set('rooms', [...this.rooms].join(','))
    return q
  }

  _ws (gen) {
    const q = this._query(this.cursor ? { last_event_id: this.cursor } : {})
    const ws = this._socket = new WebSocket(this.url.replace(/^http/, 'ws') + '/ws?' + q)
    ws.onmessage = (m) => gen === this._gen && this._receive(gen, JSON.parse(m.data))
    ws.onclose = (e) => {
      if (gen !== this._gen) return
      if (e.code === 4000) return this._stop('kicked', { message: e.reason })
      if (e.code === 4001) return this._expired(gen)
      this._fail(gen, 'ws closed ' + e.code)
    }
  }

  _sse (gen) {
    const q = this._query(this.cursor ? { last_event_id: this.cursor } : {})
    const es = this._es = new EventSource(this.url + '/events?' + q)
    this._esHandler = (m) => gen === this._gen && m.data && this._receive(gen, JSON.parse(m.data))
    for (const t of new Set([...TYPES, ...this._handlers.keys()])) if (!LOCAL.includes(t)) es.addEventListener(t, this._esHandler)
    es.onmessage = this._esHandler
    // EventSource would reconnect by itself, with the cursor it saw last and without our
    // backoff or fallback: close it and reconnect here.
    es.onerror = () => gen === this._gen && this._fail(gen, 'sse error')
  }

  async _poll (gen) {
    const ctl = this._abort = new AbortController()
    let quick = true // the first request of an attempt must answer at once
    while (gen === this._gen) {
      const q = this._query(this.cursor ? { cursor: this.cursor } : {})
      if (this._pollId) q.set('connection_id', this._pollId)
      if (quick && this._pollId) q.set('timeout', '0')
      q.delete('access_token')
      let res, body
      try {
        const kill = setTimeout(() => ctl.abort(), quick ? this.connectTimeout : 90000)
        res = await fetch(this.url + '/poll?' + q, { headers: this._headers(), signal: ctl.signal, cache: 'no-store' })
        body = await res.json()
        clearTimeout(kill)
      } catch {
        return gen === this._gen && this._fail(gen, 'poll failed')
      }
      if (gen !== this._gen) return
      if (res.status === 401) return this._stop('auth', body.error)
      if (res.status === 400 && body.error?.code === 'invalid_cursor') {
        this.cursor = '' // a cursor from another server: start afresh and reload
        this._emit('reset', { type: 'reset', data: { reason: 'invalid_cursor' } })
        continue
      }
      if (!res.ok) return this._fail(gen, 'poll status ' + res.status)
      this._pollId = body.connection_id
      for (const ev of body.events) {
        this._receive(gen, ev)
        if (gen !== this._gen) return
      }
      if (body.cursor) this.cursor = body.cursor
      if (body.closed === 'kicked') return this._stop('kicked', {})
      if (body.closed === 'token_expired') return this._expired(gen)
      this.connectionId = body.connection_id
      if (!this._up) this._opened()
      quick = false // a closed connection resumes by cursor under the same id on the next request
    }
  }

  _receive (gen, ev) {
    if (ev.id) this.cursor = ev.id
    this._seen = Date.now()
    switch (ev.type) {
      case 'connected':
        this.connectionId = ev.data.connection_id
        this._heartbeat = ev.data.heartbeat_ms || 15000
        // Rooms this client is in that the new connection lacks are joined before it opens.
        for (const r of this.rooms) if (!ev.data.rooms.includes(r)) this._later.add(r)
        if (!this._up) this._opened(ev.data.rooms)
        break
      case 'room_joined':
        this.rooms.add(ev.room)
        break
      case 'room_left': // left, or removed by the server: not to be named again
        this.rooms.delete(ev.room)
        break
      case 'kicked':
        this._emit('kicked', ev)
        return this._stop('kicked', { message: ev.data.reason })
      case 'token_expired':
        this._emit('token_expired', ev)
        return this._expired(gen)
    }
    this._emit(ev.type, ev)
  }

  // _expired handles the end of a stream whose token expired: resume if a new token came
  // meanwhile (setToken), else ask for one.
  _expired (gen) {
    if (tokenExpired(this.token)) this._stop('auth', { code: 'token_expired' })
    else this._fail(gen, 'token_expired')
  }

  // _opened makes a connection that got through open: first it joins the rooms joined while
  // there was none and leaves those left meanwhile, so that an app reloading a room's history
  // on open cannot miss a message between the history and the join. serverRooms are the
  // connection's rooms when known (a long-poll resuming its connection does not say).
  async _opened (serverRooms) {
    clearTimeout(this._timer)
    this._up = this._everUp = true
    this._fails = 0
    this._pingAt = 0
    remember(this.transport)
    const gen = this._gen
    for (let pass = 0; pass < 3 && (this._later.size || this._left.size); pass++) { // joins made meanwhile, too
      const later = [...this._later].filter((r) => !serverRooms?.includes(r))
      const left = [...this._left].filter((r) => !serverRooms || serverRooms.includes(r))
      this._later.clear()
      this._left.clear()
      await Promise.all([
        ...later.map((r) => this._joinRoom(r).catch((e) => console.warn('switchboard: join', r, e.message))),
        ...left.map((r) => this._leaveRoom(r).catch(() => {})) // not_subscribed: gone already
      ])
      if (gen !== this._gen) return
    }
    this._setState('open', { connectionId: this.connectionId })
    if (this.transport === 'ws') this._pinger(this._gen)
  }

  // _pinger asks a WebSocket for a pong every heartbeat: a socket that has not answered the
  // last ping a heartbeat later is dead even if the browser has not noticed. A timer that fires
  // late (a throttled background tab) so judges by that answer, not by the time since the last
  // frame.
  _pinger (gen) {
    this._timer = setTimeout(() => {
      if (gen !== this._gen) return
      if (this._pingAt && this._seen < this._pingAt) return this._fail(gen, 'no pong')
      this._pingAt = Date.now()
      try { this._socket.send('{"type":"ping"}') } catch {}
      this._pinger(gen)
    }, this._heartbeat)
  }

  // _fail handles the end of an attempt or of a live connection. A connection that worked is
  // retried on the same transport. For one that never got through, a REST request with the
  // token tells why, which a refused WebSocket or EventSource does not: 401, the token is
  // refused, so ask for another; another answer, the transport is what is blocked, so fall
  // back to the next one; none, the server is down, so retry.
  async _fail (gen, why) {
    if (gen !== this._gen || this.state === 'closed') return
    const wasUp = this._up
    clearTimeout(this._timer)
    this._teardown()
    gen = ++this._gen
    this._setState(this._everUp ? 'reconnecting' : 'connecting', { why })
    if (!wasUp) {
      const { status, error } = await this._probe()
      if (gen !== this._gen) return
      if (status === 401) return this._stop('auth', error)
      if (status && status < 500) {
        if (++this._i < this._order.length) return this._attempt()
        this._i = 0
      }
    }
    const d = Math.min(this.backoff.max, this.backoff.base * 2 ** this._fails++)
    this._waiting = true
    this._timer = setTimeout(() => gen === this._gen && this._attempt(), d / 2 + Math.random() * d / 2)
  }

  // _probe asks GET /api/me, which reads no database: its status, 0 if there is no answer.
  async _probe () {
    try {
      const res = await fetch(this.url + '/api/me', {
        headers: this._headers(), cache: 'no-store', signal: AbortSignal.timeout(this.connectTimeout)
      })
      return { status: res.status, error: (await res.json().catch(() => ({}))).error }
    } catch { return { status: 0 } }
  }

  _teardown () {
    this._up = false
    this._socket && (this._socket.onclose = this._socket.onmessage = null, this._socket.close())
    this._es?.close()
    this._abort?.abort()
    this._socket = this._es = this._abort = null
  }

  _stop (reason, detail) {
    this._stoppedFor = reason
    this._waiting = false
    clearTimeout(this._timer)
    this._gen++
    this._teardown()
    if (reason === 'client') this._abandon()
    this._setState('closed', { ...detail, reason })
    if (reason === 'auth') this._emit('auth_required', detail || {})
  }

  // _wake reconnects at once when the page comes back (mobile webviews drop background
  // connections silently) or the network returns.
  _wake (e) {
    if (e.type === 'visibilitychange' && document.hidden) { this._hiddenAt = Date.now(); return }
    if (this.state === 'closed') return
    const stale = e.type === 'online' || e.persisted || (this._hiddenAt && Date.now() - this._hiddenAt > 10000)
    this._hiddenAt = 0
    if (this._waiting || (this.state === 'open' && stale)) {
      this._fails = 0
      this._attempt()
    } else if (this.state === 'open' && this.transport === 'ws') this._check(this._gen)
  }

  // _check pings a WebSocket that may have died unnoticed, even in a short absence: without
  // an answer within connectTimeout, it reconnects.
  _check (gen) {
    const at = Date.now()
    try { this._socket.send('{"type":"ping"}') } catch {}
    setTimeout(() => this._seen < at && this._fail(gen, 'no pong'), this.connectTimeout)
  }

  // _abandon ends the long-poll connection on the server, best effort: unlike a stream, which
  // ends with its socket, it would otherwise linger (and show its user online) until it expires.
  _abandon () {
    const id = this._pollId
    this._pollId = ''
    if (!id || tokenExpired(this.token)) return
    fetch(this.url + '/api/connections/' + encodeURIComponent(id), {
      method: 'DELETE', headers: { Authorization: 'Bearer ' + this.token }, keepalive: true
    }).catch(() => {})
  }

  // _leave ends a long-poll connection when the page goes away; if it comes back (from the
  // back/forward cache), pageshow reconnects from the cursor.
  _leave () {
    if (this.transport !== 'poll' || this.state === 'closed') return
    this._gen++
    this._teardown()
    this._abandon()
  }

  /** setToken supplies a new token; a connection stopped for auth resumes from its cursor. */
  setToken (token) {
    this.token = token
    if (this.state === 'closed' && this._stoppedFor === 'auth') this.open()
  }

  /**
   * open starts the connection (see autoConnect), resumes a closed one, or restarts a live one,
   * from the cursor, trying the transports from the first again.
   */
  open () {
    this._listen(true) // again, after a close()
    this.state = 'idle'
    this._fails = 0
    this._first()
    this._attempt()
  }

  /** close ends the connection for good. */
  close () {
    this._stop('client')
    this._listen(false)
  }

  _headers () {
    return { Authorization: 'Bearer ' + this.token, 'Content-Type': 'application/json' }
  }

  /** request calls the REST API: JSON in and out; errors carry status, code and field. */
  async request (method, path, body) {
    const res = await fetch(this.url + path, { method, headers: this._headers(), body: body && JSON.stringify(body) })
    const out = res.status === 204 ? null : await res.json().catch(() => null)
    if (res.ok) return out
    const e = out?.error || {}
    if (res.status === 401) this._emit('auth_required', e)
    throw Object.assign(new Error(e.message || 'HTTP ' + res.status), {
      status: res.status, code: e.code, field: e.field, retryAfter: +res.headers.get('Retry-After') || 0
    })
  }

  _room (room) { return '/api/rooms/' + encodeURIComponent(room) }

  /** join subscribes this connection to a room, and keeps it across reconnects. */
  async join (room) {
    this._left.delete(room)
    if (this.state !== 'open') return this._later.add(room) && null // joined when the connection opens
    return this._joinRoom(room)
  }

  async _joinRoom (room) {
    try {
      const res = await this.request('POST', this._room(room) + '/join', { connection_id: this.connectionId })
      this.rooms.add(room)
      return res
    } catch (e) {
      this.rooms.delete(room)
      if (!e.status || e.code === 'connection_not_found') this._later.add(room) // try again on the next connection
      throw e
    }
  }

  /** leave unsubscribes this connection from a room. */
  leave (room) {
    this.rooms.delete(room)
    this._later.delete(room)
    if (this.state !== 'open') return this._left.add(room) && Promise.resolve(null) // left when the connection opens
    return this._leaveRoom(room)
  }

  _leaveRoom (room) {
    return this.request('POST', this._room(room) + '/leave', { connection_id: this.connectionId })
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
        const d = Math.min(this.backoff.max, this.backoff.base * 2 ** n)
        await this._pause(Math.max((e.retryAfter || 0) * 1000, d / 2 + Math.random() * d / 2))
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
