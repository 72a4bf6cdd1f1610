package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"
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
	limit, err := pageLimit(c, defaultListedConns, maxListedConns)
	if err != nil {
		return err
	}
	user, room := c.QueryParam("user"), c.QueryParam("room")
	out := s.localConns(user, room)
	for _, rep := range s.ask(c.Request().Context(), controlRequest{Op: "list", User: user, Room: room}, nil) {
		out = append(out, rep.Conns...)
	}
	slices.SortFunc(out, func(a, b realtime.Info) int { return b.ConnectedAt.Compare(a.ConnectedAt.Time) })
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

// handleKick serves DELETE /api/admin/users/:user/connections {reason?, block_seconds?}: every
// connection of the user, on every node, gets kicked with the reason and closes; clients must
// not reconnect by themselves. For block_seconds (default 300; 0: none) the user's new streams
// and REST writes are refused.
func (s *Server) handleKick(c echo.Context) error {
	var body struct {
		Reason       string `json:"reason"`
		BlockSeconds *int   `json:"block_seconds"`
	}
	if c.Request().ContentLength != 0 {
		if err := bindJSON(c, &body); err != nil {
			return err
		}
	}
	block := defaultKickBlock
	if body.BlockSeconds != nil {
		if *body.BlockSeconds < 0 || time.Duration(*body.BlockSeconds)*time.Second > maxKickBlock {
			return invalid("block_seconds", "block_seconds must be from 0 to %d", int(maxKickBlock.Seconds()))
		}
		block = time.Duration(*body.BlockSeconds) * time.Second
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
	req := controlRequest{Op: "kick", User: userID, Reason: reason}
	if block > 0 {
		req.Until = time.Now().Add(block)
	}
	n := s.kickLocal(req)
	for _, rep := range s.ask(c.Request().Context(), req, nil) {
		n += rep.Count
	}
	s.audit(c.Request().Context(), principal(c).ID, "kick", userID,
		map[string]any{"reason": reason, "connections": n, "block_seconds": int(block.Seconds())})
	out := map[string]any{"user_id": userID, "kicked": n}
	if block > 0 {
		out["blocked_until"] = wireTime(req.Until)
	}
	return c.JSON(http.StatusOK, out)
}

// kickLocal blocks the user of a kick request (when it says until when) and kicks its
// connections on this node. The block comes first, so that no new stream slips in between.
func (s *Server) kickLocal(req controlRequest) int {
	if !req.Until.IsZero() {
		s.blocks.block(req.User, req.Until)
	}
	return s.hub.Kick(req.User, req.Reason)
}

// handleAdminStats serves GET /api/admin/stats: what this node's hub holds and does, and
// what the database holds. rooms_live counts rooms with a live subscriber on this node (rooms,
// its older name, counts the same); rooms_total counts the rooms that exist (not archived);
// nodes is how many nodes the cluster has, this one included.
func (s *Server) handleAdminStats(c echo.Context) error {
	st := s.hub.Stats()
	ctx := c.Request().Context()
	pending, err := s.db.PendingEscalations(ctx)
	if err != nil {
		return err
	}
	rooms, err := s.db.CountRooms(ctx)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{
		"connections": st.Connections, "by_transport": st.ByTransport, "rooms": st.Rooms, "rooms_live": st.Rooms,
		"rooms_total": rooms, "topics": st.Topics, "subscriptions": st.Subscriptions, "nodes": s.hub.NodeCount() + 1,
		"events_per_second": st.EventsPerSecond, "published_total": st.Published, "delivered_total": st.Delivered,
		"escalations_pending": pending, "at": wireTime(time.Now()),
	})
}
