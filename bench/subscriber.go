package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// load is what every subscriber of a run shares: latency histogram and flow counters.
type load struct {
	latency *hist        // send → receive of marked messages, first delivery only
	events  atomic.Int64 // every event received, for telling when the flow has gone quiet
	marked  atomic.Int64 // marked messages received, first delivery only
	lastAt  atomic.Int64 // unix ns of the last marked delivery

	// nodeOf, when set (cluster), names the node message idx was posted to: its deliveries
	// to subscribers on that node go to local, the others (they crossed the database) to
	// remote.
	nodeOf        func(idx int64) int
	local, remote *hist
}

func newLoad() *load { return &load{latency: new(hist)} }

// sub is one subscriber: a user's connection to some rooms over one transport. Its session
// loop is the only writer of its fields while it runs; counters read meanwhile are atomic.
type sub struct {
	i         int
	user      string
	token     string
	rooms     string // comma-separated room keys
	transport string
	l         *load
	node      int           // index of the node it reads from in a cluster (sub.at), else 0
	at        *target       // the node it reads from; nil: the run's target
	rcvbuf    int           // SO_RCVBUF of a raw SSE socket, 0 for the default
	pause     chan struct{} // when set, reading stops after "connected" until it is closed

	cursor    []byte // id of the last event read
	seen      bitset
	got       atomic.Int64 // distinct marked messages received
	dup       atomic.Int64 // marked messages received again
	other     int64        // events without a marker (presence, room_info, …)
	resets    int64
	sessions  int          // streams opened
	ends      []end        // why each stream ended
	startedAt time.Time    // when its latest keepAlive loop started
	want      atomic.Int64 // when > 0, done closes once got reaches it
	doneAt    time.Time    // when got reached want; read after done is closed
	done      chan struct{}
	doneOnce  sync.Once

	onUp func() // called at the current stream's connected event
}

// end records how a stream ended.
type end struct {
	at  time.Time
	err error // nil: the server ended it cleanly (EOF, close frame, closed poll)
}

func newSub(i int, user, token, rooms, transport string, l *load) *sub {
	return &sub{i: i, user: user, token: token, rooms: rooms, transport: transport, l: l,
		done: make(chan struct{})}
}

// beginSession prepares for a new stream; onUp is called, on the reading goroutine, at its
// connected event.
func (s *sub) beginSession(onUp func()) {
	s.sessions++
	s.onUp = onUp
}

// expect makes done close, and doneAt record when, once got reaches want.
func (s *sub) expect(want int64) {
	s.want.Store(want)
	if s.got.Load() >= want {
		s.markDone()
	}
}

func (s *sub) markDone() {
	s.doneOnce.Do(func() {
		s.doneAt = time.Now()
		close(s.done)
	})
}

var (
	typConnected = []byte("connected")
	typReset     = []byte("reset")
)

// onEvent handles one event of any transport: typ and id as on the wire, data the envelope.
// It must not keep the slices, which the reader reuses.
func (s *sub) onEvent(typ, id, data []byte) {
	if len(typ) == 0 && len(data) == 0 {
		return // r3labs passes "retry:" on as an event of its own
	}
	s.l.events.Add(1)
	if len(id) > 0 {
		s.cursor = append(s.cursor[:0], id...)
	}
	if idx, sent, ok := findMarker(data); ok {
		now := time.Now()
		if !s.seen.set(int(idx)) {
			s.dup.Add(1)
			return
		}
		d := now.Sub(time.Unix(0, sent))
		s.l.latency.record(d)
		if s.l.nodeOf != nil {
			if s.l.nodeOf(idx) == s.node {
				s.l.local.record(d)
			} else {
				s.l.remote.record(d)
			}
		}
		s.l.marked.Add(1)
		s.l.lastAt.Store(now.UnixNano())
		if got := s.got.Add(1); got >= s.want.Load() && s.want.Load() > 0 {
			s.markDone()
		}
		return
	}
	s.other++
	switch {
	case bytes.Equal(typ, typConnected):
		if s.onUp != nil {
			s.onUp()
		}
	case bytes.Equal(typ, typReset):
		s.resets++
	}
}

// stream opens one stream on the subscriber's transport, resuming from its cursor when it has
// one, and reads it until the server ends it (nil) or ctx ends. Call beginSession first.
// A subscriber bound to a node of a cluster (sub.at) reads from that node instead of t.
func (s *sub) stream(ctx context.Context, t *target, cfg config) error {
	if s.at != nil {
		t = s.at
	}
	var err error
	switch s.transport {
	case "sse":
		if cfg.sseClient == "r3labs" && s.rcvbuf == 0 && s.pause == nil {
			err = streamSSER3(ctx, t, s)
		} else {
			err = streamSSERaw(ctx, t, s)
		}
	case "ws":
		if cfg.wsClient == "coder" {
			err = streamWS(ctx, t, s)
		} else {
			err = streamWSRaw(ctx, t, s, cfg.wsDeflate)
		}
	case "poll":
		err = streamPoll(ctx, t, s)
	default:
		err = fmt.Errorf("unknown transport %q", s.transport)
	}
	if ctx.Err() == nil {
		s.ends = append(s.ends, end{at: time.Now(), err: err})
	}
	return err
}

// keepAlive runs streams back to back, resuming from the cursor after every end, like a real
// client, until ctx ends. Each stream start holds a dial slot until it is connected; firstUp
// is told how the first one went. Everything runs on the caller's goroutine: one per stream.
func (s *sub) keepAlive(ctx context.Context, t *target, cfg config, slots chan struct{}, firstUp func(error)) {
	first := true
	for ctx.Err() == nil {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return
		}
		up := false
		s.beginSession(func() {
			if !up {
				up = true
				<-slots
				if first {
					firstUp(nil)
				}
			}
		})
		err := s.stream(ctx, t, cfg)
		if !up {
			<-slots
			if first {
				if err == nil {
					err = errors.New("the stream ended before its connected event")
				}
				firstUp(err)
			}
		}
		first = false
		if ctx.Err() != nil {
			return
		}
		select { // a short pause before resuming, as EventSource's retry would
		case <-time.After(resumeDelay(len(s.ends))):
		case <-ctx.Done():
			return
		}
	}
}

func resumeDelay(ends int) time.Duration {
	return time.Duration(min(ends, 10)) * 100 * time.Millisecond
}
