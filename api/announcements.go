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

const maxTargets = 100

// announcementJSON is an announcement on the wire.
type announcementJSON struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Message     string   `json:"message"`
	Type        string   `json:"type"`
	TargetRoles []string `json:"target_roles"`
	StartsAt    string   `json:"starts_at"`
	EndsAt      string   `json:"ends_at,omitempty"`
	CreatedBy   string   `json:"created_by"`
	CreatedAt   string   `json:"created_at"`
}

func toAnnouncementJSON(a db.Announcement) announcementJSON {
	out := announcementJSON{ID: a.ID, Title: a.Title, Message: a.Message, Type: a.Type, TargetRoles: a.TargetRoles,
		StartsAt: wireTime(a.StartsAt), CreatedBy: a.CreatedBy, CreatedAt: wireTime(a.CreatedAt)}
	if out.TargetRoles == nil {
		out.TargetRoles = []string{}
	}
	if !a.EndsAt.IsZero() {
		out.EndsAt = wireTime(a.EndsAt)
	}
	return out
}

// announcementEvents is the system_announcement event of a: on "all", for the target roles.
func announcementEvents(a db.Announcement) ([]db.Event, error) {
	ev, err := newEvent(realtime.TopicAll, realtime.EventSystemAnnouncement, "", toAnnouncementJSON(a))
	ev.Audience = a.TargetRoles
	return []db.Event{ev}, err
}

// checkRoles validates role names as they appear in tokens and audiences.
func checkRoles(field string, roles []string) error {
	if len(roles) > maxTargets {
		return invalid(field, "at most %d roles", maxTargets)
	}
	for _, r := range roles {
		if len(r) > 64 || !validRoomKey(r) {
			return invalid(field, "roles must be 1–64 characters of letters, digits, '_', '.', ':' or '-'")
		}
	}
	return nil
}

// handleCreateAnnouncement serves POST /api/admin/announcements {title, message, type,
// target_roles?, starts_at?, ends_at?}: delivered as system_announcement to every connection
// whose user holds a target role (all when none), now or when it starts.
func (s *Server) handleCreateAnnouncement(c echo.Context) error {
	var body struct {
		Title       string   `json:"title"`
		Message     string   `json:"message"`
		Type        string   `json:"type"`
		TargetRoles []string `json:"target_roles"`
		StartsAt    string   `json:"starts_at"`
		EndsAt      string   `json:"ends_at"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	a := db.Announcement{Title: strings.TrimSpace(body.Title), Message: body.Message, Type: body.Type,
		TargetRoles: body.TargetRoles, CreatedBy: principal(c).ID}
	if a.Title == "" || utf8.RuneCountInString(a.Title) > maxTitleChars {
		return invalid("title", "title must be 1–%d characters", maxTitleChars)
	}
	if strings.TrimSpace(a.Message) == "" || utf8.RuneCountInString(a.Message) > maxMessageChars {
		return invalid("message", "message must be 1–%d characters", maxMessageChars)
	}
	switch a.Type {
	case "maintenance", "feature", "warning":
	default:
		return invalid("type", "type must be maintenance, feature or warning")
	}
	if err := checkRoles("target_roles", a.TargetRoles); err != nil {
		return err
	}
	var err error
	if a.StartsAt, err = parseTime("starts_at", body.StartsAt); err != nil {
		return err
	}
	if a.EndsAt, err = parseTime("ends_at", body.EndsAt); err != nil {
		return err
	}
	if !a.EndsAt.IsZero() && (!a.EndsAt.After(a.StartsAt) || !a.EndsAt.After(time.Now())) {
		return invalid("ends_at", "ends_at must be after starts_at (and after now)")
	}
	ctx := c.Request().Context()
	a, evs, err := s.db.CreateAnnouncement(ctx, a, announcementEvents)
	if err != nil {
		return err
	}
	s.publish(evs...)
	s.audit(ctx, principal(c).ID, "announce", strings.Join(a.TargetRoles, ","), map[string]any{"announcement_id": a.ID, "title": a.Title})
	return c.JSON(http.StatusCreated, toAnnouncementJSON(a))
}

// publishDueAnnouncements sends announcements whose start has come.
func (s *Server) publishDueAnnouncements(ctx context.Context) {
	evs, err := s.db.PublishDueAnnouncements(ctx, announcementEvents)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("publishing scheduled announcements", "err", err)
	}
	s.publish(evs...)
}

// handleActiveAnnouncements serves GET /api/announcements/active: the announcements running now
// that are meant for the caller, for clients that connect after they went out.
func (s *Server) handleActiveAnnouncements(c echo.Context) error {
	list, err := s.db.ActiveAnnouncements(c.Request().Context())
	if err != nil {
		return err
	}
	roles := principal(c).Roles
	out := []announcementJSON{}
	for _, a := range list {
		if len(a.TargetRoles) == 0 || slices.ContainsFunc(a.TargetRoles, func(r string) bool { return slices.Contains(roles, r) }) {
			out = append(out, toAnnouncementJSON(a))
		}
	}
	return c.JSON(http.StatusOK, map[string]any{"announcements": out})
}
