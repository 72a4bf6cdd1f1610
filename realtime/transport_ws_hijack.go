package realtime

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"time"
)

// outWriter hands coder/websocket an outConn when it hijacks the connection, so that its
// writes never wait on a shared writer and a batch of its messages goes out in one write.
type outWriter struct {
	http.ResponseWriter
	out     *outConn
	timeout time.Duration // for writes the socket did not take at once
}

// Hijack takes the connection over from the HTTP server and wraps it in w.out, whose kept
// writes time out after w.timeout.
func (w *outWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil { // nothing is buffered after a 101; to be sure
		nc.Close()
		return nil, nil, err
	}
	w.out.attach(nc, w.timeout)
	return w.out, bufio.NewReadWriter(smallReader(brw.Reader, w.out), bufio.NewWriterSize(w.out, wsControlBuffer)), nil
}

// The buffers coder/websocket keeps for a connection's life. The HTTP server's are 4 KiB each,
// 8 KiB of every idle WebSocket's ~14 KiB of heap; they need not be. It writes only control
// frames (a pong, the close: at most 129 bytes) through its writer, since the data frames go
// out through outConn; and it reads clients' actions, a few hundred bytes, through its reader
// (a larger message is read in several fills, correctly).
const (
	wsControlBuffer = 256
	wsReadBuffer    = 512
)

// smallReader returns a wsReadBuffer-sized reader of nc holding what br had read ahead (a
// client's first frames may have come with its handshake). They are in its buffer, not behind
// it: coder/websocket keeps what is buffered and replaces what is under it.
func smallReader(br *bufio.Reader, nc net.Conn) *bufio.Reader {
	ahead, _ := br.Peek(br.Buffered())
	ahead = bytes.Clone(ahead)
	small := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(ahead), nc), max(wsReadBuffer, len(ahead)))
	if _, err := small.Peek(len(ahead)); err != nil { // from memory: not expected to fail
		return br
	}
	return small
}
