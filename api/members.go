package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"switchboard/api/auth"
	"switchboard/db"
	"switchboard/realtime"
)

const maxUserIDLen = auth.MaxSubjectLen // a user id is a token's sub

type memberJSON struct {
	Room     string `json:"room"`
	UserID   string `json:"user_id"`
	UserName string `json:"user_name,omitempty"`
	Role     string `json:"role"`
	JoinedAt string `json:"joined_at"`
	By       string `json:"by,omitempty"`
}

func toMemberJSON(room string, m db.Member, by string) memberJSON {
	return memberJSON{Room: room, UserID: m.UserID, UserName: m.UserName, Role: m.Role, JoinedAt: wireTime(m.JoinedAt), By: by}
}

func checkRole(role string) error {
	switch role {
	case db.RoleAdmin, db.RoleModerator, db.RoleMember:
		return nil
	}
	return invalid("role", "role must be admin, moderator or member")
}

func checkUserID(field, id string) error {
	if id == "" || len(id) > maxUserIDLen || !utf8.ValidString(id) || strings.ContainsRune(id, 0) {
		return invalid(field, "%s must be a user id: 1–%d bytes of UTF-8 text without NUL", field, maxUserIDLen)
	}
	return nil
}

// addMember makes userID a member of a room with role, or changes its role: member_joined to
// the room, and, for a private room, room_created to the new member, who can see it now.
func (s *Server) addMember(ctx context.Context, a roomAccess, userID, role, by string) (created bool, err error) {
	key := a.room.Key
	joined, err := newEvent(realtime.RoomTopic(key), realtime.EventMemberJoined, key,
		memberJSON{Room: key, UserID: userID, Role: role, By: by, JoinedAt: wireTime(time.Now())})
	if err != nil {
		return false, err
	}
	visible, err := newEvent(realtime.UserTopic(userID), realtime.EventRoomCreated, key, toRoomJSON(a.room))
	if err != nil {
		return false, err
	}
	_, created, evs, err := s.db.AddMember(ctx, a.room.ID, userID, role, func(created bool) []db.Event {
		if created && a.room.Private {
			return []db.Event{joined, visible}
		}
		return []db.Event{joined}
	})
	if err != nil {
		return false, err
	}
	s.publish(evs...)
	return created, nil
}

// handleListMembers serves GET /api/rooms/:room/members.
func (s *Server) handleListMembers(c echo.Context) error {
	ctx := c.Request().Context()
	a, err := s.readable(ctx, principal(c), c.Param("room"), false)
	if err != nil {
		return err
	}
	members, err := s.db.ListMembers(ctx, a.room.ID)
	if err != nil {
		return err
	}
	out := make([]memberJSON, len(members))
	for i, m := range members {
		out[i] = toMemberJSON(a.room.Key, m, "")
	}
	return c.JSON(http.StatusOK, map[string]any{"members": out})
}

// handleAddMember serves POST /api/rooms/:room/members {user_id, role}. Room admins add anyone
// with any role; moderators add plain members.
func (s *Server) handleAddMember(c echo.Context) error {
	var body struct {
		UserID string `json:"user_id"`
		Role   string `json:"role"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.Role == "" {
		body.Role = db.RoleMember
	}
	if err := checkUserID("user_id", body.UserID); err != nil {
		return err
	}
	if err := checkRole(body.Role); err != nil {
		return err
	}
	ctx := c.Request().Context()
	p := principal(c)
	a, err := s.readable(ctx, p, c.Param("room"), false)
	if err != nil {
		return err
	}
	if a.room.Type == db.RoomDirect {
		return errDirectMembers()
	}
	if !a.isAdmin() && !(a.isModerator() && body.Role == db.RoleMember) {
		return forbidden("only the room's admins may add members (moderators may add plain members)")
	}
	if !a.isAdmin() { // a moderator adding a plain member must not demote an admin or moderator
		m, err := s.db.GetMember(ctx, a.room.ID, body.UserID)
		if err != nil && !errors.Is(err, db.ErrNotFound) {
			return err
		}
		if err == nil && m.Role != db.RoleMember {
			return forbidden("only the room's admins may change the role of its admins and moderators")
		}
	}
	created, err := s.addMember(ctx, a, body.UserID, body.Role, p.ID)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return c.JSON(status, memberJSON{Room: a.room.Key, UserID: body.UserID, Role: body.Role, By: p.ID, JoinedAt: wireTime(time.Now())})
}

// handleRemoveMember serves DELETE /api/rooms/:room/members/:user. Admins remove anyone,
// moderators remove plain members, and anyone may remove themselves. The removed user's live
// connections leave the room at once.
func (s *Server) handleRemoveMember(c echo.Context) error {
	ctx := c.Request().Context()
	p := principal(c)
	userID := c.Param("user")
	if err := checkUserID("user", userID); err != nil {
		return err
	}
	a, err := s.readable(ctx, p, c.Param("room"), false)
	if err != nil {
		return err
	}
	if a.room.Type == db.RoomDirect {
		return errDirectMembers()
	}
	target, err := s.db.GetMember(ctx, a.room.ID, userID)
	if errors.Is(err, db.ErrNotFound) {
		return notFound("member_not_found", "%s is not a member of room %q", userID, a.room.Key)
	}
	if err != nil {
		return err
	}
	allowed := userID == p.ID || a.isAdmin() || (a.isModerator() && target.Role == db.RoleMember)
	if !allowed {
		return forbidden("only the room's admins (or moderators, for plain members) may remove members")
	}
	left, err := newEvent(realtime.RoomTopic(a.room.Key), realtime.EventMemberLeft, a.room.Key,
		memberJSON{Room: a.room.Key, UserID: userID, Role: target.Role, By: p.ID, JoinedAt: wireTime(target.JoinedAt)})
	if err != nil {
		return err
	}
	evs, err := s.db.RemoveMember(ctx, a.room.ID, userID, left)
	if errors.Is(err, db.ErrNotFound) {
		return notFound("member_not_found", "%s is not a member of room %q", userID, a.room.Key)
	}
	if err != nil {
		return err
	}
	s.publish(evs...)
	s.unsubscribeUser(userID, a.room.Key, "removed")
	return c.NoContent(http.StatusNoContent)
}

// errDirectMembers refuses a change to a direct room's members: it is between its two users,
// always, with the same role each.
func errDirectMembers() *Error {
	return &Error{Status: http.StatusForbidden, Code: "direct_room",
		Message: "a direct room has exactly its two members: none can be added, removed or change role"}
}

// unsubscribeUser takes every live connection of a user, on every node, out of a room, telling
// each why.
func (s *Server) unsubscribeUser(userID, room, why string) {
	req := controlRequest{Op: "unsubscribe", User: userID, Room: room, Reason: why}
	s.unsubscribeLocal(req)
	s.tell(req)
}
