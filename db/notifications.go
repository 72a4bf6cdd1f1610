package db

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// Notification is a message to one user, shown with an unread badge.
type Notification struct {
	bun.BaseModel `bun:"table:notifications,alias:n"`
	ID            string         `bun:"id,pk"`
	UserID        string         `bun:"user_id"`
	Type          string         `bun:"type"`
	Title         string         `bun:"title"`
	Message       string         `bun:"message"`
	Data          map[string]any `bun:"data"`
	ActionURL     string         `bun:"action_url,nullzero"`
	ActionText    string         `bun:"action_text,nullzero"`
	Priority      string         `bun:"priority"`
	ReadAt        time.Time      `bun:"read_at,nullzero"`
	ExpiresAt     time.Time      `bun:"expires_at,nullzero"`
	CreatedAt     time.Time      `bun:"created_at"`
}

// Escalates reports whether a notification of this priority also goes to the webhook outbox.
func (n Notification) Escalates() bool { return n.Priority == "high" || n.Priority == "critical" }

// CreateNotification stores a notification — and, for high and critical ones, its outbox entry
// for the webhook — with the events built from the notification as stored and the user's unread
// count with it, in one transaction.
func (d *DB) CreateNotification(ctx context.Context, n Notification, events func(n Notification, unread int) ([]Event, error)) (Notification, []Appended, error) {
	n.ID, n.CreatedAt = newID(), now()
	if n.Data == nil {
		n.Data = map[string]any{}
	}
	var evs []Appended
	err := d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := d.lockNotifications(ctx, tx, n.UserID); err != nil {
			return err
		}
		if _, err := tx.NewInsert().Model(&n).Exec(ctx); err != nil {
			return mapErr(err)
		}
		if n.Escalates() {
			if err := enqueueEscalation(ctx, tx, n); err != nil {
				return err
			}
		}
		unread, err := tx.NewSelect().Model((*Notification)(nil)).Where("user_id = ? AND read_at IS NULL", n.UserID).
			Where("(expires_at IS NULL OR expires_at > ?)", now()).Count(ctx)
		if err != nil {
			return mapErr(err)
		}
		list, err := events(n, int(unread))
		if err != nil {
			return err
		}
		evs, err = d.appendEvents(ctx, tx, list)
		return err
	})
	return n, evs, mapErr(err)
}

// NotificationQuery selects a page of one user's notifications, newest first.
type NotificationQuery struct {
	UserID     string
	Before     string // id of the last notification of the previous page
	UnreadOnly bool
	Limit      int
}

// Notifications returns a page of a user's notifications that have not expired, newest first,
// and whether more remain.
func (d *DB) Notifications(ctx context.Context, q NotificationQuery) ([]Notification, bool, error) {
	var out []Notification
	sel := d.bun.NewSelect().Model(&out).Where("user_id = ?", q.UserID).
		Where("(expires_at IS NULL OR expires_at > ?)", now())
	if q.UnreadOnly {
		sel = sel.Where("read_at IS NULL")
	}
	if q.Before != "" {
		sel = sel.Where("id < ?", q.Before)
	}
	if err := sel.OrderExpr("id DESC").Limit(int64(q.Limit + 1)).Scan(ctx); err != nil {
		return nil, false, mapErr(err)
	}
	if len(out) > q.Limit {
		return out[:q.Limit], true, nil
	}
	return out, false, nil
}

// UnreadNotifications counts a user's unread notifications that have not expired.
func (d *DB) UnreadNotifications(ctx context.Context, userID string) (int, error) {
	n, err := d.bun.NewSelect().Model((*Notification)(nil)).Where("user_id = ? AND read_at IS NULL", userID).
		Where("(expires_at IS NULL OR expires_at > ?)", now()).Count(ctx)
	return int(n), mapErr(err)
}

// MarkNotificationsRead marks a user's notifications read — the one with id, or all when id is
// empty — and stores the events built from the ids it changed and the unread count after.
// Nothing is stored when nothing changed; ErrNotFound when id is not the user's.
func (d *DB) MarkNotificationsRead(ctx context.Context, userID, id string,
	events func(ids []string, unread int) ([]Event, error)) (changed []string, unread int, evs []Appended, err error) {
	err = d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := d.lockNotifications(ctx, tx, userID); err != nil {
			return err
		}
		q := tx.NewSelect().Model((*Notification)(nil)).Column("id").Where("user_id = ? AND read_at IS NULL", userID).
			Where("(expires_at IS NULL OR expires_at > ?)", now())
		if id != "" {
			exists, err := tx.NewSelect().Model((*Notification)(nil)).Where("id = ? AND user_id = ?", id, userID).Exists(ctx)
			if err != nil {
				return mapErr(err)
			}
			if !exists {
				return ErrNotFound
			}
			q = q.Where("id = ?", id)
		}
		if err := q.Scan(ctx, &changed); err != nil {
			return mapErr(err)
		}
		if len(changed) > 0 {
			if _, err := tx.NewUpdate().Model((*Notification)(nil)).Set("read_at = ?", now()).
				Where("id IN (?)", bun.List(changed)).Exec(ctx); err != nil {
				return mapErr(err)
			}
		}
		n, err := tx.NewSelect().Model((*Notification)(nil)).Where("user_id = ? AND read_at IS NULL", userID).
			Where("(expires_at IS NULL OR expires_at > ?)", now()).Count(ctx)
		if err != nil {
			return mapErr(err)
		}
		unread = int(n)
		if len(changed) == 0 {
			return nil
		}
		list, err := events(changed, unread)
		if err != nil {
			return err
		}
		evs, err = d.appendEvents(ctx, tx, list)
		return err
	})
	return changed, unread, evs, mapErr(err)
}

// lockNotifications serialises, until tx ends, the transactions that change a user's unread
// count and announce it: each counts after the one before committed, so the count the last
// event carries is the user's. (SQLite's write transactions are exclusive already.)
func (d *DB) lockNotifications(ctx context.Context, tx bun.Tx, userID string) error {
	if d.kind != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", "switchboard.notifications:"+userID)
	return mapErr(err)
}
