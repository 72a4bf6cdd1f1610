package realtime

import (
	"maps"
	"net"
	"net/http"
	"slices"
	"syscall"
)

// sseSink writes an SSE stream on a connection taken over from the HTTP server. While idle the
// stream holds no goroutine: a shared writer writes when events arrive, and the shared
// hang-up watcher (hangup_watch_linux.go; elsewhere a tiny reader) notices the client going.
type sseSink struct {
	c     *Conn
	out   *outConn
	watch hangupWatch
}

// serveParked writes the response head on nc and leaves the stream to run by itself.
func serveParked(nc net.Conn, header http.Header, c *Conn, o SSEOptions, done func()) error {
	nc = detachSocket(nc) // on Linux, a TCP socket sheds its net.Conn: a stream holds its descriptor
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
	s.watch = watchHangup(s.socket(), s.out, c)
	startPump(c, s, s.out, done)
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
	_, err := s.out.Write(s.c.hub.pulse.heartbeat().sse)
	return err
}

func (s *sseSink) close() {
	s.watch.stop(s.socket())
	s.out.Close()
}

// socket returns the stream's socket: the connection itself, or under TLS the one under it.
func (s *sseSink) socket() syscall.RawConn {
	if s.out.raw != nil {
		return s.out.raw
	}
	return socketOf(s.out.Conn)
}

// socketOf returns the socket under nc (under TLS too: a hang-up shows on the TCP socket), or
// nil when there is none.
func socketOf(nc net.Conn) syscall.RawConn {
	if tc, ok := nc.(interface{ NetConn() net.Conn }); ok {
		nc = tc.NetConn()
	}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			return raw
		}
	}
	return nil
}
