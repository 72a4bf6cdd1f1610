package api

import (
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"switchboard/db"
)

// Audit log filters.
var auditAction = regexp.MustCompile(`^[a-z][a-z0-9_.]{0,63}$`)

const maxAuditFilterChars = 255

// auditEntryJSON is an entry of the audit log on the wire.
type auditEntryJSON struct {
	ID        string         `json:"id"`
	Actor     string         `json:"actor"`
	Action    string         `json:"action"`
	Target    string         `json:"target"`
	Details   map[string]any `json:"details"`
	CreatedAt string         `json:"created_at"`
}

// handleAuditLog serves GET /api/admin/audit?action=&actor=&target=&since=&until=&limit=50&before=<id>:
// administrative actions, newest first. action, actor and target match exactly; since (inclusive)
// and until (exclusive) are RFC 3339 times. next_before, when present, fetches the page after
// this one with the same filters.
func (s *Server) handleAuditLog(c echo.Context) error {
	f, err := auditFilter(c)
	if err != nil {
		return err
	}
	entries, more, err := s.db.AuditLog(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Entries    []auditEntryJSON `json:"entries"`
		NextBefore string           `json:"next_before,omitempty"`
	}{Entries: make([]auditEntryJSON, len(entries))}
	for i, e := range entries {
		out.Entries[i] = auditEntryJSON{e.ID, e.Actor, e.Action, e.Target, e.Details, wireTime(e.CreatedAt)}
	}
	if more {
		out.NextBefore = entries[len(entries)-1].ID
	}
	return c.JSON(http.StatusOK, out)
}

// auditFilter reads the audit log's query parameters; a bad one is a validation error naming it.
func auditFilter(c echo.Context) (db.AuditFilter, error) {
	var (
		f   db.AuditFilter
		err error
	)
	if f.Limit, err = pageLimit(c, defaultAuditPage, maxAuditPage); err != nil {
		return f, err
	}
	if f.Before, err = pageBefore(c); err != nil {
		return f, err
	}
	f.Action = strings.TrimSpace(c.QueryParam("action"))
	if f.Action != "" && !auditAction.MatchString(f.Action) {
		return f, invalid("action", "action must be an action's name, such as kick, notify, announce or publish")
	}
	for _, p := range []struct {
		field string
		v     *string
	}{{"actor", &f.Actor}, {"target", &f.Target}} {
		*p.v = strings.TrimSpace(c.QueryParam(p.field))
		if len(*p.v) > maxAuditFilterChars || !utf8.ValidString(*p.v) || strings.ContainsRune(*p.v, 0) {
			return f, invalid(p.field, "%s must be at most %d bytes of UTF-8 text without NUL", p.field, maxAuditFilterChars)
		}
	}
	if f.Since, err = parseTime("since", c.QueryParam("since")); err != nil {
		return f, err
	}
	if f.Until, err = parseTime("until", c.QueryParam("until")); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return f, invalid("until", "until must be later than since")
	}
	return f, nil
}
