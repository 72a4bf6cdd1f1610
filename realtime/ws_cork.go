package realtime

import (
	"bufio"
	"net"
	"net/http"
	"sync"
)

// corkConn is a WebSocket's connection whose writes can be held back. coder/websocket flushes
// every message on its own; while a batch is written, those flushes land in one buffer that
// goes out with a single write when the batch ends, as an SSE batch does. Outside a batch,
// writes go straight through.
//
// Every write to the connection passes through mu, so bytes reach the socket in the order
// coder/websocket wrote them (it writes one frame at a time), also when a ping or a pong from
// another goroutine falls inside a batch.
type corkConn struct {
	net.Conn

	mu   sync.Mutex
	held bool
	buf  []byte
}

// Write sends p, or keeps it for release while a batch is being written.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.held {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// hold starts a batch: writes are kept until release.
func (c *corkConn) hold() {
	c.mu.Lock()
	c.held = true
	if c.buf == nil {
		c.buf = getBuf()
	}
	c.mu.Unlock()
}

// release ends a batch, sending what it kept in one write.
func (c *corkConn) release() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = false
	var err error
	if len(c.buf) > 0 {
		_, err = c.Conn.Write(c.buf)
	}
	putBuf(c.buf) // an idle connection keeps no buffer
	c.buf = nil
	return err
}

// corkingWriter hands coder/websocket a corkConn when it hijacks the connection.
type corkingWriter struct {
	http.ResponseWriter
	cork *corkConn
}

// Hijack takes the connection over from the HTTP server and wraps it in w.cork.
func (w *corkingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil { // nothing is buffered after a 101; to be sure
		nc.Close()
		return nil, nil, err
	}
	w.cork.Conn = nc
	return w.cork, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(w.cork, brw.Writer.Size())), nil
}
