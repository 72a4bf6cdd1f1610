package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"switchboard/db"
	"switchboard/realtime"
)

// Limits on notification fields.
const (
	maxTitleChars       = 200
	maxMessageChars     = 2000
	maxDataBytes        = 16 << 10
	maxActionURLLen     = 2000
	maxActionTextChars  = 100
	defaultNotifyLimit  = 20
	maxNotificationPage = 100
)

// notificationJSON is a notification on the wire.
type notificationJSON struct {
	ID         string         `json:"id"`
	UserID     string         `json:"user_id"`
	Type       string         `json:"type"`
	Title      string         `json:"title"`
	Message    string         `json:"message"`
	Data       map[string]any `json:"data"`
	ActionURL  string         `json:"action_url,omitempty"`
	ActionText string         `json:"action_text,omitempty"`
	Priority   string         `json:"priority"`
	Read       bool           `json:"read"`
	ReadAt     string         `json:"read_at,omitempty"`
	ExpiresAt  string         `json:"expires_at,omitempty"`
	CreatedAt  string         `json:"created_at"`
}

func toNotificationJSON(n db.Notification) notificationJSON {
	out := notificationJSON{ID: n.ID, UserID: n.UserID, Type: n.Type, Title: n.Title, Message: n.Message, Data: n.Data,
		ActionURL: n.ActionURL, ActionText: n.ActionText, Priority: n.Priority, Read: !n.ReadAt.IsZero(),
		CreatedAt: wireTime(n.CreatedAt)}
	if out.Read {
		out.ReadAt = wireTime(n.ReadAt)
	}
	if !n.ExpiresAt.IsZero() {
		out.ExpiresAt = wireTime(n.ExpiresAt)
	}
	return out
}

// notificationInput is a notification as an administrator sends it.
type notificationInput struct {
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Message    string          `json:"message"`
	Data       json.RawMessage `json:"data"`
	ActionURL  string          `json:"action_url"`
	ActionText string          `json:"action_text"`
	Priority   string          `json:"priority"`
	ExpiresAt  string          `json:"expires_at"`
}

// check validates the input and returns the notification it describes for userID. Field names
// in errors are those of the request body (under "notification.").
func (in notificationInput) check(userID string) (db.Notification, error) {
	n := db.Notification{UserID: userID, Type: in.Type, Title: strings.TrimSpace(in.Title), Message: in.Message,
		ActionURL: in.ActionURL, ActionText: in.ActionText, Priority: in.Priority}
	if n.Type == "" {
		n.Type = "info"
	}
	switch n.Type {
	case "info", "warning", "error", "success":
	default:
		return n, invalid("notification.type", "type must be info, warning, error or success")
	}
	if n.Priority == "" {
		n.Priority = "medium"
	}
	switch n.Priority {
	case "low", "medium", "high", "critical":
	default:
		return n, invalid("notification.priority", "priority must be low, medium, high or critical")
	}
	if n.Title == "" || utf8.RuneCountInString(n.Title) > maxTitleChars {
		return n, invalid("notification.title", "title must be 1–%d characters", maxTitleChars)
	}
	if utf8.RuneCountInString(n.Message) > maxMessageChars {
		return n, invalid("notification.message", "message must be at most %d characters", maxMessageChars)
	}
	if len(in.Data) > 0 && string(in.Data) != "null" {
		if len(in.Data) > maxDataBytes {
			return n, invalid("notification.data", "data must be at most %d bytes of JSON", maxDataBytes)
		}
		if err := json.Unmarshal(in.Data, &n.Data); err != nil {
			return n, invalid("notification.data", "data must be a JSON object")
		}
	}
	if n.ActionURL != "" {
		u, err := url.Parse(n.ActionURL)
		relative := u != nil && u.Scheme == "" && u.Host == "" && strings.HasPrefix(n.ActionURL, "/") &&
			!strings.HasPrefix(n.ActionURL, "//") && !strings.HasPrefix(n.ActionURL, "/\\")
		absolute := u != nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
		if err != nil || len(n.ActionURL) > maxActionURLLen || !(relative || absolute) {
			return n, invalid("notification.action_url", "action_url must be an http(s) URL or a path starting with /")
		}
	}
	if utf8.RuneCountInString(n.ActionText) > maxActionTextChars {
		return n, invalid("notification.action_text", "action_text must be at most %d characters", maxActionTextChars)
	}
	expires, err := parseTime("notification.expires_at", in.ExpiresAt)
	if err != nil {
		return n, err
	}
	if !expires.IsZero() && !expires.After(time.Now()) {
		return n, invalid("notification.expires_at", "expires_at is in the past")
	}
	n.ExpiresAt = expires
	return n, nil
}

// notify stores a notification and pushes it to the user's connections as a notification
// event; high and critical ones also go to the escalation webhook.
func (s *Server) notify(ctx context.Context, n db.Notification) (db.Notification, error) {
	n, evs, err := s.db.CreateNotification(ctx, n, func(n db.Notification, unread int) ([]db.Event, error) {
		data := struct {
			notificationJSON
			Unread int `json:"unread_count"` // the user's count with this one: every tab's badge agrees
		}{toNotificationJSON(n), unread}
		ev, err := newEvent(realtime.UserTopic(n.UserID), realtime.EventNotification, "", data)
		return []db.Event{ev}, err
	})
	if err != nil {
		return n, err
	}
	s.publish(evs...)
	if n.Escalates() {
		s.escalate.Wake()
	}
	return n, nil
}

// handleListNotifications serves GET /api/notifications?limit=20&cursor=…&unread=true: the
// caller's notifications that have not expired, newest first.
func (s *Server) handleListNotifications(c echo.Context) error {
	q := db.NotificationQuery{UserID: principal(c).ID}
	var err error
	if q.Limit, err = pageLimit(c, defaultNotifyLimit, maxNotificationPage); err != nil {
		return err
	}
	if raw := c.QueryParam("cursor"); raw != "" {
		id, err := messageID("cursor", raw)
		if err != nil {
			return invalid("cursor", "cursor must be the next_cursor of a previous page")
		}
		q.Before = id
	}
	switch c.QueryParam("unread") {
	case "", "false", "0":
	case "true", "1":
		q.UnreadOnly = true
	default:
		return invalid("unread", "unread must be true or false")
	}
	ctx := c.Request().Context()
	list, more, err := s.db.Notifications(ctx, q)
	if err != nil {
		return err
	}
	unread, err := s.db.UnreadNotifications(ctx, q.UserID)
	if err != nil {
		return err
	}
	out := struct {
		Notifications []notificationJSON `json:"notifications"`
		NextCursor    string             `json:"next_cursor,omitempty"`
		Unread        int                `json:"unread_count"`
	}{Notifications: make([]notificationJSON, len(list)), Unread: unread}
	for i, n := range list {
		out.Notifications[i] = toNotificationJSON(n)
	}
	if more {
		out.NextCursor = list[len(list)-1].ID
	}
	return c.JSON(http.StatusOK, out)
}

// handleUnreadCount serves GET /api/notifications/unread-count.
func (s *Server) handleUnreadCount(c echo.Context) error {
	n, err := s.db.UnreadNotifications(c.Request().Context(), principal(c).ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"unread_count": n})
}

// markRead marks the caller's notification id read, or all of them when id is empty, and
// tells the caller's other connections (notification_read) so every badge agrees.
func (s *Server) markRead(c echo.Context, id string) error {
	p := principal(c)
	changed, unread, evs, err := s.db.MarkNotificationsRead(c.Request().Context(), p.ID, id,
		func(ids []string, unread int) ([]db.Event, error) {
			ev, err := newEvent(realtime.UserTopic(p.ID), realtime.EventNotificationRead, "",
				map[string]any{"ids": ids, "all": id == "", "unread_count": unread})
			return []db.Event{ev}, err
		})
	if errors.Is(err, db.ErrNotFound) {
		return notFound("notification_not_found", "no notification %s", id)
	}
	if err != nil {
		return err
	}
	s.publish(evs...)
	return c.JSON(http.StatusOK, map[string]any{"marked": len(changed), "unread_count": unread})
}

// handleMarkNotificationRead serves PATCH /api/notifications/:id/read.
func (s *Server) handleMarkNotificationRead(c echo.Context) error {
	id, err := messageID("id", c.Param("id"))
	if err != nil {
		return notFound("notification_not_found", "no notification %s", quote(c.Param("id")))
	}
	return s.markRead(c, id)
}

// handleMarkAllNotificationsRead serves PATCH /api/notifications/mark-all-read.
func (s *Server) handleMarkAllNotificationsRead(c echo.Context) error { return s.markRead(c, "") }
