// admin-rooms.js: the room inspector — any room's details, who is online in it, its members and
// its history, for an operator who need not be a member (GET /api/admin/rooms/:room…).
import { $, h } from './dom.js'
import { wire, values, fieldError } from './admin-forms.js'
import { timeEl } from './admin-time.js'

const PAGE = 30

export class RoomInspector {
  constructor (sb) {
    this.sb = sb
    this.form = $('#inspect-form')
    this.key = ''
    this.next = ''
    wire(this.form, () => this.inspect(values(this.form).room))
    $('#inspect-more').addEventListener('click', () => this.more())
  }

  // offer fills the list of rooms to pick from: the rooms of live connections and public ones.
  offer (keys) {
    const known = new Set([...$('#known-rooms').options].map((o) => o.value))
    for (const k of keys) if (!known.has(k)) $('#known-rooms').append(h('option', { value: k }))
  }

  // open inspects a room, as if its key had been typed into the form.
  open (key) {
    this.form.elements.room.value = key
    this.form.requestSubmit()
  }

  async inspect (key) {
    key = key.replace(/^#/, '')
    if (!key) throw fieldError('room', 'Name the room to inspect.')
    const base = '/api/admin/rooms/' + encodeURIComponent(key)
    const [room, members, presence, history] = await Promise.all([
      this.sb.request('GET', base), this.sb.request('GET', base + '/members'),
      this.sb.request('GET', base + '/presence'), this.sb.request('GET', `${base}/messages?limit=${PAGE}`)])
    this.key = key
    this.render(room, members.members, presence.users)
    $('#inspect-history').replaceChildren(...history.messages.map(message))
    this.paged(history)
    return ''
  }

  render (room, members, present) {
    const result = $('#inspect-result')
    result.hidden = false
    result.dataset.room = room.key
    $('#inspect-name').textContent = room.name || room.key
    const facts = [
      fact('Key', room.key), fact('Type', room.type), fact('Visibility', room.private ? 'Private' : 'Public'),
      fact('Members', String(room.member_count ?? members.length)), fact('Online', String(present.length)),
      fact('Created', timeEl(room.created_at), room.created_by ? ` by ${room.created_by}` : '')]
    if (room.archived_at) facts.push(fact('Archived', timeEl(room.archived_at)))
    $('#inspect-facts').replaceChildren(...facts)
    $('#inspect-presence').replaceChildren(...present.map((p) =>
      h('li', { class: 'inspect-person', dataset: { user: p.user_id, status: p.status } },
        h('span', { class: 'presence-dot', 'aria-hidden': 'true' }),
        h('span', {}, p.user_name && p.user_name !== p.user_id ? `${p.user_name} (${p.user_id})` : p.user_id),
        h('span', { class: 'hint' }, p.status))))
    $('#inspect-presence-empty').hidden = present.length > 0
    $('#inspect-members tbody').replaceChildren(...members.map((m) =>
      h('tr', { dataset: { user: m.user_id, role: m.role } },
        h('td', { 'data-label': 'User' }, m.user_name && m.user_name !== m.user_id ? `${m.user_name} (${m.user_id})` : m.user_id),
        h('td', { 'data-label': 'Role' }, m.role),
        h('td', { 'data-label': 'Joined' }, timeEl(m.joined_at)))))
  }

  async more () {
    const button = $('#inspect-more')
    button.disabled = true
    try {
      const page = await this.sb.request('GET', `/api/admin/rooms/${encodeURIComponent(this.key)}/messages?limit=${PAGE}&before=${encodeURIComponent(this.next)}`)
      $('#inspect-history').append(...page.messages.map(message))
      this.paged(page)
    } catch (e) {
      this.form.querySelector('.form-error').textContent = e.message
    } finally {
      button.disabled = false
    }
  }

  paged (page) {
    this.next = page.next_before || ''
    $('#inspect-more').hidden = !this.next
    $('#inspect-history-empty').hidden = $('#inspect-history').children.length > 0
  }
}

function fact (label, ...value) {
  return h('div', {}, h('dt', {}, label), h('dd', {}, ...value))
}

function message (m) {
  return h('li', { class: 'inspect-msg', dataset: { id: m.id, user: m.user_id } },
    h('div', { class: 'inspect-msg-head' }, h('strong', {}, m.user_name || m.user_id), timeEl(m.created_at),
      m.edited_at ? h('span', { class: 'hint' }, '(edited)') : null),
    h('p', { class: 'inspect-text' }, m.content))
}
