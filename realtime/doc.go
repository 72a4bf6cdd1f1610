// Package realtime is Switchboard's delivery core: the Hub that owns topics and
// subscriptions, the per-connection cursor and outbox, and thin transports (SSE, WebSocket,
// long-poll) that adapt one connection each. It imports no HTTP framework and no database;
// it reads the event log through the Store it declares.
//
// # Concurrency
//
// Hub methods are safe for concurrent use. Publish never blocks on a client: it hands a shared,
// already encoded Frame to each subscriber's bounded outbox, and a subscriber whose outbox is
// full is closed as slow (it resumes from its cursor and loses nothing).
//
// Lock order:
//
//   - pollState.mu, held by the long-poll request waiting on a connection, comes before all
//     the others (the request drains the connection under it);
//   - presence.mu and typing.mu come before topic.mu: they publish;
//   - Conn.mu, then topic.mu, then outbox.mu; the hub's shard locks before a topic's;
//   - a connection's expiry.mu before its outbox.mu (closing at expiry);
//   - registry.mu is a leaf: nothing else is locked while it is held.
//
// None of them is held while calling the Store or writing to a network connection.
//
// Streams (SSE taken over from net/http, WebSocket) are written by a few shared writers, one
// per core, not by a goroutine per connection: a write never waits for the client (outConn
// keeps what the socket does not take and a goroutine started for it writes the rest), so
// one slow client cannot hold a shared writer. Replays, which read the Store, and the end of a
// stream run on goroutines of their own.
//
// A Conn's consumer side — Drain, Poll, Cursor — belongs to one goroutine at a time: the
// stream's writer loop, or the long-poll request currently attached. Subscription changes
// reach the consumer through the outbox, in order with the frames around them, so the
// consumer alone owns the connection's positions and no event is delivered twice or skipped.
//
// WSOptions.Handle runs on the WebSocket's reader goroutine; it may block on the database but
// delays only that client's next message.
package realtime
