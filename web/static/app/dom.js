// dom.js: the few DOM helpers the app's modules share.

export const $ = (sel, root = document) => root.querySelector(sel)

// h builds an element: h('li', {class: 'x', dataset: {id}, onclick: fn}, 'text', child).
// Text is always set as text, never parsed as HTML.
export function h (tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue
    if (k === 'dataset') Object.assign(el.dataset, v)
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v)
    else el.setAttribute(k, v === true ? '' : v)
  }
  el.append(...children.flat().filter((c) => c != null && c !== false))
  return el
}

export const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })

// slug turns a room name into a room key: lower-case letters, digits and '-'.
export const slug = (name) => name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 100)

// claims reads a JWT's payload (unverified: only to show who is signed in).
export function claims (token) {
  try {
    const b64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))))
  } catch { return null }
}

// when shows a time of today as a clock, an older one with its date.
export function when (iso) {
  const d = new Date(iso)
  if (d.toDateString() === new Date().toDateString()) return clock(iso)
  return d.toLocaleDateString([], { day: 'numeric', month: 'short' }) + ' ' + clock(iso)
}

// safeURL returns url resolved against the page when it is http(s), else '' (no javascript:).
export function safeURL (url) {
  if (!url) return ''
  try {
    const u = new URL(url, location.href)
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : ''
  } catch { return '' }
}

// icon returns one of the app's SVG icons, hidden from assistive technology (the element
// it sits in says what it means).
const SVG = 'http://www.w3.org/2000/svg'
const ICONS = {
  lock: 'M12 2a5 5 0 0 0-5 5v3H6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-8a2 2 0 0 0-2-2h-1V7a5 5 0 0 0-5-5Zm-3 8V7a3 3 0 0 1 6 0v3H9Z',
  more: 'M5 10a2 2 0 1 0 0 4 2 2 0 0 0 0-4Zm7 0a2 2 0 1 0 0 4 2 2 0 0 0 0-4Zm7 0a2 2 0 1 0 0 4 2 2 0 0 0 0-4Z',
  chat: 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2Z'
}
export function icon (name) {
  const svg = document.createElementNS(SVG, 'svg')
  for (const [k, v] of Object.entries({ viewBox: '0 0 24 24', class: 'icon icon-' + name, 'aria-hidden': 'true', focusable: 'false' })) svg.setAttribute(k, v)
  const path = document.createElementNS(SVG, 'path')
  path.setAttribute('d', ICONS[name])
  path.setAttribute('fill', 'currentColor')
  svg.append(path)
  return svg
}

// initials are the first letters of a name's first and last words: "Ada Lovelace" → "AL".
export function initials (name) {
  const words = String(name || '?').trim().split(/\s+/).filter(Boolean)
  const first = (w) => [...w][0] || ''
  return ((first(words[0] || '?') + (words.length > 1 ? first(words[words.length - 1]) : '')).toUpperCase()) || '?'
}

// avatar is a user's initials on a colour picked from their id: the same user, the same colour.
export function avatar (userID, name) {
  let hash = 0
  for (const c of String(userID)) hash = (hash * 31 + c.codePointAt(0)) >>> 0
  return h('span', { class: 'avatar', dataset: { color: String(hash % 8) }, 'aria-hidden': 'true' }, initials(name || userID))
}

// dayLabel names the day of a time: Today, Yesterday, or its date.
export function dayLabel (t) {
  const d = new Date(t)
  const today = new Date()
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1)
  if (d.toDateString() === today.toDateString()) return 'Today'
  if (d.toDateString() === yesterday.toDateString()) return 'Yesterday'
  return d.toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long', ...(d.getFullYear() !== today.getFullYear() && { year: 'numeric' }) })
}
