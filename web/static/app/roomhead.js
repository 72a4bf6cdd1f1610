// roomhead.js: the header of the open room — its name (a direct room's is the other
// person's), a lock on a private room, its member count and description — and the note at the
// start of its history: "This is the start of #room".
import { $ } from './dom.js'
import { isDirect, roomLabel } from './rooms.js'

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`

// showRoomHead shows the header of room r (a room summary of GET /api/rooms, or as much of one
// as is known).
export function showRoomHead (r) {
  const direct = isDirect(r)
  const title = (direct ? '' : '#') + roomLabel(r)
  $('#room-title').textContent = title
  $('#room-title').title = title
  $('#room-lock').hidden = !r.private || direct
  $('#room-kind').textContent = direct ? 'Direct message' : r.private ? 'Private' : ''
  $('#room-members').textContent = r.member_count ? plural(r.member_count, 'member', 'members') : ''
  $('#room-desc').textContent = r.description || ''
  $('#room-desc').title = r.description || ''
}

// showIntro shows, when the whole history of room r is shown (atStart), what the room is:
// the first thing above its first message, or all there is in an empty room.
export function showIntro (r, atStart, empty) {
  const intro = $('#room-intro')
  intro.hidden = !atStart
  if (!atStart) return
  const direct = isDirect(r)
  $('#intro-title').textContent = direct
    ? `This is the start of your conversation with ${roomLabel(r)}`
    : `This is the start of #${roomLabel(r)}`
  $('#intro-text').textContent = [
    direct ? 'Only the two of you can see these messages.'
      : r.private ? 'This room is private: only its members can see it.' : r.description || '',
    empty ? (direct ? 'Say hello!' : 'No messages yet. Be the first to say something.') : ''
  ].filter(Boolean).join(' ')
}
