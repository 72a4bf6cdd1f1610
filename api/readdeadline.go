package api

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// isStreamRoute reports whether route serves a live connection: its request has no body to
// speak of, and a WebSocket reads for as long as it lives.
func isStreamRoute(route string) bool {
	return route == "/events" || route == "/ws" || route == "/poll"
}

// unreadLinger is how long the rest of an unread request body is read, and dropped, after the
// answer that closes its connection.
const unreadLinger = 500 * time.Millisecond

// boundBodies gives a client ReadTimeout to send a request's body (headers are bounded by the
// HTTP server's ReadHeaderTimeout): the connection's read deadline is set when the handler
// starts and cleared once the body has been read to its end, so that a slow handler is not cut
// off. A body that stalls past it fails the request with 408 request_timeout. Requests without
// a body, and stream routes, get no deadline.
//
// An HTTP/1.x response to a request whose body was not read to its end says Connection: close
// and goes out at once: the server refuses a request (401, 413, 429) without first reading the
// rest of a body it will not use, as net/http would otherwise do. What of the body arrives
// within unreadLinger after the answer is read and dropped, so that closing the connection then
// does not reset it under an answer the client has yet to read.
func (s *Server) boundBodies(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Body == nil || r.Body == http.NoBody || isStreamRoute(c.Path()) {
			return next(c)
		}
		body := &deadlineBody{ReadCloser: r.Body}
		r.Body = body
		if r.ProtoMajor == 1 {
			c.Response().Before(func() {
				if !body.ended.Load() {
					c.Response().Header().Set(echo.HeaderConnection, "close")
					http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(unreadLinger))
				}
			})
		}
		if s.cfg.ReadTimeout > 0 {
			rc := http.NewResponseController(c.Response())
			if rc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout)) == nil { // else a writer without deadlines (a test's recorder)
				body.clear = func() { rc.SetReadDeadline(time.Time{}) }
			}
		}
		err := next(c)
		if body.timedOut.Load() && !c.Response().Committed {
			return &Error{Status: http.StatusRequestTimeout, Code: "request_timeout", cause: err,
				Message: "the request body did not arrive within " + s.cfg.ReadTimeout.String()}
		}
		return err
	}
}

// deadlineBody is a request body under a read deadline: it notes whether it was read to its
// end, clearing the deadline then (clear, when set), and whether a read ran past it.
type deadlineBody struct {
	io.ReadCloser
	clear    func()      // nil: no deadline
	ended    atomic.Bool // read to its end
	timedOut atomic.Bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == io.EOF:
		if b.ended.CompareAndSwap(false, true) && b.clear != nil {
			b.clear()
		}
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.timedOut.Store(true)
	}
	return n, err
}
