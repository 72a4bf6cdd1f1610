package realtime

import (
	"maps"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"
)

// sseSink writes an SSE stream on a connection taken over from the HTTP server. While idle the
// stream holds no goroutine but a tiny reader that notices the client hanging up; a pump
// writes when events arrive.
type sseSink struct {
	c       *Conn
	nc      net.Conn
	timeout time.Duration
	aborted atomic.Bool
}

// serveParked writes the response head on nc and leaves the stream to run by itself.
func serveParked(nc net.Conn, header http.Header, c *Conn, o SSEOptions, done func()) error {
	s := &sseSink{c: c, nc: nc, timeout: o.WriteTimeout}
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
		nc.Close()
		done()
		return err
	}
	c.OnAbort(s.abort)
	p := startPump(c, s, done)
	go s.watchHangup(p)
	return nil
}

func (s *sseSink) send(msgs []Message, closing bool) error {
	buf := appendBatch(getBuf(), msgs, closing, s.c.Reason())
	var err error
	if len(buf) > 0 {
		err = s.write(buf)
	}
	putBuf(buf)
	return err
}

func (s *sseSink) heartbeat() error { return s.write(ssePing) }

func (s *sseSink) close() { s.nc.Close() }

// watchHangup waits for the client to close its side; SSE clients send nothing after their
// request. It is kept small: this goroutine is most of what an idle stream costs.
func (s *sseSink) watchHangup(p *pump) {
	var b [1]byte
	for {
		if _, err := s.nc.Read(b[:]); err != nil {
			s.c.Close(ReasonClientGone)
			p.kick()
			return
		}
	}
}

// write sends b within the write timeout.
func (s *sseSink) write(b []byte) error {
	_ = s.nc.SetWriteDeadline(time.Now().Add(s.timeout))
	if s.aborted.Load() { // an abort between the check and the write set the deadline first
		return errAborted
	}
	_, err := s.nc.Write(b)
	return err
}

// abort breaks off a write blocked on a stalled client, and every write after it.
func (s *sseSink) abort() {
	s.aborted.Store(true)
	_ = s.nc.SetWriteDeadline(time.Unix(1, 0))
}
