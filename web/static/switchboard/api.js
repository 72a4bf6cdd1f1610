// api.js: the REST side of a client — the server's URL, the token, getToken — shared by the
// tab's facade and its connection, so that the token has one owner.
import { answer } from './util.js'

export class Api {
  constructor (url, token, getToken) {
    this.url = url
    this.token = token
    this.getToken = getToken
    this.onRenewed = null // (token) => …: a 401 was answered with a fresh token
    this.onRefused = null // (error) => …: a 401 nobody could answer
    this._asking = null
  }

  headers (token = this.token) {
    return { Authorization: 'Bearer ' + token, 'Content-Type': 'application/json' }
  }

  // call makes one request with token; errors carry status, code, field and retryAfter. The
  // browser's HTTP cache is bypassed: answers are live state, and Chromium holds a GET while
  // an identical one is under way, so one slow answer would stall every later read of it.
  async call (method, path, body, token = this.token) {
    const res = await fetch(this.url + path, { method, headers: this.headers(token), body: body && JSON.stringify(body), cache: 'no-store' })
    const out = res.status === 204 ? null : await res.json().catch(() => null)
    if (res.ok) return out
    const { status, error = {}, retryAfter } = answer(res, out)
    throw Object.assign(new Error(error.message || 'HTTP ' + status), { status, code: error.code, field: error.field, retryAfter })
  }

  // renew asks getToken for a fresh token, which replaces this.token; callers meanwhile share
  // its answer. It resolves with the token, or with nothing when there is none.
  renew () {
    this._asking ??= Promise.resolve().then(() => this.getToken())
      .then((token) => { if (token) this.token = token; return token })
      .finally(() => { this._asking = null })
    return this._asking
  }

  // request is call, with a refused token (401) renewed once by getToken.
  async request (method, path, body) {
    try {
      return await this.call(method, path, body)
    } catch (e) {
      if (e.status !== 401) throw e
      const token = this.getToken && await this.renew().catch(() => null)
      if (token) {
        this.onRenewed?.(token)
        return this.call(method, path, body)
      }
      this.onRefused?.({ code: e.code, message: e.message })
      throw e
    }
  }
}
