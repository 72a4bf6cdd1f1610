package realtime

import (
	"bufio"
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
	return w.out, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(w.out, brw.Writer.Size())), nil
}
