// tabs.js: the tabs of one browser that share one connection to a server as one user. One tab
// leads: it holds the Web Lock named after the group, so the lead passes to a waiting tab by
// itself when the leader closes, crashes or is discarded. Tabs talk over a BroadcastChannel of
// the same name, which delivers to every other tab of the group in the order posted. Each tab
// also holds a lock of its own while it is in the group, so that a leader can tell the tabs
// that are still there from those that went without saying goodbye.

// sharable reports whether this browser lets tabs share: Web Locks (secure contexts only:
// HTTPS, or localhost) and BroadcastChannel.
export function sharable () {
  return typeof BroadcastChannel === 'function' && typeof navigator !== 'undefined' && !!navigator.locks
}

export class TabGroup {
  // name names the group; tab is this tab's id; lead runs when this tab becomes the leader
  // (and the lead passes on when it returns or throws); message receives the other tabs' posts.
  constructor (name, tab, { lead, message }) {
    this.name = name
    this.tab = tab
    this._lead = lead
    this._message = message
    this._channel = null
  }

  // join enters the group and queues for the lead.
  join () {
    const ctl = this._ctl = new AbortController()
    this._channel = new BroadcastChannel(this.name)
    this._channel.onmessage = (m) => this._message(m.data)
    const hold = (resolveVar) => () => new Promise((resolve) => { this[resolveVar] = resolve })
    navigator.locks.request(this.name + '|tab|' + this.tab, { signal: ctl.signal }, hold('_releaseTab')).catch(() => {})
    navigator.locks.request(this.name, { signal: ctl.signal }, async () => {
      if (ctl.signal.aborted) return
      const held = new Promise((resolve) => { this._releaseLead = resolve })
      await this._lead()
      return held
    }).catch(() => {}) // aborted while waiting: the tab left
  }

  // post sends msg to every other tab of the group.
  post (msg) {
    this._channel?.postMessage({ ...msg, tab: this.tab })
  }

  // liveTabs lists the ids of the tabs in the group now, this one included.
  async liveTabs () {
    const prefix = this.name + '|tab|'
    const { held = [] } = await navigator.locks.query()
    return held.filter((l) => l.name.startsWith(prefix)).map((l) => l.name.slice(prefix.length))
  }

  // leave quits the group: the lead, if this tab has it, passes on.
  leave () {
    this._ctl?.abort()
    this._releaseTab?.()
    this._releaseLead?.()
    this._releaseTab = this._releaseLead = null
    this._channel?.close()
    this._channel = null
  }
}
