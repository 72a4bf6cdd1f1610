package realtime

import (
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// WebSocket close codes beyond RFC 6455's, for signals a client must tell apart.
const (
	CloseKicked       websocket.StatusCode = 4000 // do not reconnect
	CloseTokenExpired websocket.StatusCode = 4001 // refresh the token, then resume
)

// WSOptions tune the WebSocket transport.
type WSOptions struct {
	// OriginPatterns are the cross-origin hosts allowed to open a WebSocket (the request's own
	// host always is). Never "*": that would allow cross-site WebSocket hijacking.
	OriginPatterns []string
	ReadLimit      int64 // largest client message in bytes (default 32 KiB)
	// WriteTimeout ends the stream when what the socket did not take at once is still not
	// written after this long: a client that stopped reading (default 10 s). Pings cannot
	// tell, since none go out behind such a write.
	WriteTimeout time.Duration
	// Handle carries out a client's in-band action. A returned *Fault goes back to the client
	// as a fault event; the connection stays open. A carried-out action with a ref is answered
	// by an ack holding the result, when there is one. It runs on the connection's reader
	// goroutine, one message at a time.
	Handle HandleFunc
	// DisableCompression refuses permessage-deflate. Otherwise it is negotiated when the client
	// offers it, without context takeover: events of 256 bytes and more go out compressed, each
	// compressed once for every connection (transport_ws_deflate.go).
	DisableCompression bool
}

func (o *WSOptions) setDefaults() {
	if o.ReadLimit <= 0 {
		o.ReadLimit = 32 << 10
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
}

// ServeWS upgrades the request and carries c over the WebSocket until either side ends it; done
// runs, once, when it has ended (it never calls Disconnect itself: done does). It returns once
// the upgrade is done: a reader goroutine serves the client's messages, and a pump writes when
// events arrive. When the upgrade fails, the response has been written, done has run, and the
// error is returned.
func ServeWS(w http.ResponseWriter, r *http.Request, c *Conn, o WSOptions, done func()) error {
	o.setDefaults()
	out := &outConn{}
	// Without context takeover: with it, coder/websocket keeps ~1.2 MB per connection.
	mode := websocket.CompressionNoContextTakeover
	if o.DisableCompression {
		mode = websocket.CompressionDisabled
	}
	ws, err := websocket.Accept(&outWriter{ResponseWriter: w, out: out, timeout: o.WriteTimeout}, r, &websocket.AcceptOptions{
		OriginPatterns:  o.OriginPatterns,
		CompressionMode: mode,
	})
	if err != nil {
		done()
		return err
	}
	ws.SetReadLimit(o.ReadLimit)
	deflate := strings.HasPrefix(w.Header().Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	s := &wsSink{c: c, ws: ws, out: out, heartbeatWithin: c.hub.cfg.Heartbeat, deflate: deflate}
	c.OnAbort(func() { s.closeWith(wsCloseStatus(c)) })
	p := startPump(c, s, out, done)
	go s.readClient(p.readCtx(true), p.kick, o.Handle)
	return nil
}

// wsSink writes a connection's events as WebSocket text messages, one envelope each; a batch
// goes out in one write.
//
// It writes the data frames itself; coder/websocket writes the control frames (pongs, pings,
// the close) and reads. coder/websocket's per-message bookkeeping cost ~14 % of the server's
// CPU at 5,000 subscribers (its locks and a buffered pass per frame) for what is a header and
// a copy. The two writers never interleave within a frame: every write reaches outConn whole,
// under its lock — a batch of data frames in one Write, and each control frame in one flush of
// coder/websocket's buffer, which it empties after every frame it writes — and no data frame
// follows the close frame (closed).
type wsSink struct {
	c               *Conn
	ws              *websocket.Conn
	out             *outConn
	heartbeatWithin time.Duration
	deflate         bool // permessage-deflate was negotiated
	// actions counts the starts and ends of client actions, which the reader carries out
	// instead of reading pongs: odd while one runs.
	actions atomic.Uint64

	mu     sync.Mutex // orders every data frame before the close frame
	closed bool       // the close frame was sent, or is about to be
}

func (s *wsSink) send(msgs []Message, closing bool) error {
	if err := s.sendBatch(msgs); err != nil {
		return err
	}
	if closing {
		s.closeWith(wsCloseStatus(s.c))
	}
	return nil
}

// closeWith sends the close frame and waits for the client's answer (coder/websocket's close
// handshake); no data frame is written after it.
func (s *wsSink) closeWith(code websocket.StatusCode, reason string) {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.ws.Close(code, reason)
}

// errWSClosing refuses data frames after the close frame.
var errWSClosing = errors.New("websocket: closing")

// sendBatch writes msgs as text frames with one write. It never waits: a stalled client is
// cut off by its overflowing queue, the write timeout of what its socket did not take, or a
// failed ping.
func (s *wsSink) sendBatch(msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	buf, payload := getBuf(), getBuf()
	for _, m := range msgs {
		compressed := s.deflate && len(m.Payload)+len(m.Cursor) >= deflateThreshold
		if compressed {
			payload = m.appendDeflated(payload[:0])
		} else {
			payload = m.AppendJSON(payload[:0])
		}
		buf = append(appendWSHeader(buf, len(payload), compressed), payload...)
	}
	putBuf(payload)
	s.mu.Lock()
	err := errWSClosing
	if !s.closed {
		_, err = s.out.Write(buf)
	}
	s.mu.Unlock()
	putBuf(buf)
	return err
}

// appendWSHeader appends the header of a final, unmasked text frame of n bytes (RFC 6455
// §5.2): what a server sends. A compressed one has RSV1 set (RFC 7692).
func appendWSHeader(b []byte, n int, compressed bool) []byte {
	first := byte(0x80 | 0x1) // FIN, text
	if compressed {
		first |= 0x40
	}
	switch {
	case n < 126:
		return append(b, first, byte(n))
	case n <= 0xFFFF:
		return append(b, first, 126, byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint64(append(b, first, 127), uint64(n))
}

// heartbeat sends the heartbeat event, which the page watches for silence (browsers show no
// WebSocket pings to scripts), and pings the client; one that does not answer within a
// heartbeat is gone. The pong is read by the reader goroutine, so a ping that times out while
// it was carrying out a slow action (a database wait) judges nothing: the next heartbeat pings
// again.
func (s *wsSink) heartbeat() error {
	s.mu.Lock()
	closed := s.closed
	var err error
	if !closed {
		_, err = s.out.Write(s.c.hub.pulse.heartbeat().ws)
	}
	s.mu.Unlock()
	if closed || err != nil {
		return err // closing: the stream is ending anyway
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.heartbeatWithin)
		defer cancel()
		before := s.actions.Load()
		err := s.ws.Ping(ctx)
		readerFree := before%2 == 0 && s.actions.Load() == before // no action during the wait
		if err != nil && ctx.Err() == context.DeadlineExceeded && readerFree {
			s.c.Close(ReasonClientGone)
			s.c.abortWrites()
		}
	}()
	return nil
}

func (s *wsSink) close() { s.ws.CloseNow() }

// readClient reads client messages until the connection ends; the WebSocket must always be
// read for control frames (pongs, close) to be processed.
func (s *wsSink) readClient(ctx context.Context, wake func(), handle HandleFunc) {
	ws, c := s.ws, s.c
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil {
			c.Close(ReasonClientGone) // unless the server closed it first
			wake()                    // the pump ends the stream
			return
		}
		c.Touch()
		if typ != websocket.MessageText {
			c.Send(FaultFrame(Fault{Code: "invalid_message", Message: "binary messages are not supported; send JSON text"}))
			continue
		}
		m, err := ParseClientMessage(data)
		if err == nil {
			s.actions.Add(1)
			err = dispatch(ctx, c, m, handle)
			s.actions.Add(1)
		}
		if err != nil {
			var f *Fault
			if !errors.As(err, &f) {
				f = &Fault{Code: "internal", Message: "the server could not carry out this action"}
				c.hub.log.Error("client action failed", "conn", c.id, "type", m.Type, "err", err)
			}
			fault := *f
			fault.Ref = m.Ref
			c.Send(FaultFrame(fault))
		}
	}
}

// HandleFunc carries out a WebSocket client's in-band action (WSOptions.Handle).
type HandleFunc = func(ctx context.Context, c *Conn, m ClientMessage) (result any, err error)

// dispatch carries out one client message and answers it: pong for a ping, ack for a carried-out
// action that carried a ref (refresh answers token_refreshed itself).
func dispatch(ctx context.Context, c *Conn, m ClientMessage, handle HandleFunc) (err error) {
	defer func() {
		if r := recover(); r != nil { // one bad action must not take the server down
			c.hub.log.Error("panic in a client action", "conn", c.id, "type", m.Type, "panic", r)
			err = &Fault{Code: "internal", Message: "the server could not carry out this action"}
		}
	}()
	if m.Type == ClientPing {
		return answer(c, Event{Type: EventPong, Data: map[string]string{"ref": m.Ref}})
	}
	if handle == nil {
		return &Fault{Code: "unknown_type", Field: "type", Message: "unknown message type " + m.Type}
	}
	result, err := handle(ctx, c, m)
	if err != nil || m.Ref == "" || m.Type == ClientRefresh {
		return err
	}
	return answer(c, Event{Type: EventAck, Data: Ack{Ref: m.Ref, Action: m.Type, Result: result}})
}

// answer sends a reply to this connection alone; a connection that closed meanwhile needs none.
func answer(c *Conn, ev Event) error {
	if err := c.Send(&Frame{Type: ev.Type, Payload: mustEncode(ev)}); !errors.Is(err, ErrClosed) {
		return err
	}
	return nil
}

// wsCloseStatus maps why c closed to the close code and text its client acts on.
func wsCloseStatus(c *Conn) (websocket.StatusCode, string) {
	switch c.Reason() {
	case ReasonShutdown:
		return websocket.StatusGoingAway, "server shutting down: resume"
	case ReasonMaxAge:
		return websocket.StatusGoingAway, "stream reached its maximum age: resume"
	case ReasonSlow:
		return websocket.StatusTryAgainLater, "slow consumer: resume from your cursor"
	case ReasonKicked:
		return CloseKicked, truncateReason("kicked: " + c.note())
	case ReasonTokenExpired:
		return CloseTokenExpired, "token expired: refresh it and resume"
	case ReasonReplaced:
		return websocket.StatusPolicyViolation, "replaced by a newer connection"
	case ReasonAbuse:
		return websocket.StatusPolicyViolation, "too many requests over the rate limits"
	case ReasonError:
		return websocket.StatusInternalError, "server error: resume"
	}
	return websocket.StatusNormalClosure, ""
}

// truncateReason keeps a close reason within the 123 bytes a close frame allows.
func truncateReason(s string) string {
	if len(s) <= 123 {
		return s
	}
	s = s[:123]
	for len(s) > 0 && s[len(s)-1]&0xC0 == 0x80 { // do not split a UTF-8 sequence
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] >= 0xC0 {
		s = s[:len(s)-1]
	}
	return s
}
