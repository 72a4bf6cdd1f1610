// message.js: one chat message as the list shows it — the author's initials, name and time,
// the text with its links, the edited mark and, on your own, the delivery mark, and its
// actions (Edit, Delete): beside it where a pointer hovers, in a menu (⋯) on touch screens —
// and the grouping of the list: a separator where the day changes, and consecutive messages of
// one author, a few minutes apart, under one name.
import { h, clock, avatar, icon, dayLabel } from './dom.js'
import { richText } from './richtext.js'

const GROUP_MS = 5 * 60 * 1000 // a message this soon after the author's previous one joins it

// renderMessage builds a message: m as the server sends it (or a pending one of yours, with a
// client_id and no id yet). me is the signed-in user.
export function renderMessage (m, me) {
  const mine = m.user_id === me.id
  const name = mine ? me.name : (m.user_name || m.user_id)
  return h('li', { class: mine ? 'msg mine' : 'msg', dataset: { user: m.user_id, clientId: m.client_id, ts: m.created_at || new Date().toISOString() } },
    avatar(m.user_id, name),
    h('div', { class: 'body' },
      h('div', { class: 'head' },
        h('span', { class: 'who' }, name),
        h('time', { datetime: m.created_at || null }, m.created_at ? clock(m.created_at) : '')),
      h('div', { class: 'text' }, richText(m.content)),
      h('span', { class: 'foot' },
        h('span', { class: 'edited', hidden: !m.edited_at }, '(edited)'),
        mine ? h('span', { class: 'mark', role: 'img' }) : null)),
    h('button', { type: 'button', class: 'more', dataset: { act: 'menu' }, 'aria-haspopup': 'true', 'aria-expanded': 'false', 'aria-label': 'Message actions', title: 'Message actions' },
      icon('more')),
    h('div', { class: 'actions', role: 'group', 'aria-label': 'Message actions' },
      mine ? h('button', { type: 'button', dataset: { act: 'edit' }, 'aria-label': 'Edit your message' }, 'Edit') : null,
      h('button', { type: 'button', dataset: { act: 'remove' }, 'aria-label': mine ? 'Delete your message' : `Delete ${name}'s message` }, 'Delete')))
}

// setContent shows a message's (new) text.
export function setContent (li, content) {
  li.querySelector('.text').replaceChildren(...richText(content))
}

// stamp gives a shown message the time the server stored it at.
export function stamp (li, createdAt) {
  if (!createdAt) return
  li.dataset.ts = createdAt
  const time = li.querySelector('time')
  time.dateTime = createdAt
  time.textContent = clock(createdAt)
  time.title = new Date(createdAt).toLocaleString()
}

// regroup walks the list in order: a separator (li.day) goes before the first message of each
// day, and a message that continues its author's previous one gets class cont (no avatar, no
// name). It changes only what differs, so that nothing is announced again or moves.
export function regroup (list) {
  let prev = null // the previous message: {user, t}
  let day = ''
  for (const li of [...list.children]) {
    if (li.classList.contains('day')) continue
    if (!li.classList.contains('msg')) { prev = null; continue } // a notice breaks a group
    const t = Date.parse(li.dataset.ts) || Date.now()
    const d = new Date(t).toDateString()
    const sep = li.previousElementSibling?.classList.contains('day') ? li.previousElementSibling : null
    if (d === day) sep?.remove()
    else if (!sep) li.before(h('li', { class: 'day', role: 'separator', 'aria-label': dayLabel(t) }, h('span', {}, dayLabel(t))))
    else if (sep.textContent !== dayLabel(t)) {
      sep.firstChild.textContent = dayLabel(t)
      sep.setAttribute('aria-label', dayLabel(t))
    }
    const cont = d === day && prev?.user === li.dataset.user && t - prev.t < GROUP_MS
    if (li.classList.contains('cont') !== cont) li.classList.toggle('cont', cont)
    prev = { user: li.dataset.user, t }
    day = d
  }
  for (const sep of list.querySelectorAll(':scope > .day')) { // left with no message of their day
    if (!sep.nextElementSibling?.classList.contains('msg')) sep.remove()
  }
}
