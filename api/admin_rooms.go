package api

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/db"
)

// The room inspector: operators read any room — public or private, archived too — without
// being a member, through the queries and wire forms of the members' own routes. Opening a
// room's history is recorded in the audit log.

// inspectedRoom looks up the room of the request's :room for an operator.
func (s *Server) inspectedRoom(c echo.Context) (db.Room, error) {
	key := c.Param("room")
	if err := checkRoomKey("room", key); err != nil {
		return db.Room{}, err
	}
	room, err := s.db.GetRoom(c.Request().Context(), key)
	if errors.Is(err, db.ErrNotFound) {
		return db.Room{}, notFound("room_not_found", "room %q does not exist", key)
	}
	return room, err
}

// handleInspectRoom serves GET /api/admin/rooms/:room: the room as GET /api/rooms/:room shows
// it (member and online counts, last message), without the caller's role and unread count.
func (s *Server) handleInspectRoom(c echo.Context) error {
	room, err := s.inspectedRoom(c)
	if err != nil {
		return err
	}
	sum, err := s.db.RoomSummaryOf(c.Request().Context(), room, "")
	if err != nil {
		return err
	}
	out := s.toSummaryJSON(sum)
	out.MyRole, out.Unread = nil, nil
	return c.JSON(http.StatusOK, out)
}

// handleInspectHistory serves GET /api/admin/rooms/:room/messages?limit=50&before=<id>, as
// GET /api/rooms/:room/messages answers members. The first page is an audited read.
func (s *Server) handleInspectHistory(c echo.Context) error {
	limit, err := pageLimit(c, defaultHistoryLimit, maxHistoryLimit)
	if err != nil {
		return err
	}
	before, err := pageBefore(c)
	if err != nil {
		return err
	}
	room, err := s.inspectedRoom(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	msgs, more, err := s.db.History(ctx, room, before, limit)
	if errors.Is(err, db.ErrBadCursor) {
		return invalid("before", "before is not a message of room %q", room.Key)
	}
	if err != nil {
		return err
	}
	if before == "" {
		s.audit(ctx, principal(c).ID, "inspect_room", room.Key, map[string]any{"private": room.Private})
	}
	return c.JSON(http.StatusOK, toHistoryJSON(msgs, more))
}

// handleInspectMembers serves GET /api/admin/rooms/:room/members, as GET /api/rooms/:room/members.
func (s *Server) handleInspectMembers(c echo.Context) error {
	room, err := s.inspectedRoom(c)
	if err != nil {
		return err
	}
	members, err := s.db.ListMembers(c.Request().Context(), room.ID)
	if err != nil {
		return err
	}
	out := make([]memberJSON, len(members))
	for i, m := range members {
		out[i] = toMemberJSON(room.Key, m, "")
	}
	return c.JSON(http.StatusOK, map[string]any{"members": out})
}

// handleInspectPresence serves GET /api/admin/rooms/:room/presence, as GET
// /api/rooms/:room/presence: who is online in the room, on any node.
func (s *Server) handleInspectPresence(c echo.Context) error {
	room, err := s.inspectedRoom(c)
	if err != nil {
		return err
	}
	present := s.hub.RoomPresence(room.Key)
	return c.JSON(http.StatusOK, roomPresenceJSON(room.Key, present))
}
