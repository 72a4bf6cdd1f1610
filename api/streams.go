package api

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/realtime"
)

// handleSSE serves GET /events: a Server-Sent Events stream.
func (s *Server) handleSSE(c echo.Context) error {
	rooms, err := roomsFrom(c)
	if err != nil {
		return err
	}
	conn, err := s.openConn(c, connectRequest{principal: principal(c), transport: realtime.TransportSSE,
		rooms: rooms, cursor: cursorFrom(c)})
	if err != nil {
		return err
	}
	release := holdForStream(c)
	return realtime.ServeSSE(c.Response(), c.Request(), conn, s.cfg.SSE, func() { s.closeConn(conn); release() })
}

// handleWS serves GET /ws: a WebSocket carrying events out and actions in. A plain GET, without
// the upgrade, answers what the handshake would — the client's error, or 426 when the upgrade
// would be accepted — and registers nothing: browsers hide the status of a refused WebSocket
// handshake, so clients learn it this way.
func (s *Server) handleWS(c echo.Context) error {
	r := c.Request()
	if !isUpgrade(r) {
		return s.dryRunWS(c)
	}
	if err := s.checkWSHandshake(r); err != nil {
		return err
	}
	rooms, err := roomsFrom(c)
	if err != nil {
		return err
	}
	conn, err := s.openConn(c, connectRequest{principal: principal(c), transport: realtime.TransportWS,
		rooms: rooms, cursor: cursorFrom(c)})
	if err != nil {
		return err
	}
	release := holdForStream(c)
	err = realtime.ServeWS(c.Response(), r, conn, realtime.WSOptions{
		OriginPatterns:     s.cfg.WSOriginPatterns,
		ReadLimit:          s.cfg.WSReadLimit,
		WriteTimeout:       s.cfg.WriteTimeout,
		Handle:             s.handleClientMessage,
		DisableCompression: s.cfg.DisableWSCompression,
	}, func() { s.closeConn(conn); release() })
	if err != nil {
		s.log.Debug("websocket upgrade refused", "err", err, "origin", r.Header.Get("Origin"))
	}
	return nil // after Accept, the response belongs to the WebSocket
}

// dryRunWS answers a GET of /ws that asks for no upgrade with the error its handshake would
// meet, or 426 upgrade_required when it would be accepted.
func (s *Server) dryRunWS(c echo.Context) error {
	if !originAllowed(c.Request(), s.cfg.WSOriginPatterns) {
		return originNotAllowed()
	}
	if _, err := roomsFrom(c); err != nil {
		return err
	}
	if _, err := s.admit(c.Request().Context(), connectRequest{principal: principal(c),
		transport: realtime.TransportWS, cursor: cursorFrom(c)}); err != nil {
		return err
	}
	return upgradeRequired()
}

// maxPollEvents bounds the events one long-poll response carries.
const maxPollEvents = 500

// connIDPattern matches the connection ids this server issues.
var connIDPattern = regexp.MustCompile(`^c_[A-Z2-7]{24}$`)

// handlePoll serves GET /poll: long-polling. The first request opens a connection and returns
// "connected" at once; later requests pass connection_id and the cursor they got last, and
// return as soon as events are ready or after the poll timeout with none. A request whose
// cursor is not the connection's (a lost response, another node, an expired connection)
// resumes from that cursor instead, keeping the connection id.
func (s *Server) handlePoll(c echo.Context) error {
	p := principal(c)
	wait, err := pollWait(c, s.cfg.PollTimeout)
	if err != nil {
		return err
	}
	// Nothing is delivered on a token past its exp, as a stream ends at it: the verifier's
	// leeway for clock skew does not stretch a long-poll connection.
	if !p.Expires.IsZero() {
		if !time.Now().Before(p.Expires) {
			return unauthorized("token_expired", "the token has expired; get a new one")
		}
		wait = min(wait, time.Until(p.Expires))
	}
	id := c.QueryParam("connection_id")
	if id != "" && !connIDPattern.MatchString(id) {
		return invalid("connection_id", "connection_id is not one this server issued")
	}
	cursor := cursorFrom(c)
	ctx := c.Request().Context()

	var conn *realtime.Conn
	if existing, ok := s.hub.Conn(id); ok {
		if existing.User().ID != p.ID {
			return forbidden("connection %s belongs to another user", id)
		}
		if existing.Transport() != realtime.TransportPoll {
			return conflict("not_poll_connection", "connection %s is a %s stream, not a long-poll connection", id, existing.Transport())
		}
		conn = existing
	}
	var (
		msgs []realtime.Message
		next string
	)
	if conn != nil {
		msgs, next, err = conn.Poll(ctx, wait, maxPollEvents, cursor)
		if errors.Is(err, realtime.ErrCursorMismatch) {
			conn.Close(realtime.ReasonReplaced)
			s.closeConn(conn)
			conn = nil
		}
	}
	if conn == nil {
		var rooms []string
		if rooms, err = roomsFrom(c); err != nil {
			return err
		}
		conn, err = s.openConn(c, connectRequest{id: id, principal: p, transport: realtime.TransportPoll,
			rooms: rooms, cursor: cursor})
		if err != nil {
			return err
		}
		if id != "" {
			s.tell(controlRequest{Op: "claim", Conn: id, User: p.ID}) // a copy another node may hold is stale now
		}
		msgs, next, err = conn.Poll(ctx, wait, maxPollEvents, "")
	}
	closed := errors.Is(err, realtime.ErrClosed)
	if closed {
		s.closeConn(conn)
	} else if err != nil {
		return nil // the client went away
	}
	body := compressed(c.Response(), c.Request(), pollResponse(msgs, next, conn, closed))
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body)
}

// pollResponse encodes {"events":[…],"cursor":"…","connection_id":"…"} from shared envelopes.
func pollResponse(msgs []realtime.Message, cursor string, conn *realtime.Conn, closed bool) []byte {
	n := 64
	for _, m := range msgs {
		n += len(m.Payload) + len(m.Cursor) + 10
	}
	b := make([]byte, 0, n)
	b = append(b, `{"events":[`...)
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = m.AppendJSON(b)
	}
	b = append(b, `],"cursor":"`...)
	b = append(b, cursor...)
	b = append(b, `","connection_id":"`...)
	b = append(b, conn.ID()...)
	b = append(b, '"')
	if closed {
		b = append(b, `,"closed":"`...)
		b = append(b, conn.Reason().String()...)
		b = append(b, '"')
	}
	return append(b, '}')
}

// pollWait reads the optional timeout parameter (seconds, at most the configured poll timeout).
func pollWait(c echo.Context, max time.Duration) (time.Duration, error) {
	raw := c.QueryParam("timeout")
	if raw == "" {
		return max, nil
	}
	secs, err := strconv.ParseFloat(raw, 64)
	if err != nil || !(secs >= 0 && secs <= max.Seconds()) { // also refuses NaN and ±Inf
		return 0, invalid("timeout", "timeout must be a number of seconds from 0 to %g", max.Seconds())
	}
	return time.Duration(secs * float64(time.Second)), nil
}
