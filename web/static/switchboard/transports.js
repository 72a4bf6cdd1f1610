// transports.js: the three ways a Switchboard connection is carried. Each opens one connection
// and reports through on: on.frame(envelope) for everything that arrives, heartbeats included,
// then on.down(info) once when it ends. None retries by itself: the Connection decides.
import { answer, parse } from './util.js'

// openWS opens a WebSocket; send writes a client message.
export function openWS (url, on) {
  const ws = new WebSocket(url.replace(/^http/, 'ws'))
  ws.onmessage = (m) => { const ev = parse(m.data); ev && on.frame(ev) }
  ws.onclose = (e) => on.down({ why: 'ws closed ' + e.code, code: e.code, reason: e.reason })
  return {
    send (msg) { try { ws.send(JSON.stringify(msg)); return true } catch { return false } },
    close () { ws.onclose = ws.onmessage = null; ws.close(1000) }
  }
}

// openSSE opens an EventSource listening for types; listen adds a type.
export function openSSE (url, types, on) {
  const es = new EventSource(url)
  const listener = (m) => { const ev = m.data && parse(m.data); ev && on.frame(ev) }
  for (const t of types) es.addEventListener(t, listener)
  es.onmessage = listener
  // EventSource would reconnect by itself, without backoff, fallback or a fresh token: the
  // client closes it and decides. CLOSED means the answer was not a stream (a status, a type).
  es.onerror = () => on.down({ why: es.readyState === EventSource.CLOSED ? 'sse refused' : 'sse dropped' })
  return {
    listen (type) { es.addEventListener(type, listener) },
    close () { es.onerror = null; es.close() }
  }
}

// openPoll long-polls until it fails or is closed. ask() gives each request's URL, headers and
// time limit; an answer's events go to on.frame, then on.polled(body) follows.
export function openPoll (ask, on) {
  const ctl = new AbortController()
  let closed = false
  ;(async () => {
    while (!closed) {
      const { url, headers, limit } = ask()
      let timedOut = false
      const kill = setTimeout(() => { timedOut = true; ctl.abort() }, limit) // a black hole answers never
      let res, body
      try {
        res = await fetch(url, { headers, signal: ctl.signal, cache: 'no-store' })
        body = res.ok ? await res.json() : await res.json().catch(() => null)
      } catch {
        if (!closed) on.down(timedOut ? { why: 'no answer within ' + limit + ' ms', timeout: true } : { why: 'poll failed' })
        return
      } finally { clearTimeout(kill) }
      if (closed) return
      if (!res.ok) return on.down({ why: 'poll status ' + res.status, ...answer(res, body) })
      for (const ev of body.events || []) {
        on.frame(ev)
        if (closed) return
      }
      on.polled(body)
    }
  })()
  return { close () { closed = true; ctl.abort() } }
}
