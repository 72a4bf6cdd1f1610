package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/realtime"
)

// A stream is authorized once, at connect, and ends when its token expires. A client that
// gets a fresh token before then hands it to the live connection instead of reconnecting:
// in-band on a WebSocket ({"type":"refresh","data":{"token"}}), over REST for SSE and
// long-poll (POST /api/connections/:id/token). The fresh token is verified like any other —
// signature, algorithm, exp, issuer and audience — and must name the connection's own user.

// handleRefreshToken serves POST /api/connections/:id/token. The request's own token, the
// fresh one, becomes the token of one of the caller's live connections, on any node: the
// stream then ends at its expiry. A token of another user is refused with 403 and changes
// nothing. Long-poll connections present their token with every request, so for them this only
// confirms the token.
func (s *Server) handleRefreshToken(c echo.Context) error {
	exp := principal(c).Expires
	err := s.onOwnConn(c, controlRequest{Op: "token", Until: exp}, func(conn *realtime.Conn) error {
		return extendConn(conn, exp)
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, refreshAnswer{ConnectionID: c.Param("id"), ExpiresAt: wireTime(exp)})
}

// refreshAnswer is what a refresh answers: when the connection now ends.
type refreshAnswer struct {
	ConnectionID string `json:"connection_id"`
	ExpiresAt    string `json:"expires_at"`
	Ref          string `json:"ref,omitempty"` // WebSocket: the ref of the refresh message
}

// extendConn moves conn's end to exp.
func extendConn(conn *realtime.Conn, exp time.Time) error {
	if errors.Is(conn.Extend(exp), realtime.ErrClosed) {
		return notFound("connection_not_found", "connection %s has closed; reconnect with the new token", conn.ID())
	}
	return nil
}

// refreshInBand carries out a WebSocket's refresh message and answers token_refreshed.
func (s *Server) refreshInBand(ctx context.Context, conn *realtime.Conn, m realtime.ClientMessage) error {
	var data struct {
		Token string `json:"token"`
	}
	if err := decodeData(m, &data); err != nil {
		return err
	}
	if data.Token == "" {
		return invalid("data.token", "token is required")
	}
	p, err := s.auth.Verify(data.Token)
	if err != nil {
		s.authFailed(ctx, conn.Info().RemoteAddr, asError(err).Code)
		return err
	}
	if p.ID != conn.User().ID {
		return forbidden("the token names another user than this connection's")
	}
	if err := extendConn(conn, p.Expires); err != nil {
		return err
	}
	env, err := realtime.Event{Type: realtime.EventTokenRefreshed,
		Data: refreshAnswer{ConnectionID: conn.ID(), ExpiresAt: wireTime(p.Expires), Ref: m.Ref}}.Encode()
	if err != nil {
		return err
	}
	return conn.Send(&realtime.Frame{Type: realtime.EventTokenRefreshed, Payload: env})
}
