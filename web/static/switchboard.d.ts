// switchboard.d.ts: the types of switchboard.js, the browser client of Switchboard. The module
// itself needs no build step; TypeScript finds these types beside it.

/** Transports, in the order the client tries them by default. */
export type Transport = 'ws' | 'sse' | 'poll'

/** The client's states. */
export type State = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed'

/** The envelope every server event has on every transport. */
export interface Envelope<T = any> {
  /** The cursor after this event; only on events that move it. */
  id?: string
  type: string
  room?: string
  data: T
  /** Server time, RFC 3339 with milliseconds. */
  ts: string
}

/** Data of the connected event. */
export interface Connected {
  connection_id: string
  user_id: string
  transport: Transport
  rooms: string[]
  resumed: boolean
  heartbeat_ms: number
  /** Long-poll only: how long a poll waits for events. */
  poll_timeout_ms?: number
  /** When the token of this connection expires; the stream ends then unless refreshed. */
  expires_at?: string
}

/** A chat message as the server stores and sends it. */
export interface ChatMessage {
  id: string
  room: string
  seq: number
  user_id: string
  user_name?: string
  content: string
  client_id?: string
  created_at: string
  edited_at?: string
}

/** What every state event carries. */
export interface StateEvent {
  state: State
  transport: Transport | ''
  /** Why the client is (re)connecting: what failed last. */
  why?: string
  /** Failed attempts since the last healthy connection. */
  attempt?: number
  /** How long the client waits before the next attempt, in ms. */
  delay?: number
  /** open: the connection's id. */
  connectionId?: string
  /** closed: why — the app closed it, an administrator kicked the user, no token, or a refusal. */
  reason?: 'client' | 'kicked' | 'auth' | 'refused'
  status?: number
  code?: string
  message?: string
}

/**
 * An error the app should know of: a refusal that stopped the client (state closed), a token
 * nobody renewed (401), or a room of the connection the server refused (room set; the
 * connection stays open).
 */
export interface ClientError {
  status: number
  code: string
  message: string
  room?: string
}

/** An error of a REST call or of a join. */
export interface RequestError extends Error {
  status?: number
  code?: string
  field?: string
  /** Seconds, from Retry-After. */
  retryAfter?: number
}

export interface Options {
  /** The server; default: this page's origin. */
  url?: string
  token?: string
  /**
   * Called before the token expires (by the server's clock) and when the server refuses it;
   * resolves with a fresh token, or with null/'' when there is none (the client then closes
   * with an error and auth_required). A rejection is retried with backoff.
   */
  getToken?: () => Promise<string | null | undefined>
  /** Rooms to subscribe on the first connection; later ones resume them from the cursor. */
  rooms?: string[]
  /** Default ['ws', 'sse', 'poll']. */
  transports?: Transport[]
  /** How long a transport gets to deliver `connected`, in ms; default 5000. */
  connectTimeout?: number
  /** Exponential backoff with full jitter, in ms; default {base: 1000, max: 30000}. */
  backoff?: { base?: number, max?: number }
  /** Default true; with false, call open(). */
  autoConnect?: boolean
  /**
   * Default true: the tabs of this browser that connect to the same server as the same user
   * share one connection, held by one of them (needs Web Locks and BroadcastChannel, so a
   * secure context: HTTPS, or localhost; without them each tab holds its own).
   */
  shareTabs?: boolean
}

export interface Events {
  state: StateEvent
  connecting: StateEvent
  open: StateEvent
  reconnecting: StateEvent
  closed: StateEvent
  error: ClientError
  /** The token was refused and getToken gave none: emitted once per token, also when the stream and REST calls are refused together. */
  auth_required: { code?: string, message?: string, status?: number }
  connected: Envelope<Connected>
  chat_message: Envelope<ChatMessage>
  chat_message_updated: Envelope<ChatMessage>
  chat_message_deleted: Envelope<{ id: string, room: string, seq: number, deleted_by: string }>
  room_joined: Envelope<{ room: string, topic: string }>
  room_left: Envelope<{ room: string, topic: string, reason?: string, status?: number, message?: string }>
  /** A gap in what was delivered: reload over REST what you show of topic (of every topic when it has none: a refused cursor, a tab back from the background). */
  reset: Envelope<{ topic?: string, room?: string, reason: string }>
  kicked: Envelope<{ reason: string }>
  token_expired: Envelope<{ expired_at: string }>
  heartbeat: Envelope<{}>
  /** The server is stopping: the client resumes after retry_ms, on whichever node answers. */
  shutdown: Envelope<{ retry_ms: number }>
  '*': Envelope | StateEvent
  [type: string]: any
}

/** uid returns a random id, for client_id. */
export function uid (): string

/** connect opens a live connection and returns the client. */
export function connect (opts?: Options): Client

export class Client {
  constructor (opts?: Options)
  readonly url: string
  token: string
  getToken: Options['getToken'] | null
  /** This tab's rooms: it shows their events, and the connection is in each. */
  readonly rooms: Set<string>
  readonly transports: Transport[]
  readonly shareTabs: boolean
  /** This tab's id in the group of tabs sharing a connection. */
  readonly tab: string
  readonly state: State
  readonly transport: Transport | ''
  readonly connectionId: string
  /** The resume point: the id of the last event that moved it. */
  cursor: string

  /** on subscribes fn to an event type ('*' for all but heartbeats); it returns the unsubscriber. */
  on<K extends keyof Events> (type: K, fn: (ev: Events[K]) => void): () => void
  /** ready resolves at the first open, and rejects if the client closes before. */
  ready (): Promise<void>
  /** setToken hands a new token to the live connection, or resumes one stopped for auth. */
  setToken (token: string): void
  /** open starts, resumes or restarts the connection; in a tab that shares one, asks its holder. */
  open (): void
  /** close ends the connection for this tab; other tabs sharing it go on. */
  close (): void

  request<T = any> (method: string, path: string, body?: unknown): Promise<T>
  join (room: string): Promise<{ room: string, connection_id: string, subscribed: boolean }>
  leave (room: string): Promise<unknown>
  send (room: string, content: string, clientId?: string, opts?: { retries?: number }): Promise<ChatMessage>
  typing (room: string, on?: boolean): Promise<null>
  presence (status: 'online' | 'away' | 'busy', currentPage?: string): Promise<unknown>
  markRead (room: string, messageId: string): Promise<{ room: string, unread_count: number } & Record<string, unknown>>
  history (room: string, opts?: { before?: string, limit?: number }): Promise<{ messages: ChatMessage[], next_before?: string }>
}
