package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/api/escalation"
	"switchboard/db"
)

// Escalation listing sizes.
const (
	defaultEscalationPage = 50
	maxEscalationPage     = 200
)

// escalationJSON is an escalation of a notification to the webhook, as operators see it.
type escalationJSON struct {
	ID             string `json:"id"`
	NotificationID string `json:"notification_id"`
	UserID         string `json:"user_id,omitempty"`
	Title          string `json:"title,omitempty"`
	Priority       string `json:"priority,omitempty"`
	Status         string `json:"status"`
	Attempts       int    `json:"attempts"`
	LastError      string `json:"last_error,omitempty"`
	// NextAttemptAt is when the next attempt is due (pending only).
	NextAttemptAt string `json:"next_attempt_at,omitempty"`
	InFlight      bool   `json:"in_flight"` // a worker holds it: an attempt may be under way
	CreatedAt     string `json:"created_at"`
	DeliveredAt   string `json:"delivered_at,omitempty"`
}

func toEscalationJSON(e db.EscalationInfo) escalationJSON {
	out := escalationJSON{ID: e.ID, NotificationID: e.NotificationID, UserID: e.UserID, Title: e.Title, Priority: e.Priority,
		Status: e.Status, Attempts: e.Attempts, LastError: e.LastError, InFlight: e.InFlight(time.Now()), CreatedAt: wireTime(e.CreatedAt)}
	if e.Status == db.EscalationPending {
		out.NextAttemptAt = wireTime(e.NextAttemptAt)
	}
	if !e.DeliveredAt.IsZero() {
		out.DeliveredAt = wireTime(e.DeliveredAt)
	}
	return out
}

// handleListEscalations serves GET /api/admin/escalations?status=pending|delivered|all&limit=50&before=<id>:
// escalated notifications and their delivery to the webhook, newest first (pending by
// default), with how many are pending and whether a webhook is configured at all.
func (s *Server) handleListEscalations(c echo.Context) error {
	limit, err := pageLimit(c, defaultEscalationPage, maxEscalationPage)
	if err != nil {
		return err
	}
	before, err := pageBefore(c)
	if err != nil {
		return err
	}
	status := c.QueryParam("status")
	switch status {
	case "":
		status = db.EscalationPending
	case db.EscalationPending, db.EscalationDelivered:
	case "all":
		status = ""
	default:
		return invalid("status", "status must be pending, delivered or all")
	}
	ctx := c.Request().Context()
	list, more, err := s.db.ListEscalations(ctx, db.EscalationFilter{Status: status, Before: before, Limit: limit})
	if err != nil {
		return err
	}
	pending, err := s.db.PendingEscalations(ctx)
	if err != nil {
		return err
	}
	out := struct {
		Escalations []escalationJSON `json:"escalations"`
		NextBefore  string           `json:"next_before,omitempty"`
		Pending     int              `json:"pending"`
		Webhook     bool             `json:"webhook_configured"`
	}{Escalations: make([]escalationJSON, len(list)), Pending: pending, Webhook: s.escalate.Delivering()}
	for i, e := range list {
		out.Escalations[i] = toEscalationJSON(e)
	}
	if more {
		out.NextBefore = list[len(list)-1].ID
	}
	return c.JSON(http.StatusOK, out)
}

// handleRetryEscalation serves POST /api/admin/escalations/:id/retry: a pending escalation is
// attempted again now instead of when its backoff says. 202 with the escalation, due now; the
// attempt follows within moments (the list shows its outcome). 404 for an unknown id, 409 when
// it is delivered already, is being attempted right now, or no webhook is configured.
func (s *Server) handleRetryEscalation(c echo.Context) error {
	id, err := escalationID(c.Param("id"))
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	esc, err := s.escalate.Retry(ctx, id)
	switch {
	case errors.Is(err, escalation.ErrNoWebhook):
		return conflict("webhook_not_configured", "escalations are not delivered on this server: no webhook is configured")
	case errors.Is(err, db.ErrNotFound):
		return notFound("escalation_not_found", "there is no escalation %s", id)
	case errors.Is(err, db.ErrEscalationDelivered):
		return conflict("escalation_delivered", "escalation %s was delivered at %s: there is nothing to retry", id, wireTime(esc.DeliveredAt))
	case errors.Is(err, db.ErrEscalationInFlight):
		return conflict("escalation_in_flight", "escalation %s is being delivered right now; look again in a moment", id)
	case err != nil:
		return err
	}
	s.audit(ctx, principal(c).ID, "escalation_retry", id, map[string]any{"notification_id": esc.NotificationID, "attempts": esc.Attempts})
	return c.JSON(http.StatusAccepted, toEscalationJSON(db.EscalationInfo{Escalation: esc}))
}

// escalationID parses an escalation's id; one that cannot be an id is a validation error.
func escalationID(raw string) (string, error) {
	id, err := messageID("id", raw)
	if err != nil {
		return "", invalid("id", "id must be the id of an escalation")
	}
	return id, nil
}
