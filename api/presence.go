package api

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"switchboard/db"
	"switchboard/realtime"
)

const maxPageChars = 500

type presenceBody struct {
	Status      string `json:"status"`
	CurrentPage string `json:"current_page"`
}

// setPresence records p's status and sends user_presence to every room p is in.
func (s *Server) setPresence(ctx context.Context, p Principal, body presenceBody) error {
	switch body.Status {
	case realtime.StatusOnline, realtime.StatusAway, realtime.StatusBusy:
	default:
		return invalid("status", "status must be online, away or busy")
	}
	body.CurrentPage = strings.TrimSpace(body.CurrentPage)
	if utf8.RuneCountInString(body.CurrentPage) > maxPageChars {
		return invalid("current_page", "current_page must be at most %d characters", maxPageChars)
	}
	if s.hub.SetStatus(p.User, body.Status, body.CurrentPage) {
		return nil // recorded by the hub's presence callback
	}
	// No live connection here: record it, for when one comes.
	return s.db.SetPresence(ctx, db.Presence{UserID: p.ID, Status: body.Status, CurrentPage: body.CurrentPage, LastSeenAt: time.Now()})
}

// handleSetPresence serves PUT /api/presence {status: online|away|busy, current_page?}.
func (s *Server) handleSetPresence(c echo.Context) error {
	var body presenceBody
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	p := principal(c)
	if err := s.limit(actPresence, p.ID, ""); err != nil {
		return err
	}
	if err := s.setPresence(c.Request().Context(), p, body); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"user_id": p.ID, "status": body.Status, "current_page": strings.TrimSpace(body.CurrentPage)})
}

// handleRoomPresence serves GET /api/rooms/:room/presence: who is online in the room, with
// their status and when they were last seen.
func (s *Server) handleRoomPresence(c echo.Context) error {
	a, err := s.readable(c.Request().Context(), principal(c), c.Param("room"), false)
	if err != nil {
		return err
	}
	present := s.hub.RoomPresence(a.room.Key)
	return c.JSON(http.StatusOK, roomPresenceJSON(a.room.Key, present))
}

// roomPresenceJSON is who is online in a room: {room, online_count, users}.
func roomPresenceJSON(key string, present []realtime.PresenceInfo) map[string]any {
	type entry struct {
		UserID      string `json:"user_id"`
		UserName    string `json:"user_name,omitempty"`
		Status      string `json:"status"`
		CurrentPage string `json:"current_page,omitempty"`
		LastSeen    string `json:"last_seen"`
	}
	out := make([]entry, len(present))
	for i, p := range present {
		out[i] = entry{p.UserID, p.UserName, p.Status, p.CurrentPage, wireTime(p.LastSeen.Time)}
	}
	return map[string]any{"room": key, "online_count": len(out), "users": out}
}
