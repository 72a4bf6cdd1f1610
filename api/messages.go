package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/db"
	"switchboard/realtime"
)

// messageJSON is a chat message on the wire, in REST responses and in chat_message events.
type messageJSON struct {
	ID         string  `json:"id"`
	Room       string  `json:"room"`
	Seq        uint64  `json:"seq"`
	UserID     string  `json:"user_id"`
	UserName   string  `json:"user_name"`
	UserAvatar string  `json:"user_avatar,omitempty"`
	Content    string  `json:"content"`
	ClientID   string  `json:"client_id,omitempty"`
	CreatedAt  string  `json:"created_at"`
	EditedAt   *string `json:"edited_at,omitempty"`
}

func toMessageJSON(m db.Message) messageJSON {
	out := messageJSON{ID: m.ID, Room: m.RoomKey, Seq: m.Seq, UserID: m.UserID, UserName: m.UserName,
		UserAvatar: m.UserAvatar, Content: m.Content, ClientID: m.ClientID, CreatedAt: wireTime(m.CreatedAt)}
	if !m.EditedAt.IsZero() {
		t := wireTime(m.EditedAt)
		out.EditedAt = &t
	}
	return out
}

// postMessage stores a message and broadcasts it to the room. A repeated client id returns
// the first message (created false) and broadcasts nothing.
func (s *Server) postMessage(ctx context.Context, p Principal, key, content, clientID string) (messageJSON, bool, error) {
	if err := checkRoomKey("room", key); err != nil {
		return messageJSON{}, false, err
	}
	if err := checkContent(content); err != nil {
		return messageJSON{}, false, err
	}
	if err := checkClientID(clientID); err != nil {
		return messageJSON{}, false, err
	}
	if err := s.db.UpsertUser(ctx, dbUser(p)); err != nil {
		return messageJSON{}, false, err
	}
	a, err := s.readable(ctx, p, key, true)
	if err != nil {
		return messageJSON{}, false, err
	}
	if a.member == nil { // a public room: posting makes the poster a member
		if _, err := s.addMember(ctx, a, p.ID, db.RoleMember, p.ID); err != nil {
			return messageJSON{}, false, err
		}
	}
	room := a.room
	topic := realtime.RoomTopic(key)
	msg, ev, created, err := s.db.PostMessage(ctx, db.NewMessage{Room: room, Topic: topic, UserID: p.ID,
		UserName: p.Name, UserAvatar: p.Avatar, Content: content, ClientID: clientID},
		string(realtime.EventChatMessage),
		func(m db.Message) ([]byte, error) {
			return realtime.Event{Type: realtime.EventChatMessage, Room: key, Data: toMessageJSON(m), TS: m.CreatedAt}.Encode()
		})
	if errors.Is(err, db.ErrClientIDReused) {
		return messageJSON{}, false, &Error{Status: http.StatusConflict, Code: "client_id_reused", Field: "client_id",
			Message: "this client_id was already used for a message in another room"}
	}
	if err != nil {
		return messageJSON{}, false, err
	}
	if created {
		s.publish(ev)
	}
	return toMessageJSON(msg), created, nil
}

// handlePostMessage serves POST /api/rooms/:room/messages {content, client_id?}: 201 with the
// stored message, or 200 with the first one when client_id repeats.
func (s *Server) handlePostMessage(c echo.Context) error {
	var body struct {
		Content  string `json:"content"`
		ClientID string `json:"client_id"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := s.limit(actMessage, principal(c).ID, ""); err != nil {
		return err
	}
	msg, created, err := s.postMessage(c.Request().Context(), principal(c), c.Param("room"), body.Content, body.ClientID)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	return c.JSON(status, msg)
}

// History page sizes.
const (
	defaultHistoryLimit = 50
	maxHistoryLimit     = 100
)

// handleHistory serves GET /api/rooms/:room/messages?limit=50&before=<id>: newest first.
// next_before, when present, fetches the page before this one.
func (s *Server) handleHistory(c echo.Context) error {
	key := c.Param("room")
	if err := checkRoomKey("room", key); err != nil {
		return err
	}
	limit, err := pageLimit(c, defaultHistoryLimit, maxHistoryLimit)
	if err != nil {
		return err
	}
	before, err := pageBefore(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	a, err := s.readable(ctx, principal(c), key, false)
	if err != nil {
		return err
	}
	msgs, more, err := s.db.History(ctx, a.room, before, limit)
	if errors.Is(err, db.ErrBadCursor) {
		return invalid("before", "before is not a message of room %q", key)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toHistoryJSON(msgs, more))
}

// historyJSON is a page of a room's history: newest first, next_before while there is more.
type historyJSON struct {
	Messages   []messageJSON `json:"messages"`
	NextBefore string        `json:"next_before,omitempty"`
}

func toHistoryJSON(msgs []db.Message, more bool) historyJSON {
	out := historyJSON{Messages: make([]messageJSON, len(msgs))}
	for i, m := range msgs {
		out.Messages[i] = toMessageJSON(m)
	}
	if more {
		out.NextBefore = msgs[len(msgs)-1].ID
	}
	return out
}
