package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/realtime"
)

// ownConn returns the live connection id names, if it belongs to p. Clients act only on
// their own connections.
func (s *Server) ownConn(p Principal, id string) (*realtime.Conn, error) {
	if id == "" {
		return nil, invalid("connection_id", "connection_id is required: it is in the data of the connected event")
	}
	conn, ok := s.hub.Conn(id)
	if !ok {
		return nil, notFound("connection_not_found", "no live connection %s on this server", id)
	}
	if conn.User().ID != p.ID {
		return nil, forbidden("connection %s belongs to another user", id)
	}
	return conn, nil
}

// joinRoom subscribes a live connection to a room, creating the room on first use.
func (s *Server) joinRoom(ctx context.Context, p Principal, conn *realtime.Conn, key string) error {
	if err := s.mayJoin(ctx, p, key); err != nil {
		return err
	}
	if err := s.subscribe(ctx, conn, key); err != nil {
		return err
	}
	// Checked again once subscribed: a removal, or the room turning private or archived,
	// committed after the first check took the room's subscribers before this one was one.
	if _, err := s.readable(ctx, p, key, false); err != nil {
		_ = s.hub.Unsubscribe(conn, realtime.RoomTopic(key), "forbidden")
		return err
	}
	return nil
}

// mayJoin checks that p may subscribe to a room, creating it on first use.
func (s *Server) mayJoin(ctx context.Context, p Principal, key string) error {
	if err := checkRoomKey("room", key); err != nil {
		return err
	}
	if err := s.db.UpsertUser(ctx, dbUser(p)); err != nil {
		return err
	}
	_, err := s.readable(ctx, p, key, true)
	return err
}

// subscribe adds a room to a connection of this node.
func (s *Server) subscribe(ctx context.Context, conn *realtime.Conn, key string) error {
	err := s.hub.Subscribe(ctx, conn, realtime.RoomTopic(key))
	if errors.Is(err, realtime.ErrClosed) {
		return notFound("connection_not_found", "connection %s has closed", conn.ID())
	}
	return err
}

// leaveRoom unsubscribes a live connection from a room.
func (s *Server) leaveRoom(conn *realtime.Conn, key string) error {
	if err := checkRoomKey("room", key); err != nil {
		return err
	}
	return s.unsubscribe(conn, key)
}

// unsubscribe takes a room from a connection of this node.
func (s *Server) unsubscribe(conn *realtime.Conn, key string) error {
	if err := s.hub.Unsubscribe(conn, realtime.RoomTopic(key), "left"); errors.Is(err, realtime.ErrNotSubscribed) {
		return notFound("not_subscribed", "connection %s is not in room %q", conn.ID(), key)
	}
	return nil
}

// typing tells a room that p started or stopped typing. It is ephemeral: never stored, never
// replayed, and not echoed to p's own connections.
func (s *Server) typing(ctx context.Context, p Principal, key string, typing bool) error {
	if err := checkRoomKey("room", key); err != nil {
		return err
	}
	// A user with a live connection in the room was authorized when it joined: no need to ask
	// the database, so typing keeps working while it is down.
	if !s.inRoom(p.ID, key) {
		if _, err := s.readable(ctx, p, key, false); err != nil {
			return err
		}
	}
	s.hub.Typing(key, p.User, typing)
	return nil
}

// inRoom reports whether one of the user's live connections is subscribed to the room.
func (s *Server) inRoom(userID, key string) bool {
	topic := realtime.RoomTopic(key)
	for _, c := range s.hub.UserConns(userID) {
		if c.Subscribed(topic) {
			return true
		}
	}
	return false
}

type connectionBody struct {
	ConnectionID string `json:"connection_id"`
}

// handleJoin serves POST /api/rooms/:room/join {connection_id}: the connection may be held by
// any node of the cluster.
func (s *Server) handleJoin(c echo.Context) error {
	return s.handleMembership(c, "join")
}

// handleLeave serves POST /api/rooms/:room/leave {connection_id}.
func (s *Server) handleLeave(c echo.Context) error {
	return s.handleMembership(c, "leave")
}

func (s *Server) handleMembership(c echo.Context, op string) error {
	var body connectionBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	ctx := c.Request().Context()
	p := principal(c)
	key := c.Param("room")
	if err := s.limit(actJoin, p.ID, body.ConnectionID); err != nil {
		return err
	}
	conn, err := s.ownConn(p, body.ConnectionID)
	switch {
	case err == nil && op == "join":
		err = s.joinRoom(ctx, p, conn, key)
	case err == nil:
		err = s.leaveRoom(conn, key)
	case isNotFound(err) && s.cfg.Cluster != nil: // held by another node, perhaps
		if op == "join" {
			if err = s.mayJoin(ctx, p, key); err != nil {
				return err
			}
		} else if err = checkRoomKey("room", key); err != nil {
			return err
		}
		err = s.remoteConn(ctx, controlRequest{Op: op, Conn: body.ConnectionID, User: p.ID, Room: key})
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"room": key, "connection_id": body.ConnectionID, "subscribed": op == "join"})
}

// handleCloseConnection serves DELETE /api/connections/:id: a client ends one of its own
// connections at once — a long-poll connection of a closing tab, which would otherwise linger
// until it expires, or the old connection after switching transports.
func (s *Server) handleCloseConnection(c echo.Context) error {
	err := s.onOwnConn(c, controlRequest{Op: "close"}, func(conn *realtime.Conn) error {
		s.closeOwn(conn)
		return nil
	})
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// onOwnConn carries out req on the caller's live connection that the :id path parameter
// names: with local when this node holds it, else on the node that does.
func (s *Server) onOwnConn(c echo.Context, req controlRequest, local func(*realtime.Conn) error) error {
	p := principal(c)
	req.Conn, req.User = c.Param("id"), p.ID
	// Counted with joins and leaves: looking up a connection held elsewhere asks every node.
	if err := s.limit(actJoin, p.ID, ""); err != nil {
		return err
	}
	conn, err := s.ownConn(p, req.Conn)
	switch {
	case err == nil:
		return local(conn)
	case isNotFound(err) && s.cfg.Cluster != nil:
		return s.remoteConn(c.Request().Context(), req)
	}
	return err
}

// closeOwn ends a connection its client asked to end.
func (s *Server) closeOwn(conn *realtime.Conn) {
	conn.Close(realtime.ReasonClientGone)
	if conn.Transport() == realtime.TransportPoll {
		s.closeConn(conn) // no stream to end it: remove it now
	}
}

// isNotFound reports whether err is a 404 Error.
func isNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// handleTyping serves POST /api/rooms/:room/typing {typing, connection_id?}.
func (s *Server) handleTyping(c echo.Context) error {
	var body struct {
		Typing       *bool  `json:"typing"`
		ConnectionID string `json:"connection_id"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.Typing == nil {
		return invalid("typing", "typing is required: true or false")
	}
	p := principal(c)
	// Limit first: looking up a connection held elsewhere asks every node.
	if err := s.limit(actTyping, p.ID, body.ConnectionID); err != nil {
		return err
	}
	if body.ConnectionID != "" {
		if _, err := s.ownConn(p, body.ConnectionID); isNotFound(err) && s.cfg.Cluster != nil {
			err = s.remoteConn(c.Request().Context(), controlRequest{Op: "locate", Conn: body.ConnectionID, User: p.ID})
			if err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
	}
	if err := s.typing(c.Request().Context(), p, c.Param("room"), *body.Typing); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
