package api

import (
	"context"
	"errors"
	"net/http"

	"switchboard/realtime"
)

// handleClientMessage carries out a WebSocket client's in-band action with the same code as
// the REST action it mirrors. Refusals come back as faults; the socket stays open. The result,
// acknowledged to a client that sent a ref, is the stored message for chat_message and nothing
// for the others.
func (s *Server) handleClientMessage(ctx context.Context, conn *realtime.Conn, m realtime.ClientMessage) (any, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DBTimeout)
	defer cancel()
	p := connPrincipal(conn.User())
	if act, ok := limitedActions[m.Type]; ok {
		if err := s.limit(act, p.ID, conn.ID()); err != nil {
			if s.limits.abusive(conn.ID()) {
				// Closing drops what is still queued: the closing fault goes last, whatever else.
				s.log.Warn("closing an abusive WebSocket", "conn", conn.ID(), "user", p.ID)
				f := *asError(err).Fault()
				f.Ref = m.Ref
				conn.CloseWith(realtime.ReasonAbuse, realtime.FaultFrame(f))
				return nil, nil
			}
			return nil, asFault(err)
		}
	}
	var (
		err    error
		result any
	)
	switch m.Type {
	case realtime.ClientJoinRoom:
		err = s.joinRoom(ctx, p, conn, m.Room)
	case realtime.ClientLeaveRoom:
		err = s.leaveRoom(conn, m.Room)
	case realtime.ClientChatMessage:
		var data struct {
			Content  string `json:"content"`
			ClientID string `json:"client_id"`
		}
		if err = decodeData(m, &data); err == nil {
			var msg messageJSON
			if msg, _, err = s.postMessage(ctx, p, m.Room, data.Content, data.ClientID); err == nil {
				result = msg
			}
		}
	case realtime.ClientTypingStart, realtime.ClientTypingStop:
		err = s.typing(ctx, p, m.Room, m.Type == realtime.ClientTypingStart)
	case realtime.ClientPresenceUpdate:
		var data presenceBody
		if err = decodeData(m, &data); err == nil {
			err = s.setPresence(ctx, p, data)
		}
	case realtime.ClientRefresh:
		err = s.refreshInBand(ctx, conn, m)
	default:
		err = &realtime.Fault{Code: "unknown_type", Field: "type", Message: "unknown message type " + quote(m.Type) +
			"; expected join_room, leave_room, chat_message, typing_start, typing_stop, presence_update, refresh or ping"}
	}
	return result, asFault(err)
}

// limitedActions maps in-band message types to the rate limit they count against.
var limitedActions = map[string]action{
	realtime.ClientJoinRoom: actJoin, realtime.ClientLeaveRoom: actJoin, realtime.ClientChatMessage: actMessage,
	realtime.ClientTypingStart: actTyping, realtime.ClientTypingStop: actTyping, realtime.ClientPresenceUpdate: actPresence,
	realtime.ClientRefresh: actJoin,
}

// decodeData decodes a client message's data object.
func decodeData(m realtime.ClientMessage, v any) error {
	if len(m.Data) == 0 || string(m.Data) == "null" {
		return invalid("data", "data is required for %s", m.Type)
	}
	return decodeJSON(m.Data, v)
}

// asFault converts an action's error into the fault the client sees; errors that are not the
// client's doing are logged by the transport and reported without detail.
func asFault(err error) error {
	if err == nil {
		return nil
	}
	var f *realtime.Fault
	if errors.As(err, &f) {
		return f
	}
	e := asError(err)
	if e.Status >= 500 && e.Status != http.StatusServiceUnavailable {
		return err // logged by the transport; the client hears only that it failed
	}
	return e.Fault()
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + s + `"`
}
