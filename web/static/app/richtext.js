// richtext.js: a message's text as DOM nodes, its web addresses as links. Only http and https
// addresses become links (never javascript:, data: or any other scheme), they open in a new tab
// without giving it this page (rel=noopener noreferrer), and everything else stays text: nothing
// a user wrote is ever parsed as HTML.
import { h } from './dom.js'

const ADDRESS = /\bhttps?:\/\/[^\s<>"'`]+/gi

// richText returns the nodes of text: text nodes, and an <a> for each web address. The
// links' text is the address as written, so the element's textContent is text itself.
export function richText (text) {
  const nodes = []
  let from = 0
  for (const m of String(text).matchAll(ADDRESS)) {
    const written = trim(m[0])
    const href = httpURL(written)
    if (!href) continue
    if (m.index > from) nodes.push(text.slice(from, m.index))
    nodes.push(h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, written))
    from = m.index + written.length
  }
  if (from < text.length) nodes.push(text.slice(from))
  return nodes
}

// trim leaves out what ends a sentence rather than an address: trailing punctuation, and a
// closing bracket that the address does not open.
function trim (s) {
  for (;;) {
    const last = s[s.length - 1]
    if (/[.,:;!?'"*_]/.test(last)) s = s.slice(0, -1)
    else if (last === ')' && count(s, '(') < count(s, ')')) s = s.slice(0, -1)
    else if (last === ']' && count(s, '[') < count(s, ']')) s = s.slice(0, -1)
    else return s
  }
}

const count = (s, c) => s.split(c).length - 1

// httpURL returns the address as an absolute http(s) URL with a host, or '' for anything else.
function httpURL (s) {
  try {
    const u = new URL(s)
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname ? u.href : ''
  } catch { return '' }
}
