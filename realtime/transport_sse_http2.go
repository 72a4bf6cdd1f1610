package realtime

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"
)

// serveInline streams c on the calling goroutine until the client goes away (ctx ends) or c
// closes: the transport for connections that cannot be taken over.
func serveInline(ctx context.Context, w http.ResponseWriter, c *Conn, o SSEOptions) error {
	rc := http.NewResponseController(w)
	s := sseStream{w: w, rc: rc, timeout: o.WriteTimeout}
	c.OnAbort(s.abort)

	SetSSEHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	buf := streamHead(getBuf(), o)
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
			buf := appendBatch(getBuf(), msgs, derr != nil, c.Reason())
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
			if err := s.write(c.hub.pulse.heartbeat().sse); err != nil {
				return err
			}
		}
	}
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
