package realtime

import (
	"context"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// parkedStream is an SSE stream on a connection taken over from the HTTP server. It holds no
// goroutine while it has nothing to send: a write goroutine is started when events arrive (or
// a heartbeat is due) and ends when the queue is empty. A tiny reader notices the client
// hanging up.
type parkedStream struct {
	c       *Conn
	nc      net.Conn
	timeout time.Duration
	ctx     context.Context // for reading the log during replays; ends with the stream
	cancel  context.CancelFunc
	done    func()

	running atomic.Bool // a write goroutine is draining the queue
	pingDue atomic.Bool
	aborted atomic.Bool
	ended   sync.Once
	msgs    []Message // reused by the write goroutine; only one runs at a time
}

// serveParked writes the response head on nc and leaves the stream to run by itself.
func serveParked(nc net.Conn, header http.Header, c *Conn, o SSEOptions, done func()) error {
	ctx, cancel := context.WithCancel(context.Background())
	s := &parkedStream{c: c, nc: nc, timeout: o.WriteTimeout, ctx: ctx, cancel: cancel, done: done}
	buf := getBuf()
	buf = append(buf, "HTTP/1.1 200 OK\r\n"...)
	SetSSEHeaders(header)
	header.Set("Connection", "close") // the body ends when the stream does
	header.Del("Content-Length")
	for _, k := range slices.Sorted(maps.Keys(header)) {
		for _, v := range header[k] {
			buf = append(append(append(append(buf, k...), ": "...), v...), "\r\n"...)
		}
	}
	buf = streamHead(append(buf, "\r\n"...), o)
	err := s.write(buf)
	putBuf(buf)
	if err != nil {
		s.end()
		return err
	}
	c.OnAbort(s.abort)
	c.out.setNotify(s.kick)
	c.setPing(s.ping)
	go s.watchHangup()
	s.kick() // "connected", and whatever is already waiting
	return nil
}

// kick makes sure a write goroutine will look at the queue. It never blocks: the outbox calls
// it while a publisher holds a topic's lock.
func (s *parkedStream) kick() {
	if s.running.CompareAndSwap(false, true) {
		go s.flush()
	}
}

// ping asks for a heartbeat at the next write.
func (s *parkedStream) ping() {
	s.pingDue.Store(true)
	s.kick()
}

// flush writes what is queued until nothing is; it is the only writer while running is set.
func (s *parkedStream) flush() {
	for {
		msgs, err := s.c.Drain(s.ctx, s.msgs[:0], maxBatch)
		ping := s.pingDue.Swap(false)
		if len(msgs) > 0 || ping {
			buf := appendBatch(getBuf(), msgs, err != nil, s.c.Reason())
			if len(msgs) == 0 {
				buf = append(buf, ssePing...)
			}
			werr := s.write(buf)
			putBuf(buf)
			s.c.hub.observe(msgs)
			clear(msgs)
			if werr != nil {
				s.c.Close(ReasonClientGone)
				s.end()
				return
			}
		}
		if cap(msgs) > 64 {
			msgs = nil // an idle stream keeps no burst-sized buffer
		}
		s.msgs = msgs
		if err != nil {
			s.end() // closed by the server: ending the response is the signal
			return
		}
		if len(msgs) > 0 {
			continue
		}
		s.running.Store(false)
		// A push after Drain found nothing may have kicked while running was still set.
		if !s.c.out.ready() && !s.pingDue.Load() {
			return
		}
		if !s.running.CompareAndSwap(false, true) {
			return // a newer kick has its own goroutine
		}
	}
}

// watchHangup waits for the client to close its side; SSE clients send nothing after their
// request. It is kept small: this goroutine is most of what an idle stream costs.
func (s *parkedStream) watchHangup() {
	var b [1]byte
	for {
		if _, err := s.nc.Read(b[:]); err != nil {
			s.c.Close(ReasonClientGone)
			s.kick()
			return
		}
	}
}

// write sends b within the write timeout.
func (s *parkedStream) write(b []byte) error {
	_ = s.nc.SetWriteDeadline(time.Now().Add(s.timeout))
	if s.aborted.Load() { // an abort between the check and the write set the deadline first
		return errAborted
	}
	_, err := s.nc.Write(b)
	return err
}

// abort breaks off a write blocked on a stalled client, and every write after it.
func (s *parkedStream) abort() {
	s.aborted.Store(true)
	_ = s.nc.SetWriteDeadline(time.Unix(1, 0))
}

// end closes the connection, which also ends the hang-up watcher, and runs done once.
func (s *parkedStream) end() {
	s.ended.Do(func() {
		s.c.out.setNotify(nil)
		s.c.setPing(nil)
		s.cancel()
		s.nc.Close()
		s.done()
	})
}
