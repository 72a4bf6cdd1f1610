package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/db"
	"switchboard/realtime"
)

// messageOf finds the message named by the :id path parameter in a room p may read.
func (s *Server) messageOf(c echo.Context) (roomAccess, db.Message, error) {
	ctx := c.Request().Context()
	a, err := s.readable(ctx, principal(c), c.Param("room"), false)
	if err != nil {
		return a, db.Message{}, err
	}
	id, err := messageID("id", c.Param("id"))
	if err != nil {
		return a, db.Message{}, notFound("message_not_found", "no message %s in room %q", quote(c.Param("id")), a.room.Key)
	}
	m, err := s.db.GetMessage(ctx, a.room, id)
	if errors.Is(err, db.ErrNotFound) {
		return a, db.Message{}, notFound("message_not_found", "no message %s in room %q", id, a.room.Key)
	}
	return a, m, err
}

// handleEditMessage serves PATCH /api/rooms/:room/messages/:id {content}: the author edits;
// chat_message_updated goes to the room.
func (s *Server) handleEditMessage(c echo.Context) error {
	var body struct {
		Content *string `json:"content"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if body.Content == nil {
		return invalid("content", "content is required")
	}
	if err := checkContent(*body.Content); err != nil {
		return err
	}
	if err := s.limit(actMessage, principal(c).ID, ""); err != nil {
		return err
	}
	a, m, err := s.messageOf(c)
	if err != nil {
		return err
	}
	if m.UserID != principal(c).ID {
		return forbidden("only the author may edit a message")
	}
	key := a.room.Key
	edited, evs, err := s.db.EditMessage(c.Request().Context(), m, *body.Content, realtime.RoomTopic(key),
		string(realtime.EventMessageUpdated), func(m db.Message) ([]byte, error) {
			return realtime.Event{Type: realtime.EventMessageUpdated, Room: key, Data: toMessageJSON(m), TS: m.EditedAt}.Encode()
		})
	if errors.Is(err, db.ErrNotFound) {
		return notFound("message_not_found", "message %s was deleted", m.ID)
	}
	if err != nil {
		return err
	}
	s.publish(evs...)
	return c.JSON(http.StatusOK, toMessageJSON(edited))
}

// handleDeleteMessage serves DELETE /api/rooms/:room/messages/:id: the author, or a room admin
// or moderator, deletes; chat_message_deleted goes to the room.
func (s *Server) handleDeleteMessage(c echo.Context) error {
	a, m, err := s.messageOf(c)
	if err != nil {
		return err
	}
	p := principal(c)
	if m.UserID != p.ID && !a.isModerator() {
		return forbidden("only the author or the room's admins and moderators may delete a message")
	}
	ev, err := newEvent(realtime.RoomTopic(a.room.Key), realtime.EventMessageDeleted, a.room.Key,
		map[string]any{"id": m.ID, "room": a.room.Key, "seq": m.Seq, "deleted_by": p.ID})
	if err != nil {
		return err
	}
	evs, err := s.db.DeleteMessage(c.Request().Context(), m, p.ID, ev)
	if errors.Is(err, db.ErrNotFound) {
		return notFound("message_not_found", "message %s was already deleted", m.ID)
	}
	if err != nil {
		return err
	}
	s.publish(evs...)
	return c.NoContent(http.StatusNoContent)
}

// handleMarkRead serves POST /api/rooms/:room/read {message_id}: the caller has read up to that
// message. read_receipt goes to the room when the position moves forward. Reading a public
// room makes the reader a member, since members are who have read state.
func (s *Server) handleMarkRead(c echo.Context) error {
	var body struct {
		MessageID string `json:"message_id"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	msgID, err := messageID("message_id", body.MessageID)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p := principal(c)
	a, err := s.readable(ctx, p, c.Param("room"), false)
	if err != nil {
		return err
	}
	m, err := s.db.GetMessage(ctx, a.room, msgID)
	if errors.Is(err, db.ErrNotFound) {
		return notFound("message_not_found", "no message %s in room %q", msgID, a.room.Key)
	}
	if err != nil {
		return err
	}
	if a.member == nil {
		if err := s.db.UpsertUser(ctx, dbUser(p)); err != nil {
			return err
		}
		if _, err := s.addMember(ctx, a, p.ID, db.RoleMember, p.ID); err != nil {
			return err
		}
	}
	readAt := time.Now()
	receipt := map[string]any{"room": a.room.Key, "user_id": p.ID, "message_id": m.ID, "seq": m.Seq,
		"read_at": wireTime(readAt)}
	ev, err := newEvent(realtime.RoomTopic(a.room.Key), realtime.EventReadReceipt, a.room.Key, receipt)
	if err != nil {
		return err
	}
	_, evs, err := s.db.MarkRead(ctx, a.room.ID, p.ID, m, readAt, ev)
	if err != nil {
		return err
	}
	s.publish(evs...)
	sum, err := s.db.RoomSummaryOf(ctx, a.room, p.ID)
	if err != nil {
		return err
	}
	receipt["unread_count"] = sum.Unread
	return c.JSON(http.StatusOK, receipt)
}
