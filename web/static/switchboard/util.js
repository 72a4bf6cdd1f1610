// util.js: small helpers of the Switchboard client.

/** uid returns a random id, for client_id. crypto.randomUUID needs a secure context; this does not. */
export function uid () {
  const b = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

// claims reads a JWT's claims without verifying them: {} when it is no JWT.
export function claims (token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) || {}
  } catch { return {} }
}

// jwtExp is a JWT's exp in ms, by the issuer's clock; 0 when unknown.
export function jwtExp (token) {
  const { exp } = claims(token)
  return typeof exp === 'number' ? exp * 1000 : 0
}

// fullJitter is exponential backoff with full jitter: a random wait up to base·2^attempt, capped.
export function fullJitter (attempt, { base, max }) {
  return Math.round(Math.random() * Math.min(max, base * 2 ** Math.min(attempt, 30)))
}

export function parse (text) {
  try { return JSON.parse(text) } catch { return null } // a proxy's garbage is no event
}

// answer is what a refused request says: its status, the server's JSON error (absent when
// something in between answered) and Retry-After in seconds.
export function answer (res, body) {
  const error = body?.error && typeof body.error.code === 'string' ? body.error : undefined
  return { status: res.status, error, retryAfter: +res.headers.get('Retry-After') || 0 }
}
