// admin-send.js: the forms that send — a notification to one user, an announcement to
// everyone or some roles, and an event published to rooms, users or roles (the publish tool,
// POST /api/admin/publish: the server API of other backends, for a signed-in operator).
import { when } from './dom.js'
import { values, list, fieldError } from './admin-forms.js'

export async function notify (sb, f) {
  const v = values(f)
  const n = { title: v['notification.title'], message: v['notification.message'], type: v['notification.type'], priority: v['notification.priority'] }
  if (v['notification.action_url']) n.action_url = v['notification.action_url']
  if (v['notification.action_text']) n.action_text = v['notification.action_text']
  const sent = await sb.request('POST', '/api/admin/notifications', { user_id: v.user_id, notification: n })
  for (const name of ['notification.title', 'notification.message', 'notification.action_url', 'notification.action_text']) f.elements.namedItem(name).value = ''
  return `Sent “${sent.title}” to ${sent.user_id}.`
}

export async function announce (sb, f) {
  const v = values(f)
  const body = { title: v.title, message: v.message, type: v.type }
  const roles = list(v.target_roles)
  if (roles.length) body.target_roles = roles
  // datetime-local is the viewer's local time; the server takes RFC 3339.
  if (v.starts_at) body.starts_at = new Date(v.starts_at).toISOString()
  if (v.ends_at) body.ends_at = new Date(v.ends_at).toISOString()
  const a = await sb.request('POST', '/api/admin/announcements', body)
  f.reset()
  const later = Date.parse(a.starts_at) > Date.now() ? `, from ${when(a.starts_at)}` : ''
  return `Broadcast “${a.title}” to ${roles.length ? 'roles ' + roles.join(', ') : 'everyone'}${later}.`
}

export async function publish (sb, f) {
  const v = values(f)
  const body = { type: v.type || 'data_update' }
  try {
    body.data = v.data ? JSON.parse(v.data) : {}
  } catch (e) {
    throw fieldError('data', `data is not JSON: ${e.message}`)
  }
  if (body.data === null || typeof body.data !== 'object') throw fieldError('data', 'data must be a JSON object or array')
  const targets = { rooms: list(v.rooms), users: list(v.users), roles: list(v.roles) }
  for (const [k, items] of Object.entries(targets)) if (items.length) body[k] = items
  const res = await sb.request('POST', '/api/admin/publish', body)
  const to = Object.entries(targets).filter(([, items]) => items.length).map(([k, items]) => `${k} ${items.join(', ')}`)
  return `Published ${body.type} to ${to.length ? to.join('; ') : 'everyone'} (${res.published} event${res.published === 1 ? '' : 's'}).`
}
