package db

import (
	"context"
	"encoding/json"
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
