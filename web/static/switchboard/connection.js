// connection.js: one live connection and the state machine that keeps it alive. Its states
// are idle, connecting, open, reconnecting and closed; every timer belongs to it (_timers) and
// is cleared by it. How it meets each failure — a silent transport, a refused handshake, a token
// running out, the network going away — is the README's table; each row is tested in a real
// browser behind a proxy or server that produces it (web/resilience_test.go, transport_test.go).
import { openPoll, openSSE, openWS } from './transports.js'
import { answer, fullJitter, jwtExp, uid } from './util.js'

// Server event types. EventSource needs a listener per type; on(type) adds any other.
export const TYPES = ('connected room_joined room_left chat_message user_typing_start user_typing_stop notification ' +
  'room_notification system_announcement data_update user_presence user_joined user_left room_info room_created ' +
  'room_updated member_joined member_left chat_message_updated chat_message_deleted read_receipt notification_read ' +
  'reset fault kicked token_expired pong ack heartbeat token_refreshed shutdown').split(' ')

// A fallback that the network forced (not a status code) is remembered this long, across
// reloads; meanwhile the first transport is tried again in the background, from UPGRADE_FIRST
// on, twice as long after each failure.
const FALLBACK_KEY = 'switchboard.transport'
const FALLBACK_MS = 10 * 60e3
const UPGRADE_FIRST = 30e3

function recallFallback () {
  try {
    const v = JSON.parse(localStorage.getItem(FALLBACK_KEY))
    return v && Date.now() - v.at < FALLBACK_MS ? v.t : null
  } catch { return null } // storage can be missing or refuse access (private mode, webviews)
}

function rememberFallback (t) {
  try { t ? localStorage.setItem(FALLBACK_KEY, JSON.stringify({ t, at: Date.now() })) : localStorage.removeItem(FALLBACK_KEY) } catch {}
}

// Connection is one live connection to the server — over whichever transport gets through —
// for the tab that holds it, alone or leading the tabs that share it: it resumes from its
// cursor, keeps the rooms it is asked to want, and reports through emit(type, ev): 'state'
// for its own state changes, and each server event by its type.
export class Connection {
  constructor (api, { rooms = [], transports = ['ws', 'sse', 'poll'], connectTimeout = 5000, backoff = {},
    cursor = '', everUp = false, types = [] } = {}, emit) {
    this.api = api
    this.emit = emit
    this.rooms = new Set(rooms) // named on the first connection, then held by the cursor
    this.transports = transports
    this.connectTimeout = connectTimeout
    this.backoff = { base: 1000, max: 30000, ...backoff }
    this.cursor = cursor
    this.connectionId = ''
    this.transport = ''
    this.state = 'idle'
    this._everUp = everUp // a connection before this one was open: the next one reconnects
    this._types = new Set(types) // event types to listen for beyond the server's own (EventSource)
    this._timers = {} // every timer the connection runs, by purpose: see _after
    this._gen = 0 // bumped on every attempt; late callbacks of older ones are ignored
    this._attempt = 0 // failed attempts since the last healthy connection: the backoff's exponent
    this._later = new Map() // rooms joined while there was no connection → their callers' promises
    this._left = new Set() // rooms left while there was no connection: the cursor may bring them back
    this._refs = new Map() // WebSocket requests awaiting an answer, by ref
    this._pollId = '' // the long-poll connection id survives its resumes
    this._heartbeat = 15000
    this._pollTimeout = 25000
    this._skew = 0 // the server's clock minus ours, from connected
    this._upgradeIn = UPGRADE_FIRST
    this._wake = this._wake.bind(this)
    this._offline = this._offline.bind(this)
    this._leave = this._leave.bind(this)
    this._first()
  }

  // _listen adds (or removes) the page's events the connection follows: the network going and
  // coming back, the page shown again, frozen and resumed, or going away.
  _listen (on) {
    const f = on ? 'addEventListener' : 'removeEventListener' // adding twice adds once
    window[f]('online', this._wake)
    window[f]('offline', this._offline)
    window[f]('pageshow', this._wake)
    window[f]('pagehide', this._leave)
    document[f]('visibilitychange', this._wake)
    document[f]('resume', this._wake)
  }

  // listen makes the connection receive events of a type the server does not list (EventSource
  // needs a listener per type).
  listen (type) {
    if (TYPES.includes(type) || this._types.has(type)) return
    this._types.add(type)
    this._conn?.listen?.(type)
  }

  // wants reports whether the connection is in room, or is to join it.
  wants (room) { return this.rooms.has(room) || this._later.has(room) }

  // wanted lists the rooms the connection is in or is to join.
  wanted () { return [...new Set([...this.rooms, ...this._later.keys()])] }

  _setState (state, extra = {}) {
    this.state = state
    this.emit('state', { state, transport: this.transport, ...extra })
  }

  // _after runs fn after ms as the timer named name, replacing the one of that name; onCancel
  // runs instead if the timer is cancelled.
  _after (name, ms, fn, onCancel) {
    this._cancel(name)
    const id = setTimeout(() => { delete this._timers[name]; fn() }, ms)
    this._timers[name] = { id, onCancel }
  }

  _cancel (...names) {
    for (const n of names) {
      const timer = this._timers[n]
      if (!timer) continue
      delete this._timers[n]
      clearTimeout(timer.id)
      timer.onCancel?.()
    }
  }

  // _sleep resolves after ms, or at once if the timer is cancelled: its caller checks whether
  // to go on.
  _sleep (name, ms) {
    return new Promise((resolve) => this._after(name, ms, resolve, resolve))
  }

  // _first goes back to the first transport, or to the one a recent fallback chose.
  _first () {
    const t = recallFallback()
    this._i = Math.max(0, this.transports.indexOf(t))
  }

  // _url is the URL of transport t. It names the rooms only on a first connection: a cursor
  // restores every subscription it holds. withCursor false asks for a fresh connection (an
  // upgrade probe).
  _url (t, withCursor = true) {
    const q = new URLSearchParams({ access_token: this.api.token })
    if (withCursor && this.cursor) q.set(t === 'poll' ? 'cursor' : 'last_event_id', this.cursor)
    if (withCursor && !this.cursor && this.rooms.size) q.set('rooms', [...this.rooms].join(','))
    return this.api.url + { ws: '/ws?', sse: '/events?', poll: '/poll?' }[t] + q
  }

  // _connect makes an attempt on the current transport. It succeeds when `connected` arrives in
  // time (for a long-poll resuming its connection, its first answer). quiet keeps the state
  // open: a switch to a better transport that was just seen to work.
  _connect (quiet = false) {
    this._teardown()
    if (this.state === 'closed') return
    if (navigator.onLine === false) return this._goOffline()
    const gen = ++this._gen
    const t = this.transport = this.transports[this._i]
    if (t !== 'poll') this._abandon() // switching away from long-poll
    if (!quiet) this._setState(this._everUp ? 'reconnecting' : 'connecting', { attempt: this._attempt })
    this._connToken = this.api.token
    this._named = this.cursor ? [] : [...this.rooms] // rooms the request names; a cursor names its own
    this._after('connect', this.connectTimeout, () => this._down(gen, { why: 'no connected within ' + this.connectTimeout + ' ms', timeout: true }))
    const on = { frame: (ev) => gen === this._gen && this._frame(gen, ev), down: (info) => gen === this._gen && this._down(gen, info) }
    try {
      if (t === 'ws') this._conn = openWS(this._url(t), on)
      else if (t === 'sse') this._conn = openSSE(this._url(t), [...TYPES, ...this._types], on)
      else this._conn = this._openPoll(gen, on)
    } catch (e) { this._down(gen, { why: e.message }) }
  }

  _openPoll (gen, on) {
    let quick = true // the first request of an attempt must answer at once
    return openPoll(() => {
      const q = new URLSearchParams(this._url('poll').split('?')[1])
      q.delete('access_token') // in the header: it changes with refreshes
      if (this._pollId) q.set('connection_id', this._pollId)
      if (quick && this._pollId) q.set('timeout', '0')
      const limit = quick ? this.connectTimeout : this._deadAfter()
      quick = false
      return { url: this.api.url + '/poll?' + q, headers: this.api.headers(), limit }
    }, {
      frame: on.frame,
      down: on.down,
      polled: (body) => {
        if (gen !== this._gen) return
        this._seen = Date.now()
        this._pollId = this.connectionId = body.connection_id || this._pollId
        if (body.cursor) this.cursor = body.cursor
        if (body.closed === 'kicked') return this._stop('kicked', {})
        if (body.closed === 'token_expired') return this._tokenExpired(gen)
        if (body.closed) return this._down(gen, { why: 'poll connection ' + body.closed })
        if (!this._up) this._opened()
      }
    })
  }

  _frame (gen, ev) {
    this._seen = Date.now()
    if (ev.id) this.cursor = ev.id
    const d = ev.data || {}
    switch (ev.type) {
      case 'connected':
        this.connectionId = d.connection_id
        if (this.transport === 'poll') this._pollId = d.connection_id
        this._heartbeat = d.heartbeat_ms || this._heartbeat
        this._pollTimeout = d.poll_timeout_ms || this._pollTimeout
        this._expiresAt = Date.parse(d.expires_at) || 0
        this._skew = (Date.parse(ev.ts) - Date.now()) || 0
        // Rooms this client is in that the new connection lacks are joined before it opens;
        // those its request named were refused, and room_left follows to say why.
        for (const r of this.rooms) {
          if (!d.rooms?.includes(r) && !this._named.includes(r) && !this._later.has(r)) this._later.set(r, [])
        }
        // Rooms the cursor restored that are no longer wanted (the tab that led wanted them) are left.
        for (const r of d.rooms || []) if (!this.wants(r)) this._left.add(r)
        if (!this._up) this._opened(d.rooms)
        break
      case 'room_joined':
        this.rooms.add(ev.room)
        break
      case 'room_left': // left, or removed or refused by the server: not to be named again
        this.rooms.delete(ev.room)
        this.emit(ev.type, ev)
        if (d.status) this._refused(ev.room, d) // after room_left: the error says why
        return
      case 'pong': case 'ack': case 'token_refreshed': case 'fault':
        if (d.ref && this._refs.has(d.ref)) {
          this._refs.get(d.ref)(ev)
          this._refs.delete(d.ref)
        }
        break
      case 'kicked':
        this.emit('kicked', ev)
        return this._stop('kicked', { message: d.reason })
      case 'token_expired':
        this.emit('token_expired', ev)
        return this._tokenExpired(gen)
      case 'shutdown': // the server is stopping: resume, wherever the URL leads, when it says
        this.emit('shutdown', ev)
        return this._down(gen, { why: 'server shutting down', wait: d.retry_ms })
    }
    this.emit(ev.type, ev)
  }

  // _refused tells the app that a room it asked for was not subscribed (403 private, 404 gone, 429 too many new rooms):
  // an error event, and a rejected join() if one waits. The connection stays open.
  _refused (room, d) {
    const err = { status: d.status, code: d.reason, message: d.message || 'room ' + room + ' was refused', room }
    for (const w of this._later.get(room) || []) w.reject(Object.assign(new Error(err.message), err))
    this._later.delete(room)
    this.emit('error', err)
  }

  // _opened makes a connection that got through open: first it joins the rooms joined while
  // there was none and leaves those left meanwhile, so that an app reloading a room's history
  // on open cannot miss a message between the history and the join. serverRooms are the
  // connection's rooms when known (a long-poll resuming its connection does not say).
  async _opened (serverRooms) {
    this._cancel('connect')
    this._up = this._everUp = true
    this._openedAt = Date.now()
    this._authFails = 0
    if (this._i === 0) rememberFallback(null)
    const gen = this._gen
    this._watch(gen)
    for (let pass = 0; pass < 3 && (this._later.size || this._left.size); pass++) { // joins made meanwhile, too
      const later = [...this._later]
      const left = [...this._left].filter((r) => !serverRooms || serverRooms.includes(r))
      this._later.clear()
      this._left.clear()
      await Promise.all([
        ...later.map(([r, waiters]) => (serverRooms?.includes(r)
          ? Promise.resolve({ room: r, connection_id: this.connectionId, subscribed: true })
          : this._joinRoom(r, waiters)).then((v) => waiters.forEach((w) => w.resolve(v)),
          (e) => { if (!this._later.has(r)) waiters.forEach((w) => w.reject(e)) })),
        ...left.map((r) => this._leaveRoom(r).catch(() => {})) // not_subscribed: gone already
      ])
      if (gen !== this._gen) return
    }
    this._setState('open', { connectionId: this.connectionId })
    this._scheduleRefresh(gen)
    if (this._i > 0) this._after('upgrade', this._upgradeIn, () => this._probeUpgrade(gen))
  }

  // _deadAfter is how long a live transport may stay silent: two heartbeats, or a long-poll's
  // timeout, and a margin.
  _deadAfter () {
    if (this.transport === 'poll') return this._pollTimeout + Math.max(2000, this._pollTimeout / 10)
    return 2 * this._heartbeat + Math.max(1000, this._heartbeat / 5)
  }

  // _watch ends a transport that has been silent too long, judged by the time since its last
  // byte, so that a timer a background tab runs late judges right.
  _watch (gen) {
    const left = this._deadAfter() - (Date.now() - this._seen)
    if (left <= 0) return this._down(gen, { why: 'silent for ' + (Date.now() - this._seen) + ' ms', dead: true })
    this._after('watchdog', left, () => gen === this._gen && this._watch(gen))
  }

  // _down handles the end of an attempt or of a live connection. A live one is resumed on the
  // same transport. For one that never got through, the same URL fetched tells why, which a
  // refused WebSocket or EventSource does not (_status); then _decide.
  async _down (gen, info) {
    if (gen !== this._gen || this.state === 'closed') return
    const wasUp = this._up
    const t = this.transport
    if (wasUp && Date.now() - this._openedAt >= 2 * this._heartbeat) this._attempt = 0 // it was healthy
    this._teardown()
    gen = ++this._gen
    if (wasUp) return this._decide(gen, t, { ...info, timeout: false }) // died, not refused: same transport
    if (info.status !== undefined || t === 'poll') return this._decide(gen, t, info)
    if (info.code === 4000) return this._stop('kicked', { message: info.reason })
    if (info.code === 4001) return this._tokenExpired(gen)
    this._setState(this._everUp ? 'reconnecting' : 'connecting', { why: info.why, attempt: this._attempt })
    const probe = await this._status(t)
    if (gen === this._gen) this._decide(gen, t, { ...info, ...probe })
  }

  // _decide acts on why transport t failed: a fresh token, a reset cursor, a wait as long as
  // the server asks, a stop for a refusal that retrying will not change, or the next transport
  // for what a hostile network does — never for a status the server gave.
  _decide (gen, t, { why, status, error, retryAfter, timeout, code, wait }) {
    if (wait >= 0) return this._retry(gen, why, wait) // the server said when
    if (code === 4000) return this._stop('kicked', {})
    if (code === 4001) return this._tokenExpired(gen)
    if (status === 401) return this._reauth(gen, error)
    if (status === 400 && error?.code === 'invalid_cursor') {
      this.cursor = '' // a cursor from another server: start afresh and reload
      this.emit('reset', { type: 'reset', data: { reason: 'invalid_cursor' } })
      return this._retry(gen, why, 0)
    }
    if (status === 429 || status === 503) return this._retry(gen, why, retryAfter * 1000 * (1 + Math.random() / 4))
    if (error?.code === 'transport_disabled') return this._fallback(gen, why, false)
    const refused = status >= 400 && status < 500 && !(t === 'ws' && status === 426)
    if (refused && error) return this._fail({ status, ...error })
    const accepted = (t === 'ws' && status === 426) || (t === 'sse' && status >= 200 && status < 300)
    // The server would take the stream, something in between refused it, or it never came.
    if (accepted || refused || (timeout && !status) || status === -1) return this._fallback(gen, why, true)
    this._retry(gen, why) // no answer, or a server error: the server is down or restarting
  }

  // _status fetches the URL of transport t the way it was asked for — same credentials, same
  // cursor and rooms — and aborts once the status is known. A plain GET of /ws answers what its
  // handshake would (426 when it would be accepted). No answer: -1 when the server answers
  // other requests (the stream's path is what is blocked), else 0.
  async _status (t) {
    const ctl = new AbortController()
    const kill = setTimeout(() => ctl.abort(), this.connectTimeout)
    try {
      const res = await fetch(this._url(t), { cache: 'no-store', signal: ctl.signal })
      if (res.ok) return { status: res.status }
      return answer(res, await res.json().catch(() => null))
    } catch {
      if (ctl.signal.aborted) return { status: 0 }
      try {
        await fetch(this.api.url + '/healthz', { cache: 'no-store', signal: AbortSignal.timeout(this.connectTimeout) })
        return { status: -1 }
      } catch { return { status: 0 } }
    } finally { clearTimeout(kill); ctl.abort() }
  }

  // _retry tries the same transport again after the backoff, or after at least minWait.
  _retry (gen, why, minWait) {
    const delay = minWait === 0 ? 0 : Math.round(Math.max(minWait || 0, fullJitter(this._attempt, this.backoff)))
    this._notBefore = minWait ? Date.now() + delay : 0 // the server asked for a wait: nothing shortens it
    const attempt = ++this._attempt
    this._setState(this._everUp ? 'reconnecting' : 'connecting', { why, attempt, delay })
    this._after('retry', delay, () => gen === this._gen && this._connect())
  }

  // _fallback moves to the next transport at once; past the last, it starts over after the
  // backoff. A fallback the network forced is remembered for a while.
  _fallback (gen, why, remember) {
    if (++this._i < this.transports.length) {
      if (remember) rememberFallback(this.transports[this._i])
      return this._connect()
    }
    this._i = 0
    this._retry(gen, why)
  }

  // _fail stops for a refusal that retrying will not change.
  _fail (err) {
    this._stop('refused', err)
    this.emit('error', err)
  }

  // _probeUpgrade tries the first transport in the background while a fallback carries the
  // connection: a fresh connection that shows `connected` proves it works again, and the
  // client switches to it from its cursor, losing and doubling nothing. Else it tries again
  // later, twice as late.
  _probeUpgrade (gen) {
    const t = this.transports[0]
    if (gen !== this._gen || this.state !== 'open' || t === 'poll') return
    let probe = null
    const done = (ok) => {
      if (!probe) return
      probe.close()
      probe = null
      this._cancel('probe')
      if (gen !== this._gen || this.state !== 'open') return
      if (!ok) {
        this._upgradeIn = Math.min(2 * this._upgradeIn, FALLBACK_MS)
        return this._after('upgrade', this._upgradeIn, () => this._probeUpgrade(gen))
      }
      this._upgradeIn = UPGRADE_FIRST
      this._i = 0
      rememberFallback(null)
      this._connect(true)
    }
    const on = { frame: (ev) => ev.type === 'connected' && done(true), down: () => done(false) }
    probe = t === 'ws' ? openWS(this._url(t, false), on) : openSSE(this._url(t, false), ['connected'], on)
    this._after('probe', this.connectTimeout, () => done(false))
  }

  // _tokenExpired handles a stream ended by its token's expiry, or refused with it.
  _tokenExpired (gen) {
    this._teardown()
    return this._reauth(gen === this._gen ? ++this._gen : this._gen, { code: 'token_expired', message: 'the token has expired' })
  }

  // _reauth gets a token after a refusal: from getToken, or one the app set meanwhile; with
  // none, the client closes and asks the app (auth_required).
  async _reauth (gen, error = {}) {
    if (this.api.getToken) {
      const delay = this._authFails ? fullJitter(this._authFails, this.backoff) : 0 // its last token was refused too
      this._authFails = (this._authFails || 0) + 1
      this._setState(this._everUp ? 'reconnecting' : 'connecting', { why: 'token refused', delay })
      if (delay) await this._sleep('token', delay)
      if (gen === this._gen && await this._renewToken(gen)) return gen === this._gen && this._connect()
    } else if (this.api.token !== this._connToken) return this._connect()
    if (gen !== this._gen) return
    const err = { status: 401, code: error.code || 'unauthorized', message: error.message || 'the token was refused' }
    this._stop('auth', err)
    this.emit('error', err)
    this.emit('auth_required', err)
  }

  // _renewToken calls getToken until it answers, with backoff between failures. It resolves
  // true with the token replaced, false when getToken gives none or gen is over.
  async _renewToken (gen) {
    for (let n = 0; gen === this._gen && this.state !== 'closed'; n++) {
      try {
        return !!await this.api.renew()
      } catch (e) {
        const delay = fullJitter(n, this.backoff)
        console.warn('switchboard: getToken failed; trying again in', delay, 'ms:', e?.message)
        await this._sleep('token', delay)
      }
    }
    return false
  }

  // _scheduleRefresh asks getToken for a new token before the current one expires, judged by
  // the server's clock (the expiry it announced, and its clock from connected), with a lead
  // of a quarter of the time left (3 s to 60 s) for getToken and the request.
  _scheduleRefresh (gen) {
    const exp = this._expiresAt || jwtExp(this.api.token)
    if (!this.api.getToken || !exp) return
    const left = exp - this._skew - Date.now()
    const lead = Math.min(60e3, Math.max(3e3, left / 4))
    this._after('refresh', Math.max(0, left - lead), async () => {
      if (gen !== this._gen) return
      if (await this._renewToken(gen)) this._pushToken(gen)
    })
  }

  // _pushToken hands the token to the live connection, which then ends at its expiry instead:
  // in-band on a WebSocket, over REST otherwise. A token the server refuses is asked for again.
  async _pushToken (gen) {
    const token = this.api.token
    try {
      let ans
      if (this.transport === 'ws') {
        const ev = await this._ask({ type: 'refresh', data: { token } })
        if (ev.type === 'fault') throw Object.assign(new Error(ev.data.message), { code: ev.data.code })
        ans = ev.data
      } else {
        ans = await this.api.call('POST', '/api/connections/' + encodeURIComponent(this.connectionId) + '/token', null, token)
      }
      if (gen !== this._gen) return
      this._connToken = token
      this._expiresAt = Date.parse(ans.expires_at) || jwtExp(token)
      this._scheduleRefresh(gen)
    } catch (e) {
      if (gen !== this._gen || e.code === 'connection_not_found') return // the reconnect presents it
      console.warn('switchboard: the server refused the new token:', e.message)
      this._after('refresh', fullJitter(2, this.backoff), async () => {
        if (gen === this._gen && await this._renewToken(gen)) this._pushToken(gen)
      })
    }
  }

  // _ask sends a WebSocket message with a ref and resolves with the event that answers it.
  _ask (msg) {
    const ref = uid()
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this._refs.delete(ref); reject(new Error('no answer')) }, this.connectTimeout)
      this._refs.set(ref, (ev) => { clearTimeout(timer); resolve(ev) })
      if (!this._conn?.send({ ...msg, ref })) { clearTimeout(timer); this._refs.delete(ref); reject(new Error('not connected')) }
    })
  }

  _teardown () {
    this._up = false
    this._cancel('connect', 'watchdog', 'retry', 'upgrade', 'probe', 'check', 'refresh', 'token')
    this._conn?.close()
    this._conn = null
    for (const answer of this._refs.values()) answer({ type: 'fault', data: { code: 'disconnected', message: 'the connection ended' } })
    this._refs.clear()
  }

  _stop (reason, detail = {}) {
    this._gen++
    this._teardown()
    if (reason === 'client') this._abandon()
    this._closedFor = reason
    this._setState('closed', { ...detail, reason })
    const err = Object.assign(new Error(detail.message || 'closed: ' + reason), detail, { reason })
    for (const [room, waiters] of this._later) { // the rooms are joined if the client opens again
      waiters.forEach((w) => w.reject(err))
      this._later.set(room, [])
    }
  }

  // _goOffline waits for the network: nothing is tried until the page says it is back.
  _goOffline () {
    this._gen++
    this._teardown()
    this._offlineSince = Date.now()
    this._setState(this._everUp ? 'reconnecting' : 'connecting', { why: 'offline' })
  }

  _offline () {
    if (this.state !== 'closed' && this.state !== 'idle') this._goOffline()
  }

  // _wake reconnects at once when the network returns, and when the page is shown or resumed
  // checks every transport: one silent for longer than a heartbeat is replaced, a WebSocket is
  // pinged (mobile webviews drop background connections silently).
  _wake (e) {
    if (e.type === 'visibilitychange' && document.hidden) return
    if (this.state === 'closed' || this.state === 'idle') return
    if (e.type === 'online' || e.persisted || this._offlineSince || (this._timers.retry && !this._timers.token)) {
      this._offlineSince = 0
      this._attempt = 0
      const wait = this._notBefore - Date.now() // the server asked for a wait: nothing shortens it
      if (wait > 0) return this._after('retry', wait, () => this._connect())
      return this._connect()
    }
    if (this.state !== 'open') return
    const gen = this._gen
    const silent = Date.now() - this._seen
    if (silent > (this.transport === 'poll' ? this._deadAfter() : this._heartbeat + 2000)) {
      return this._down(gen, { why: 'silent for ' + silent + ' ms after the page came back', dead: true })
    }
    this._watch(gen)
    if (this.transport === 'ws') {
      const at = Date.now()
      this._conn.send({ type: 'ping' })
      this._after('check', this.connectTimeout, () => gen === this._gen && this._seen < at && this._down(gen, { why: 'no pong', dead: true }))
    }
  }

  // _abandon ends the long-poll connection on the server, best effort: unlike a stream, which
  // ends with its socket, it would otherwise linger (and show its user online) until it expires.
  _abandon () {
    const id = this._pollId
    this._pollId = ''
    if (!id) return
    fetch(this.api.url + '/api/connections/' + encodeURIComponent(id), {
      method: 'DELETE', headers: this.api.headers(), keepalive: true
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

  // tokenChanged hands a new token (api.token) to a live connection without reconnecting, and
  // resumes one stopped for auth from its cursor.
  tokenChanged () {
    if (this.state === 'closed' && this._closedFor === 'auth') this.open()
    else if (this.state === 'open') this._pushToken(this._gen)
  }

  /**
   * open starts the connection (see autoConnect), resumes a closed one, or restarts a live one,
   * from the cursor, trying the transports from the first again.
   */
  open () {
    this._listen(true) // again, after a close()
    this.state = 'idle'
    this._attempt = 0
    this._offlineSince = 0
    this._first()
    this._connect()
  }

  /** close ends the connection for good. */
  close () {
    this._stop('client')
    this._listen(false)
  }

  _room (room) { return '/api/rooms/' + encodeURIComponent(room) }

  /**
   * join subscribes this connection to a room, and keeps it across reconnects. Before the
   * connection opens (or while it is closed) it resolves once the room is joined on opening,
   * and rejects if it is refused or the client closes first.
   */
  join (room) {
    this._left.delete(room)
    if (this.state === 'open') return this._joinRoom(room, [])
    return new Promise((resolve, reject) => {
      if (!this._later.has(room)) this._later.set(room, [])
      this._later.get(room).push({ resolve, reject })
    })
  }

  async _joinRoom (room, waiters) {
    try {
      const res = await this.api.request('POST', this._room(room) + '/join', { connection_id: this.connectionId })
      this.rooms.add(room)
      return res
    } catch (e) {
      this.rooms.delete(room)
      // A connection that went away: joined on the next one, and its callers wait for that.
      if (!e.status || e.code === 'connection_not_found') this._later.set(room, [...(this._later.get(room) || []), ...waiters])
      throw e
    }
  }

  /** leave unsubscribes this connection from a room. */
  leave (room) {
    this.rooms.delete(room)
    for (const w of this._later.get(room) || []) w.reject(new Error('left before it was joined'))
    this._later.delete(room)
    if (this.state !== 'open') return this._left.add(room) && Promise.resolve(null) // left when the connection opens
    return this._leaveRoom(room)
  }

  _leaveRoom (room) {
    return this.api.request('POST', this._room(room) + '/leave', { connection_id: this.connectionId })
  }
}
