package api

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"switchboard/db"
	"switchboard/realtime"
)

// audit records an administrative action; a failure to record it is logged, not returned: the
// action has happened.
func (s *Server) audit(ctx context.Context, actor, action, target string, details map[string]any) {
	if err := s.db.Audit(context.WithoutCancel(ctx), db.AuditEntry{Actor: actor, Action: action, Target: target, Details: details}); err != nil {
		s.log.Error("recording an admin action", "actor", actor, "action", action, "target", target, "err", err)
	}
}

// localConns lists this node's live connections, filtered by user and room.
func (s *Server) localConns(user, room string) []realtime.Info {
	out := []realtime.Info{}
	for _, conn := range s.hub.Conns() {
		info := conn.Info()
		if user != "" && info.UserID != user {
			continue
		}
		if room != "" && !slices.Contains(info.Rooms, room) {
			continue
		}
		out = append(out, info)
	}
	return out
}

// Admin listing sizes.
const (
	defaultListedConns = 500
	maxListedConns     = 10_000
)

// handleAdminConnections serves GET /api/admin/connections?user=&room=&limit=500: the live
// connections on every transport and every node of the cluster, the newest first, with the
// total count.
func (s *Server) handleAdminConnections(c echo.Context) error {
	limit := defaultListedConns
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxListedConns {
			return invalid("limit", "limit must be a whole number from 1 to %d", maxListedConns)
		}
		limit = n
	}
	user, room := c.QueryParam("user"), c.QueryParam("room")
	out := s.localConns(user, room)
	for _, rep := range s.ask(c.Request().Context(), controlRequest{Op: "list", User: user, Room: room}, nil) {
		out = append(out, rep.Conns...)
	}
	slices.SortFunc(out, func(a, b realtime.Info) int { return b.ConnectedAt.Compare(a.ConnectedAt) })
	total := len(out)
	return c.JSON(http.StatusOK, map[string]any{"connections": out[:min(limit, total)], "count": total})
}

// handleAdminNotify serves POST /api/admin/notifications {user_id, notification}.
func (s *Server) handleAdminNotify(c echo.Context) error {
	var body struct {
		UserID       string            `json:"user_id"`
		Notification notificationInput `json:"notification"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := checkUserID("user_id", body.UserID); err != nil {
		return err
	}
	n, err := body.Notification.check(body.UserID)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if n, err = s.notify(ctx, n); err != nil {
		return err
	}
	s.audit(ctx, principal(c).ID, "notify", n.UserID, map[string]any{"notification_id": n.ID, "title": n.Title, "priority": n.Priority})
	return c.JSON(http.StatusCreated, toNotificationJSON(n))
}

const maxReasonChars = 200

// handleKick serves DELETE /api/admin/users/:user/connections {reason?}: every connection of
// the user gets kicked with the reason and closes; clients must not reconnect by themselves.
func (s *Server) handleKick(c echo.Context) error {
	var body struct {
		Reason string `json:"reason"`
	}
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &body); err != nil {
			return err
		}
	}
	userID := c.Param("user")
	if err := checkUserID("user", userID); err != nil {
		return err
	}
	reason := strings.TrimSpace(body.Reason)
	if utf8.RuneCountInString(reason) > maxReasonChars {
		return invalid("reason", "reason must be at most %d characters", maxReasonChars)
	}
	if reason == "" {
		reason = "removed by an administrator"
	}
	n := s.hub.Kick(userID, reason)
	for _, rep := range s.ask(c.Request().Context(), controlRequest{Op: "kick", User: userID, Reason: reason}, nil) {
		n += rep.Count
	}
	s.audit(c.Request().Context(), principal(c).ID, "kick", userID, map[string]any{"reason": reason, "connections": n})
	return c.JSON(http.StatusOK, map[string]any{"user_id": userID, "kicked": n})
}

// handleAdminStats serves GET /api/admin/stats.
func (s *Server) handleAdminStats(c echo.Context) error {
	st := s.hub.Stats()
	pending, err := s.db.PendingEscalations(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"connections": st.Connections, "by_transport": st.ByTransport, "rooms": st.Rooms, "topics": st.Topics,
		"events_per_second": st.EventsPerSecond, "delivered_total": st.Delivered, "escalations_pending": pending,
	})
}

// handleAuditLog serves GET /api/admin/audit?limit=50&before=<id>: admin actions, newest first.
func (s *Server) handleAuditLog(c echo.Context) error {
	limit := 50
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > 200 {
			return invalid("limit", "limit must be a whole number from 1 to 200")
		}
		limit = n
	}
	before := c.QueryParam("before")
	if before != "" {
		var err error
		if before, err = messageID("before", before); err != nil {
			return err
		}
	}
	entries, more, err := s.db.AuditLog(c.Request().Context(), before, limit)
	if err != nil {
		return err
	}
	type entry struct {
		ID        string         `json:"id"`
		Actor     string         `json:"actor"`
		Action    string         `json:"action"`
		Target    string         `json:"target"`
		Details   map[string]any `json:"details"`
		CreatedAt string         `json:"created_at"`
	}
	out := struct {
		Entries    []entry `json:"entries"`
		NextBefore string  `json:"next_before,omitempty"`
	}{Entries: make([]entry, len(entries))}
	for i, e := range entries {
		out.Entries[i] = entry{e.ID, e.Actor, e.Action, e.Target, e.Details, wireTime(e.CreatedAt)}
	}
	if more {
		out.NextBefore = entries[len(entries)-1].ID
	}
	return c.JSON(http.StatusOK, out)
}
