// admin-time.js: times in the admin view say how long ago (or how soon) in words, with the
// full date and time on hover (title). refreshTimes keeps the words current.
import { h } from './dom.js'

const UNITS = [['year', 365 * 86400], ['month', 30 * 86400], ['week', 7 * 86400], ['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]]
let rtf
const format = () => (rtf ??= new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }))

// ago says when iso is relative to now: "12 seconds ago", "in 5 minutes", "now".
export function ago (iso, now = Date.now()) {
  const t = Date.parse(iso)
  if (Number.isNaN(t)) return '–'
  const s = (t - now) / 1000
  if (Math.abs(s) < 5) return 'now'
  for (const [unit, secs] of UNITS) {
    if (Math.abs(s) >= secs || unit === 'second') return format().format(Math.trunc(s / secs), unit)
  }
}

// full is the date and time of iso in the viewer's locale, to the second.
export const full = (iso) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })

// timeEl is a <time> showing ago(iso), with the full time as its title.
export function timeEl (iso) {
  if (!iso) return h('span', { class: 'hint' }, '–')
  return h('time', { datetime: iso, title: full(iso), dataset: { ago: '' } }, ago(iso))
}

// refreshTimes brings every timeEl under root up to date.
export function refreshTimes (root) {
  const now = Date.now()
  for (const el of root.querySelectorAll('time[data-ago]')) el.textContent = ago(el.dateTime, now)
}
