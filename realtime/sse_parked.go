package realtime

import (
	"maps"
	"net"
	"net/http"
	"slices"
)

// sseSink writes an SSE stream on a connection taken over from the HTTP server. While idle the
// stream holds no goroutine but a tiny reader that notices the client hanging up; a shared
// writer writes when events arrive.
type sseSink struct {
	c   *Conn
	out *outConn
}

// serveParked writes the response head on nc and leaves the stream to run by itself.
func serveParked(nc net.Conn, header http.Header, c *Conn, o SSEOptions, done func()) error {
	s := &sseSink{c: c, out: newOutConn(nc, o.WriteTimeout)}
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
	_, err := s.out.Write(buf)
	putBuf(buf)
	if err != nil {
		nc.Close()
		done()
		return err
	}
	c.OnAbort(s.out.abort)
	p := startPump(c, s, s.out, done)
	go s.watchHangup(p)
	return nil
}

func (s *sseSink) send(msgs []Message, closing bool) error {
	buf := appendBatch(getBuf(), msgs, closing, s.c.Reason())
	var err error
	if len(buf) > 0 {
		_, err = s.out.Write(buf)
	}
	putBuf(buf)
	return err
}

func (s *sseSink) heartbeat() error {
	_, err := s.out.Write(ssePing)
	return err
}

func (s *sseSink) close() { s.out.Close() }

// watchHangup waits for the client to close its side; SSE clients send nothing after their
// request. It is kept small: this goroutine is most of what an idle stream costs.
func (s *sseSink) watchHangup(p *pump) {
	var b [1]byte
	for {
		if _, err := s.out.Read(b[:]); err != nil {
			s.c.Close(ReasonClientGone)
			p.kick()
			return
		}
	}
}
