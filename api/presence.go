package api

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"switchboard/db"
	"switchboard/realtime"
)

const maxPageChars = 500

// RecordTo sets the hub callbacks that keep the database's record of live state: presence
// changes go to user_presence, and every connection's end to the connections audit. Neither
// blocks the hub.
func RecordTo(store *db.DB, cfg *realtime.Config) {
	cfg.OnPresence = func(pc realtime.PresenceChange) {
		store.RecordPresence(db.Presence{UserID: pc.User.ID, Status: pc.Status, CurrentPage: pc.CurrentPage, LastSeenAt: pc.At})
	}
	cfg.OnDisconnect = func(c *realtime.Conn) {
		store.RecordDisconnect(c.ID(), time.Now(), c.Reason().String())
	}
}

// handleSetPresence serves PUT /api/presence {status: online|away|busy, current_page?}: the
// status is recorded and sent as user_presence to every room the caller is in.
func (s *Server) handleSetPresence(c echo.Context) error {
	var body struct {
		Status      string `json:"status"`
		CurrentPage string `json:"current_page"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	switch body.Status {
	case realtime.StatusOnline, realtime.StatusAway, realtime.StatusBusy:
	default:
		return invalid("status", "status must be online, away or busy")
	}
	body.CurrentPage = strings.TrimSpace(body.CurrentPage)
	if utf8.RuneCountInString(body.CurrentPage) > maxPageChars {
		return invalid("current_page", "current_page must be at most %d characters", maxPageChars)
	}
	p := principal(c)
	if !s.hub.SetStatus(p.User, body.Status, body.CurrentPage) {
		// No live connection here: record it, for when one comes.
		if err := s.db.SetPresence(c.Request().Context(), db.Presence{UserID: p.ID, Status: body.Status,
			CurrentPage: body.CurrentPage, LastSeenAt: time.Now()}); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"user_id": p.ID, "status": body.Status, "current_page": body.CurrentPage})
}

// handleRoomPresence serves GET /api/rooms/:room/presence: who is online in the room, with
// their status and when they were last seen.
func (s *Server) handleRoomPresence(c echo.Context) error {
	a, err := s.readable(c.Request().Context(), principal(c), c.Param("room"), false)
	if err != nil {
		return err
	}
	present := s.hub.RoomPresence(a.room.Key)
	type entry struct {
		UserID      string `json:"user_id"`
		UserName    string `json:"user_name,omitempty"`
		Status      string `json:"status"`
		CurrentPage string `json:"current_page,omitempty"`
		LastSeen    string `json:"last_seen"`
	}
	out := make([]entry, len(present))
	for i, p := range present {
		out[i] = entry{p.UserID, p.UserName, p.Status, p.CurrentPage, wireTime(p.LastSeen)}
	}
	return c.JSON(http.StatusOK, map[string]any{"room": a.room.Key, "online_count": len(out), "users": out})
}
