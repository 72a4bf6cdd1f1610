package db

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// BusHandlers receive what other nodes send. They are called on the bus's one receiving
// goroutine, in the order PostgreSQL delivers: they must not block for long.
type BusHandlers struct {
	// Event is a durable event another node committed (its NOTIFY is part of the commit).
	Event func(Appended)
	// Message is anything else another node broadcast: ephemeral events, presence, control.
	Message func(from, kind string, data []byte)
	// Resync is called after the listening connection was lost and re-established:
	// notifications may have been missed, so live state must be caught up from the log.
	Resync func()
}

// Bus connects the nodes of a cluster through PostgreSQL's LISTEN/NOTIFY: nothing but the
// database they already share. Durable events are announced inside the transactions that
// store them, so other nodes hear of them only once committed and in commit order; other
// messages are broadcast on demand.
type Bus struct {
	d        *DB
	node     string
	own      []byte // how this node's messages begin (busMessage's first field)
	seq      atomic.Uint64
	channel  string
	handlers BusHandlers
	listener *pq.Listener
	out      chan []byte
	healthy  atomic.Bool
	pinging  atomic.Bool // a ping of the listening connection is under way
	dropped  atomic.Uint64
	stop     context.CancelFunc
	done     sync.WaitGroup
	parts    map[string]*partial // owned by the receiving goroutine
}

// maxNotify is the largest NOTIFY payload sent whole (PostgreSQL's limit is 8000 bytes).
const maxNotify = 7800

// ErrNoCluster is returned by StartBus on a database that cannot carry a cluster (SQLite).
var ErrNoCluster = errors.New("db: only PostgreSQL can connect a cluster")

// StartBus listens for other nodes and starts announcing this node's events. Call it before
// serving: events committed before it are not announced.
func (d *DB) StartBus(rawURL string, h BusHandlers) (*Bus, error) {
	if d.kind != Postgres {
		return nil, ErrNoCluster
	}
	// One channel per event log: test schemas in one database, or separate deployments on one
	// server, do not hear each other.
	channel := "switchboard_" + strconv.FormatUint(d.epoch, 36)
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("application_name", "switchboard-listen-"+d.nodeID)
	u.RawQuery = q.Encode()

	b := &Bus{d: d, node: d.nodeID, own: ownPrefix(d.nodeID), channel: channel, handlers: h,
		out: make(chan []byte, 4096), parts: make(map[string]*partial)}
	b.listener = pq.NewListener(u.String(), 10*time.Millisecond, time.Second, b.onListenerEvent)
	if err := b.listener.Listen(channel); err != nil {
		b.listener.Close()
		return nil, fmt.Errorf("db: listening on %s: %w", channel, err)
	}
	b.healthy.Store(true)
	d.notifyChannel.Store(&channel)
	ctx, stop := context.WithCancel(context.Background())
	b.stop = stop
	b.done.Add(2)
	go b.receive(ctx)
	go b.send(ctx)
	return b, nil
}

// Node returns this node's id.
func (b *Bus) Node() string { return b.node }

// Healthy reports whether the listening connection is up; while it is not, the node is
// degraded: it may be missing other nodes' events until it resyncs.
func (b *Bus) Healthy() bool { return b.healthy.Load() }

// Close stops listening and sending.
func (b *Bus) Close() {
	b.d.notifyChannel.Store(nil)
	b.stop()
	b.listener.Close()
	b.done.Wait()
}

func (b *Bus) onListenerEvent(ev pq.ListenerEventType, err error) {
	switch ev {
	case pq.ListenerEventDisconnected, pq.ListenerEventConnectionAttemptFailed:
		if b.healthy.Swap(false) {
			b.d.log.Warn("cluster bus: lost the listening connection; reconnecting", "err", err)
		}
	case pq.ListenerEventReconnected:
		b.d.log.Info("cluster bus: listening again; catching up from the log")
	}
}

// busMessage is the wire form of everything on the bus.
type busMessage struct {
	Node string `json:"n"`
	// Seq numbers a node's broadcasts: PostgreSQL delivers identical payloads sent in one
	// transaction once, and a presence update can repeat one sent just before (leave, join,
	// leave).
	Seq  uint64          `json:"s,omitempty"`
	Kind string          `json:"k"`
	Data json.RawMessage `json:"d,omitempty"`

	// Durable events (Kind "e"): the log position, and the envelope unless too large.
	Topic    string          `json:"t,omitempty"`
	TopicID  int64           `json:"i,omitempty"`
	Offset   uint64          `json:"o,omitempty"`
	Type     string          `json:"y,omitempty"`
	Audience []string        `json:"a,omitempty"`
	Envelope json.RawMessage `json:"e,omitempty"`
}

const kindEvent, kindPart = "e", "part"

// ownPrefix is how encoding/json begins every busMessage of node: its first field, whole (the
// node id may itself hold a comma).
func ownPrefix(node string) []byte {
	id, _ := json.Marshal(node)
	return append(append([]byte(`{"n":`), id...), ',')
}

// eventNotice is the NOTIFY payload of a committed event: inline when it fits, else only its
// position, for the receivers to read from the log.
func eventNotice(node string, ev Appended) string {
	m := busMessage{Node: node, Kind: kindEvent, Topic: ev.Topic, TopicID: ev.TopicID, Offset: ev.Offset,
		Type: ev.Type, Audience: ev.Audience, Envelope: ev.Envelope}
	b, _ := json.Marshal(m)
	if len(b) > maxNotify {
		m.Envelope = nil
		b, _ = json.Marshal(m)
	}
	return string(b)
}

// notifyEvents announces events within the transaction that stores them.
func (d *DB) notifyEvents(ctx context.Context, tx bun.IDB, evs []Appended) error {
	ch := d.notifyChannel.Load()
	if ch == nil || len(evs) == 0 {
		return nil
	}
	payloads := make([]string, len(evs))
	for i, ev := range evs {
		payloads[i] = eventNotice(d.nodeID, ev)
	}
	_, err := tx.NewRaw("SELECT pg_notify(?, p) FROM unnest(?::text[]) AS t(p)", *ch, pgdialect.Array(payloads)).Exec(ctx)
	return mapErr(err)
}

// notifyQuery is the statement that announces evs on channel.
func (d *DB) notifyQuery(tx bun.IDB, channel string, evs []Appended) string {
	payloads := make([]string, len(evs))
	for i, ev := range evs {
		payloads[i] = eventNotice(d.nodeID, ev)
	}
	return tx.NewRaw("SELECT pg_notify(?, p) FROM unnest(?::text[]) AS t(p)", channel, pgdialect.Array(payloads)).String()
}

// Broadcast sends a message to every other node. It never blocks: when the send queue is full
// the message is dropped and counted.
func (b *Bus) Broadcast(kind string, data []byte) {
	msg, err := json.Marshal(busMessage{Node: b.node, Seq: b.seq.Add(1), Kind: kind, Data: data})
	if err != nil {
		return
	}
	for _, part := range split(b.node, msg) {
		select {
		case b.out <- part:
		default:
			b.dropped.Add(1)
		}
	}
}

// send drains the queue: whatever is waiting goes in one statement, in order.
func (b *Bus) send(ctx context.Context) {
	defer b.done.Done()
	batch := make([]string, 0, 64)
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-b.out:
			batch = append(batch[:0], string(m))
		}
	more:
		for len(batch) < cap(batch) {
			select {
			case m := <-b.out:
				batch = append(batch, string(m))
			default:
				break more
			}
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := b.d.bun.NewRaw("SELECT pg_notify(?, p) FROM unnest(?::text[]) WITH ORDINALITY AS t(p, n) ORDER BY n",
			b.channel, pgdialect.Array(batch)).Exec(sctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			b.dropped.Add(uint64(len(batch)))
			b.d.log.Warn("cluster bus: sending", "messages", len(batch), "err", err)
		}
	}
}

// receive dispatches notifications until ctx ends.
func (b *Bus) receive(ctx context.Context) {
	defer b.done.Done()
	ping := time.NewTicker(30 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			// One ping at a time: on a half-open connection a ping waits until TCP gives up,
			// and one per tick would pile up. Still waiting a tick later, it says so.
			if !b.pinging.CompareAndSwap(false, true) {
				b.d.log.Warn("cluster bus: the listening connection has not answered a ping for 30 s")
				continue
			}
			go func() {
				defer b.pinging.Store(false)
				_ = b.listener.Ping()
			}()
		case n := <-b.listener.Notify:
			if n == nil { // reconnected: anything in between may be lost
				if b.handlers.Resync != nil {
					b.handlers.Resync()
				}
				b.healthy.Store(true) // ready again once caught up, not before
				continue
			}
			b.dispatch(ctx, []byte(n.Extra))
		}
	}
}

func (b *Bus) dispatch(ctx context.Context, raw []byte) {
	if bytes.HasPrefix(raw, b.own) {
		return // our own, heard back: not decoded (every post of ours, ~4 % of the CPU)
	}
	var m busMessage
	if err := json.Unmarshal(raw, &m); err != nil || m.Node == b.node {
		return // not ours to read, or our own
	}
	switch m.Kind {
	case kindPart:
		if whole := b.reassemble(m); whole != nil {
			b.dispatch(ctx, whole)
		}
	case kindEvent:
		ev := Appended{Topic: m.Topic, TopicID: m.TopicID, Offset: m.Offset, Type: m.Type, Audience: m.Audience, Envelope: m.Envelope}
		if ev.Envelope == nil && !b.fetch(ctx, &ev) {
			return // trimmed already: the hub's gap handling resets its subscribers
		}
		if b.handlers.Event != nil {
			b.handlers.Event(ev)
		}
	default:
		if b.handlers.Message != nil {
			b.handlers.Message(m.Node, m.Kind, m.Data)
		}
	}
}

// fetch reads an event announced by position only.
func (b *Bus) fetch(ctx context.Context, ev *Appended) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	found := false
	_, _, err := b.d.ReadTopic(ctx, ev.TopicID, ev.Offset-1, 1, func(offset uint64, typ string, payload []byte, audience string) {
		if offset == ev.Offset {
			ev.Envelope, found = payload, true
		}
	})
	if err != nil {
		b.d.log.Warn("cluster bus: reading an announced event", "topic", ev.Topic, "offset", ev.Offset, "err", err)
	}
	return found
}

// A message larger than a NOTIFY payload travels in parts.
type partial struct {
	parts    [][]byte
	received int
	started  time.Time
}

type part struct {
	ID    string `json:"id"`
	Index int    `json:"i"`
	Of    int    `json:"of"`
	Data  []byte `json:"p"`
}

var partSeq atomic.Uint64

// split cuts a message into NOTIFY-sized parts, or returns it whole.
func split(node string, msg []byte) [][]byte {
	if len(msg) <= maxNotify {
		return [][]byte{msg}
	}
	const chunk = maxNotify * 3 / 4 * 3 / 4 // base64 in JSON, with room for the header
	id := node + "-" + strconv.FormatUint(partSeq.Add(1), 36)
	n := (len(msg) + chunk - 1) / chunk
	out := make([][]byte, 0, n)
	for i := range n {
		data, _ := json.Marshal(part{ID: id, Index: i, Of: n, Data: msg[i*chunk : min(len(msg), (i+1)*chunk)]})
		wire, _ := json.Marshal(busMessage{Node: node, Kind: kindPart, Data: data})
		out = append(out, wire)
	}
	return out
}

func (b *Bus) reassemble(m busMessage) []byte {
	var p part
	if json.Unmarshal(m.Data, &p) != nil || p.Of < 1 || p.Of > 10_000 || p.Index < 0 || p.Index >= p.Of {
		return nil
	}
	now := time.Now()
	for id, pa := range b.parts { // forget messages whose parts stopped coming
		if now.Sub(pa.started) > time.Minute {
			delete(b.parts, id)
		}
	}
	key := m.Node + "/" + p.ID
	pa := b.parts[key]
	if pa == nil {
		pa = &partial{parts: make([][]byte, p.Of), started: now}
		b.parts[key] = pa
	}
	if len(pa.parts) != p.Of || pa.parts[p.Index] != nil {
		return nil
	}
	pa.parts[p.Index] = p.Data
	if pa.received++; pa.received < p.Of {
		return nil
	}
	delete(b.parts, key)
	var whole []byte
	for _, d := range pa.parts {
		whole = append(whole, d...)
	}
	return whole
}
