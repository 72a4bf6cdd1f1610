// main.js: sign-in, the session, and the wiring of the app's views to one live connection.
// The hash picks the view: #room=<key> (the chat) or #admin (for holders of admin permissions).
//
// Query parameters (for operators and tests): transports=ws,sse,poll picks and orders the
// transports; connect_timeout=<ms> is how long a transport gets to deliver `connected`.
import { connect } from '../switchboard.js'
import { $, claims } from './dom.js'
import { Rooms } from './rooms.js'
import { Chat } from './chat.js'
import { Presence } from './presence.js'
import { Notifications } from './notifications.js'
import { Announcements } from './announcements.js'
import { Admin } from './admin.js'
import { Status } from './status.js'

const SESSION = 'switchboard.session'
const params = new URLSearchParams(location.search)
const options = {
  transports: params.get('transports')?.split(','),
  connectTimeout: +params.get('connect_timeout') || undefined
}

let sb = null // the live client, once signed in
let session = null

function load () {
  try { return JSON.parse(localStorage.getItem(SESSION)) } catch { return null }
}

function save (s) {
  try { s ? localStorage.setItem(SESSION, JSON.stringify(s)) : localStorage.removeItem(SESSION) } catch {}
}

function sessionOf (token, user) {
  const c = claims(token)
  if (!user && !c?.sub) throw new Error('This is not a token Switchboard can read.')
  return { token, user: user || { id: c.sub, name: c.name || c.sub } }
}

// permissions are those the token carries (the server checks them again on every request).
function permissions (s) {
  return claims(s.token)?.permissions || s.user.permissions || []
}

function showSignIn (note = '') {
  $('#signin').hidden = false
  $('#app').hidden = $('#nav').hidden = $('#conn').hidden = true
  $('#signin-note').textContent = note
  $('#demo-name').focus()
}

// signedIn starts the app for a session, or hands a renewed token to the running client.
function signedIn (s) {
  save(s)
  $('#signin').hidden = true
  if (sb && session?.user.id === s.user.id && sb.state !== 'idle') {
    session = s
    $('#app').hidden = $('#nav').hidden = false
    sb.setToken(s.token) // resumes from its cursor
    return
  }
  session = s
  if (sb) location.reload() // another user: start from a clean page
  else start()
}

async function start () {
  const me = session.user
  $('#me').textContent = me.name
  $('#app').hidden = $('#nav').hidden = false
  sb = connect({ token: session.token, autoConnect: false, ...options })
  window.switchboard = sb // for the console, and for tests
  new Status(sb)
  sb.on('auth_required', () => showSignIn('Your session has ended. Sign in again to carry on where you left off.'))
  sb.on('error', (e) => console.warn('switchboard:', e.status, e.code, e.room || '', e.message))

  const room = decodeURIComponent(location.hash.match(/^#room=(.+)$/)?.[1] || 'general')
  const rooms = new Rooms(sb, me, (key) => openRoom(key))
  const presence = new Presence(sb, me, (user) => rooms.direct(user))
  const chat = new Chat(sb, me, {
    read: (key, n) => rooms.setUnread(key, n),
    info: (key) => rooms.rooms.get(key),
    joined: (key) => rooms.refresh(key) // a room opened by name: what it is, once joined
  })
  rooms.onChange = (key) => key === chat.room && chat.describe()
  // A private room you were made a member of: followed from now on (its messages count as
  // unread), and its unread count taken once that holds.
  rooms.onJoinable = (key) => sb.join(key).then(() => rooms.refresh(key, { unread: true }), (e) => console.warn('join', key, e))
  new Notifications(sb)
  new Announcements(sb)
  const admin = Admin.allowed(permissions(session)) ? new Admin(sb, permissions(session)) : null
  $('#admin-link').hidden = !admin
  const inAdmin = () => admin && location.hash === '#admin'
  let opened = false
  sb.on('reset', () => rooms.load().catch(() => {})) // a history gap: unread counts may be off
  sb.on('open', () => {
    presence.show(chat.room) // presence is never replayed: fetch it on every (re)connect
    if (opened) rooms.load().catch(() => {}) // unread counts of rooms this connection does not follow
    opened = true
  })

  function openRoom (key) {
    rooms.select(key)
    if (!inAdmin()) history.replaceState(null, '', '#room=' + encodeURIComponent(key))
    chat.open(key).then(() => key === chat.room && sb.state === 'open' && presence.show(key))
    if (matchMedia('(max-width: 799px)').matches) $('#online-panel').open = false
  }

  try {
    for (const key of (await rooms.load()).slice(0, 99)) sb.rooms.add(key)
  } catch (e) {
    if (e.status === 401) return
    console.warn('rooms', e)
  }
  if (room === 'general' || rooms.rooms.has(room)) sb.rooms.add(room) // others are joined once open
  sb.open()
  openRoom(room)

  // route shows the view the hash names.
  function route () {
    const view = inAdmin() ? 'admin' : 'chat'
    $('#app').dataset.view = view
    if (view === 'admin') {
      $('#admin-link').setAttribute('aria-current', 'page')
      return admin.show(chat.room)
    }
    $('#admin-link').removeAttribute('aria-current')
    admin?.hide()
    const key = decodeURIComponent(location.hash.match(/^#room=(.+)$/)?.[1] || '')
    if (key && key !== chat.room) openRoom(key)
  }
  addEventListener('hashchange', route)
  route()
}

$('#demo-form').addEventListener('submit', async (e) => {
  e.preventDefault()
  const name = $('#demo-name').value.trim()
  try {
    const admin = $('#demo-admin').checked
    const res = await fetch('/api/auth/demo', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name, admin }) })
    const body = await res.json()
    if (!res.ok) {
      $('#signin-note').textContent = body.error?.code === 'demo_disabled'
        ? 'Demo sign-in is off on this server: paste a token instead.' : body.error?.message || 'Sign-in failed.'
      return
    }
    signedIn(sessionOf(body.token, body.user))
  } catch {
    $('#signin-note').textContent = 'The server cannot be reached. Try again in a moment.'
  }
})

$('#token-form').addEventListener('submit', (e) => {
  e.preventDefault()
  try {
    signedIn(sessionOf($('#token-input').value.trim()))
  } catch (err) {
    $('#signin-note').textContent = err.message
  }
})

$('#sign-out').addEventListener('click', async () => {
  sb?.close() // ends a long-poll connection on the server too
  save(null)
  try { await fetch('/api/auth/logout', { method: 'POST' }) } catch {} // clears the HttpOnly cookie
  location.reload()
})

$('#my-status').addEventListener('change', (e) => sb?.presence(e.target.value).catch((err) => console.warn('presence', err)))

session = load()
if (session?.token) start()
else showSignIn()
