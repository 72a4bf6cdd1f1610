package realtime

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
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

// ServeSSE streams c over the response to r and runs done, once, when the stream has ended; it
// never calls Disconnect itself: done does.
//
// Over HTTP/1.x it takes the connection over, writes the response itself and returns at once:
// the stream then holds no goroutine while idle — only a 2 KiB one that notices the client
// hanging up — and one of the shared writers writes whenever events are waiting. Where the connection
// cannot be taken over (HTTP/2), it streams on the calling goroutine until the end.
func ServeSSE(w http.ResponseWriter, r *http.Request, c *Conn, o SSEOptions, done func()) error {
	o.setDefaults()
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		defer done()
		if errors.Is(err, http.ErrNotSupported) {
			return serveInline(r.Context(), w, c, o)
		}
		return err
	}
	brw.Reader.Reset(nil) // bytes a client sent after its request mean nothing to a stream
	return serveParked(nc, w.Header(), c, o, done)
}

// streamHead is what every stream starts with: the retry interval and, optionally, the prelude.
func streamHead(buf []byte, o SSEOptions) []byte {
	buf = append(buf, "retry: "...)
	buf = strconv.AppendInt(buf, o.Retry.Milliseconds(), 10)
	buf = append(buf, "\n\n"...)
	if o.Prelude {
		buf = append(buf, ssePrelude...)
	}
	return buf
}

// appendBatch appends msgs as SSE frames, and what a stream ending for reason says last.
func appendBatch(buf []byte, msgs []Message, closing bool, reason CloseReason) []byte {
	for _, m := range msgs {
		buf = appendSSE(buf, m)
	}
	if closing && reason == ReasonKicked {
		buf = append(buf, sseNoRetry...)
	}
	return buf
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

// bufPool holds write buffers, so that idle streams hold none.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if cap(b) > 64<<10 {
		return // let a rare huge batch's buffer go
	}
	bufPool.Put(&b)
}
