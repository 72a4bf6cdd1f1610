// status.js: what the page shows of its connection. The header says how it is connected; while
// it is not, who is online is greyed out (presence is not replayed: it may be stale). Once the
// connection has ended for good — an administrator disconnected you, or the server refused
// it — a banner gives the reason the server gave and a Reconnect button, and the composer is
// disabled until the connection is back (while the client reconnects by itself, what you
// write waits and is sent then).
import { $ } from './dom.js'

const LABEL = { ws: 'WebSocket', sse: 'SSE', poll: 'long-poll' }

export class Status {
  constructor (sb) {
    this.sb = sb
    sb.on('state', (ev) => this.show(ev))
    $('#conn-retry').addEventListener('click', () => sb.open())
  }

  show ({ state, transport, reason, message }) {
    const conn = $('#conn')
    conn.hidden = false
    conn.dataset.state = state
    conn.dataset.transport = state === 'open' ? transport : ''
    $('#conn-text').textContent = {
      idle: 'Offline',
      connecting: `Connecting (${LABEL[transport] || '…'})…`,
      open: `Live · ${LABEL[transport]}`,
      reconnecting: `Reconnecting (${LABEL[transport] || '…'})…`,
      closed: { kicked: 'Disconnected by an administrator', auth: 'Signed out', refused: `Refused: ${message || 'no reason given'}` }[reason] || 'Offline'
    }[state]
    $('#app').dataset.conn = state
    $('#online-panel').dataset.stale = String(state !== 'open')

    // Ended, and not by you: say why, and offer to connect again.
    const ended = state === 'closed' && (reason === 'kicked' || reason === 'refused')
    $('#conn-banner').hidden = $('#conn-retry').hidden = !ended
    if (ended) {
      $('#conn-reason').textContent = reason === 'kicked'
        ? 'An administrator disconnected you' + (message ? `: “${message}”` : '.')
        : `The server refused the connection: ${message || 'no reason given'}`
    }
    const input = $('#message-input')
    input.disabled = $('#send').disabled = ended
    input.placeholder = ended ? 'Reconnect to send messages' : 'Write a message'
    console.info('switchboard:', state, transport || '', reason || '')
  }
}
