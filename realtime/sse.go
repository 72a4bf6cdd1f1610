package realtime

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SSEOptions tune the Server-Sent Events transport.
type SSEOptions struct {
	Retry        time.Duration // reconnection delay advertised with "retry:" (default 3 s)
	Prelude      bool          // start with 2 KiB of comment, for proxies that hold the first bytes
	WriteTimeout time.Duration // a write blocked longer than this ends the stream (default 10 s)
}

func (o *SSEOptions) setDefaults() {
	if o.Retry <= 0 {
		o.Retry = 3 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
}

// maxBatch bounds how many messages one write of a stream carries.
const maxBatch = 512

var (
	ssePing    = []byte(": ping\n\n")
	ssePrelude = []byte(": " + strings.Repeat(" ", 2048) + "\n\n")
	// sseNoRetry is sent before ending a kicked stream so that a plain EventSource waits a day
	// rather than reconnecting at once.
	sseNoRetry = []byte("retry: 86400000\n\n")
)

// SetSSEHeaders sets the response headers of an event stream. Handlers that answer a stream
// request with an error before ServeSSE do not call it.
func SetSSEHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("X-Accel-Buffering", "no")
}

// ServeSSE streams c to w until the client goes away (ctx ends) or c closes, then returns.
// It writes the status and headers itself and never calls Disconnect: the caller does.
func ServeSSE(ctx context.Context, w http.ResponseWriter, c *Conn, o SSEOptions) error {
	o.setDefaults()
	rc := http.NewResponseController(w)
	s := sseStream{w: w, rc: rc, timeout: o.WriteTimeout}
	c.OnAbort(s.abort)

	SetSSEHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	buf := getBuf()
	buf = append(buf, "retry: "...)
	buf = strconv.AppendInt(buf, o.Retry.Milliseconds(), 10)
	buf = append(buf, "\n\n"...)
	if o.Prelude {
		buf = append(buf, ssePrelude...)
	}
	err := s.write(buf)
	putBuf(buf)
	if err != nil {
		return err
	}

	msgs := make([]Message, 0, 8)
	for {
		var derr error
		msgs, derr = c.Drain(ctx, msgs[:0], maxBatch)
		if len(msgs) > 0 {
			buf := getBuf()
			for _, m := range msgs {
				buf = appendSSE(buf, m)
			}
			if errors.Is(derr, ErrClosed) && c.Reason() == ReasonKicked {
				buf = append(buf, sseNoRetry...)
			}
			err := s.write(buf)
			putBuf(buf)
			c.hub.observe(msgs)
			clear(msgs)
			if err != nil {
				return err
			}
		}
		if derr != nil {
			return nil // closed by the server: ending the response is the signal
		}
		if len(msgs) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.Ready():
		case <-c.hub.Pulse():
			if err := s.write(ssePing); err != nil {
				return err
			}
		}
	}
}

// appendSSE appends one message as an SSE frame: id (when it moves the cursor), event, data.
func appendSSE(buf []byte, m Message) []byte {
	if len(m.Cursor) > 0 {
		buf = append(buf, "id: "...)
		buf = append(buf, m.Cursor...)
		buf = append(buf, '\n')
	}
	buf = append(buf, "event: "...)
	buf = append(buf, m.Type...)
	buf = append(buf, "\ndata: "...)
	buf = m.AppendJSON(buf) // JSON has no raw newlines: one data line
	return append(buf, "\n\n"...)
}

type sseStream struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	aborted atomic.Bool
}

var errAborted = errors.New("stream aborted: the client stopped reading")

// abort breaks off a write blocked on a stalled client, and every write after it.
func (s *sseStream) abort() {
	s.aborted.Store(true)
	_ = s.rc.SetWriteDeadline(time.Unix(1, 0))
}

// write sends b and flushes it within the write timeout.
func (s *sseStream) write(b []byte) error {
	_ = s.rc.SetWriteDeadline(time.Now().Add(s.timeout))
	if s.aborted.Load() { // an abort between the check and the write set the deadline first
		return errAborted
	}
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.rc.Flush()
}

// bufPool holds write buffers, so that idle streams hold none.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) > 64<<10 {
		return // let a rare huge batch's buffer go
	}
	bufPool.Put(&b)
}
