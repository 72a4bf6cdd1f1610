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
