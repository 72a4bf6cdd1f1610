package db

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// Presence is a user's last known status.
type Presence struct {
	bun.BaseModel `bun:"table:user_presence,alias:up"`
	UserID        string    `bun:"user_id,pk"`
	Status        string    `bun:"status"`
	CurrentPage   string    `bun:"current_page,nullzero"`
	LastSeenAt    time.Time `bun:"last_seen_at"`
	UpdatedAt     time.Time `bun:"updated_at"`
}

// Presence statuses.
const (
	StatusOnline  = "online"
	StatusAway    = "away"
	StatusBusy    = "busy"
	StatusOffline = "offline"
)

// SetPresence records a user's status as of at. An older write never overwrites a newer one.
func (d *DB) SetPresence(ctx context.Context, p Presence) error {
	return setPresence(ctx, d.bun, p)
}

func setPresence(ctx context.Context, db bun.IDB, p Presence) error {
	p.LastSeenAt, p.UpdatedAt = p.LastSeenAt.UTC(), now()
	_, err := db.NewInsert().Model(&p).
		On("CONFLICT (user_id) DO UPDATE").
		Set("status = EXCLUDED.status").
		Set("current_page = EXCLUDED.current_page").
		Set("last_seen_at = EXCLUDED.last_seen_at").
		Set("updated_at = EXCLUDED.updated_at").
		Where("up.last_seen_at <= EXCLUDED.last_seen_at").
		Exec(ctx)
	return mapErr(err)
}

// PresenceOf returns the recorded presence of users; users never seen are absent.
func (d *DB) PresenceOf(ctx context.Context, userIDs []string) (map[string]Presence, error) {
	out := make(map[string]Presence, len(userIDs))
	if len(userIDs) == 0 {
		return out, nil
	}
	var rows []Presence
	if err := d.bun.NewSelect().Model(&rows).Where("user_id IN (?)", bun.List(userIDs)).Scan(ctx); err != nil {
		return nil, mapErr(err)
	}
	for _, p := range rows {
		out[p.UserID] = p
	}
	return out, nil
}
