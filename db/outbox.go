package db

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/uptrace/bun"
)

// Escalation is a pending delivery of a notification to the webhook.
type Escalation struct {
	bun.BaseModel  `bun:"table:notification_outbox,alias:o"`
	ID             string    `bun:"id,pk"`
	NotificationID string    `bun:"notification_id"`
	Payload        string    `bun:"payload"` // the JSON body to deliver
	Status         string    `bun:"status"`
	Attempts       int       `bun:"attempts"`
	NextAttemptAt  time.Time `bun:"next_attempt_at"`
	LockedUntil    time.Time `bun:"locked_until,nullzero"`
	LastError      string    `bun:"last_error,nullzero"`
	CreatedAt      time.Time `bun:"created_at"`
	DeliveredAt    time.Time `bun:"delivered_at,nullzero"`
}

func enqueueEscalation(ctx context.Context, tx bun.IDB, n Notification) error {
	id := newID()
	payload, err := json.Marshal(map[string]any{"id": id, "notification": n})
	if err != nil {
		return err
	}
	e := Escalation{ID: id, NotificationID: n.ID, Payload: string(payload), Status: "pending",
		NextAttemptAt: n.CreatedAt, CreatedAt: n.CreatedAt}
	_, err = tx.NewInsert().Model(&e).Exec(ctx)
	return mapErr(err)
}

// ClaimEscalations leases up to limit due escalations for lease: no other worker (on any node)
// takes them until the lease runs out or they are settled.
func (d *DB) ClaimEscalations(ctx context.Context, limit int, lease time.Duration) ([]Escalation, error) {
	t := now()
	var out []Escalation
	// The lease condition is repeated outside the subquery so that PostgreSQL re-checks it after
	// waiting for a concurrent claim's row lock, instead of claiming the same rows twice.
	err := d.bun.NewRaw(`UPDATE notification_outbox SET locked_until = ?
		WHERE id IN (SELECT id FROM notification_outbox
			WHERE status = 'pending' AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until < ?)
			ORDER BY next_attempt_at LIMIT ?)
		AND status = 'pending' AND (locked_until IS NULL OR locked_until < ?)
		RETURNING id, notification_id, payload, status, attempts, next_attempt_at, locked_until, last_error, created_at, delivered_at`,
		t.Add(lease), t, t, limit, t).Scan(ctx, &out)
	return out, mapErr(err)
}

// EscalationDelivered settles an escalation as delivered.
func (d *DB) EscalationDelivered(ctx context.Context, id string) error {
	_, err := d.bun.NewUpdate().Model((*Escalation)(nil)).
		Set("status = 'delivered'").Set("delivered_at = ?", now()).Set("attempts = attempts + 1").Set("locked_until = NULL").
		Where("id = ?", id).Exec(ctx)
	return mapErr(err)
}

// EscalationFailed records a failed attempt and when to try again.
func (d *DB) EscalationFailed(ctx context.Context, id string, next time.Time, reason string) error {
	if len(reason) > 500 {
		reason = reason[:500]
	}
	_, err := d.bun.NewUpdate().Model((*Escalation)(nil)).
		Set("attempts = attempts + 1").Set("next_attempt_at = ?", next.UTC()).Set("last_error = ?", reason).
		Set("locked_until = NULL").
		Where("id = ?", id).Exec(ctx)
	return mapErr(err)
}

// PendingEscalations counts escalations not yet delivered.
func (d *DB) PendingEscalations(ctx context.Context) (int, error) {
	n, err := d.bun.NewSelect().Model((*Escalation)(nil)).Where("status = 'pending'").Count(ctx)
	return int(n), mapErr(err)
}

// Why an escalation cannot be retried.
var (
	ErrEscalationDelivered = errors.New("escalation already delivered")
	ErrEscalationInFlight  = errors.New("escalation being delivered")
)

// EscalationInfo is an escalation as operators see it: with the user, title and priority of
// its notification.
type EscalationInfo struct {
	Escalation `bun:",extend"`
	UserID     string `bun:"user_id,scanonly"`
	Title      string `bun:"title,scanonly"`
	Priority   string `bun:"priority,scanonly"`
}

// InFlight reports whether a worker holds the escalation's lease at t: an attempt may be under way.
func (e Escalation) InFlight(t time.Time) bool {
	return e.Status == EscalationPending && !e.LockedUntil.IsZero() && e.LockedUntil.After(t)
}

// Escalation statuses.
const (
	EscalationPending   = "pending"
	EscalationDelivered = "delivered"
)

// EscalationFilter selects escalations: of one status ("" for any), older than the one with
// id Before, at most Limit.
type EscalationFilter struct {
	Status string
	Before string
	Limit  int
}

// ListEscalations returns escalations matching f, newest first, and whether there are more.
func (d *DB) ListEscalations(ctx context.Context, f EscalationFilter) ([]EscalationInfo, bool, error) {
	var out []EscalationInfo
	q := d.bun.NewSelect().Model(&out).ColumnExpr("o.*").
		ColumnExpr("n.user_id, n.title, n.priority").
		Join("JOIN notifications AS n ON n.id = o.notification_id")
	if f.Status != "" {
		q = q.Where("o.status = ?", f.Status)
	}
	if f.Before != "" {
		q = q.Where("o.id < ?", f.Before)
	}
	if err := q.OrderExpr("o.id DESC").Limit(int64(f.Limit + 1)).Scan(ctx); err != nil {
		return nil, false, mapErr(err)
	}
	if len(out) > f.Limit {
		return out[:f.Limit], true, nil
	}
	return out, false, nil
}

// RetryEscalation makes a pending escalation due now, whatever its backoff said, and returns
// it. It fails with ErrNotFound, ErrEscalationDelivered, or ErrEscalationInFlight while a worker
// holds it (its attempt is under way).
func (d *DB) RetryEscalation(ctx context.Context, id string) (Escalation, error) {
	t := now()
	var out []Escalation
	err := d.bun.NewRaw(`UPDATE notification_outbox SET next_attempt_at = ?
		WHERE id = ? AND status = 'pending' AND (locked_until IS NULL OR locked_until < ?)
		RETURNING id, notification_id, payload, status, attempts, next_attempt_at, locked_until, last_error, created_at, delivered_at`,
		t, id, t).Scan(ctx, &out)
	if err != nil {
		return Escalation{}, mapErr(err)
	}
	if len(out) == 1 {
		return out[0], nil
	}
	// Nothing changed: say why.
	var e Escalation
	if err := d.bun.NewSelect().Model(&e).Where("id = ?", id).Scan(ctx); err != nil {
		return Escalation{}, mapErr(err)
	}
	if e.Status != EscalationPending {
		return e, ErrEscalationDelivered
	}
	return e, ErrEscalationInFlight
}
