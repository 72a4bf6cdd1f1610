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
	return setPresences(ctx, db, []Presence{p})
}

// setPresences records several users' statuses in one statement: the connections audit writes
// a burst of arrivals (thousands of users coming online) as one row each, not one query each.
// Of a user named twice, the newest entry stands (the later on a tie), as if each were written
// in turn: one statement may not update a row twice.
func setPresences(ctx context.Context, db bun.IDB, ps []Presence) error {
	at := now()
	rows := make([]Presence, 0, len(ps))
	last := make(map[string]int, len(ps))
	for _, p := range ps {
		p.LastSeenAt, p.UpdatedAt = p.LastSeenAt.UTC(), at
		if i, ok := last[p.UserID]; ok {
			if !p.LastSeenAt.Before(rows[i].LastSeenAt) {
				rows[i] = p
			}
			continue
		}
		last[p.UserID] = len(rows)
		rows = append(rows, p)
	}
	_, err := db.NewInsert().Model(&rows).
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
