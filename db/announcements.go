package db

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// Announcement is a system-wide message to everyone or to some roles.
type Announcement struct {
	bun.BaseModel `bun:"table:system_announcements,alias:a"`
	ID            string    `bun:"id,pk"`
	Title         string    `bun:"title"`
	Message       string    `bun:"message"`
	Type          string    `bun:"type"`
	TargetRoles   []string  `bun:"target_roles"`
	StartsAt      time.Time `bun:"starts_at"`
	EndsAt        time.Time `bun:"ends_at,nullzero"`
	CreatedBy     string    `bun:"created_by"`
	CreatedAt     time.Time `bun:"created_at"`
	PublishedAt   time.Time `bun:"published_at,nullzero"`
}

// CreateAnnouncement stores an announcement. One that has started is published at once: its
// events (built from it as stored) are stored with it; a later one waits for
// PublishDueAnnouncements.
func (d *DB) CreateAnnouncement(ctx context.Context, a Announcement, events func(Announcement) ([]Event, error)) (Announcement, []Appended, error) {
	a.ID, a.CreatedAt = newID(), now()
	if a.TargetRoles == nil {
		a.TargetRoles = []string{}
	}
	if a.StartsAt.IsZero() || !a.StartsAt.After(a.CreatedAt) {
		a.StartsAt = a.StartsAt.UTC()
		if a.StartsAt.IsZero() {
			a.StartsAt = a.CreatedAt
		}
		a.PublishedAt = a.CreatedAt
	}
	var evs []Appended
	err := d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewInsert().Model(&a).Exec(ctx); err != nil {
			return mapErr(err)
		}
		if a.PublishedAt.IsZero() {
			return nil
		}
		list, err := events(a)
		if err != nil {
			return err
		}
		evs, err = d.appendEvents(ctx, tx, list)
		return err
	})
	return a, evs, mapErr(err)
}

// PublishDueAnnouncements publishes announcements whose start has come: each is marked
// published, once, with its events, even when several nodes run this at the same time. It
// returns the events of the transactions that committed, also when a later one failed; one
// whose end has passed already is marked published with no events.
func (d *DB) PublishDueAnnouncements(ctx context.Context, events func(Announcement) ([]Event, error)) ([]Appended, error) {
	var due []Announcement
	if err := d.bun.NewSelect().Model(&due).Where("published_at IS NULL AND starts_at <= ?", now()).
		OrderExpr("starts_at").Limit(100).Scan(ctx); err != nil {
		return nil, mapErr(err)
	}
	var out []Appended
	for _, a := range due {
		var evs []Appended // only once committed: an event that was never stored must not go out
		err := d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			t := now()
			res, err := tx.NewUpdate().Model((*Announcement)(nil)).Set("published_at = ?", t).
				Where("id = ? AND published_at IS NULL", a.ID).Exec(ctx)
			if err != nil {
				return mapErr(err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil // another node published it
			}
			if !a.EndsAt.IsZero() && !a.EndsAt.After(t) {
				return nil // over before it could start
			}
			list, err := events(a)
			if err != nil {
				return err
			}
			evs, err = d.appendEvents(ctx, tx, list)
			return err
		})
		if err != nil {
			return out, mapErr(err)
		}
		out = append(out, evs...)
	}
	return out, nil
}

// ActiveAnnouncements returns the announcements running now, newest first.
func (d *DB) ActiveAnnouncements(ctx context.Context) ([]Announcement, error) {
	var out []Announcement
	t := now()
	err := d.bun.NewSelect().Model(&out).Where("starts_at <= ?", t).Where("(ends_at IS NULL OR ends_at > ?)", t).
		OrderExpr("starts_at DESC").Limit(200).Scan(ctx)
	return out, mapErr(err)
}
