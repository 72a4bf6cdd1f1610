package realtime

import (
	"bufio"
	"net"
	"net/http"
)

// outWriter hands coder/websocket an outConn when it hijacks the connection, so that its
// writes never wait on a shared writer and a batch of its messages goes out in one write.
type outWriter struct {
	http.ResponseWriter
	out *outConn
}

// Hijack takes the connection over from the HTTP server and wraps it in w.out. Its writes
// have no deadline: a stalled client is cut off by its overflowing queue or a failed ping.
func (w *outWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil { // nothing is buffered after a 101; to be sure
		nc.Close()
		return nil, nil, err
	}
	w.out.attach(nc, 0)
	return w.out, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(w.out, brw.Writer.Size())), nil
}
