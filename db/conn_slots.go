package db

import (
	"context"
	"errors"
	"time"

	"github.com/uptrace/bun"
)

// ErrConnLimit is ReserveConnSlot's answer when the user holds the most connections it may.
var ErrConnLimit = errors.New("db: the user holds the most connections it may")

// connSlot is a live connection of a cluster, as counted against its user's cap.
type connSlot struct {
	bun.BaseModel `bun:"table:connection_slots"`
	ConnectionID  string    `bun:"connection_id,pk"`
	UserID        string    `bun:"user_id"`
	NodeID        string    `bun:"node_id"`
	ReservedAt    time.Time `bun:"reserved_at"`
	SeenAt        time.Time `bun:"seen_at"`
}

// connSlotLock is the first key of the advisory locks that serialize one user's reservations
// (the second is a hash of the user id).
const connSlotLock = 7461627

// ReserveConnSlot records connID as a live connection of userID on this node unless userID
// already holds max others across the cluster: ErrConnLimit then. Reservations of one user
// are serialized by a transaction-scoped advisory lock, so concurrent connects on any number
// of nodes never exceed max. Reserving an id again (a long-poll connection resuming on
// another node) moves it here and counts it once. PostgreSQL only: on SQLite, one node alone,
// it records nothing.
func (d *DB) ReserveConnSlot(ctx context.Context, userID, connID string, max int) error {
	if d.kind != Postgres {
		return nil
	}
	return mapErr(d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(?, hashtext(?))", connSlotLock, userID); err != nil {
			return err
		}
		held, err := tx.NewSelect().Model((*connSlot)(nil)).
			Where("user_id = ? AND connection_id <> ?", userID, connID).Count(ctx)
		if err != nil {
			return err
		}
		if held >= int64(max) {
			return ErrConnLimit
		}
		t := now()
		_, err = tx.NewInsert().Model(&connSlot{ConnectionID: connID, UserID: userID, NodeID: d.nodeID, ReservedAt: t, SeenAt: t}).
			On("CONFLICT (connection_id) DO UPDATE").
			Set("user_id = EXCLUDED.user_id, node_id = EXCLUDED.node_id, reserved_at = EXCLUDED.reserved_at, seen_at = EXCLUDED.seen_at").
			Exec(ctx)
		return err
	}))
}

// ReleaseConnSlot forgets a connection of this node that ended. (A long-poll connection that
// resumed on another node keeps its slot there.)
func (d *DB) ReleaseConnSlot(ctx context.Context, connID string) error {
	if d.kind != Postgres {
		return nil
	}
	_, err := d.bun.NewDelete().Model((*connSlot)(nil)).Where("connection_id = ? AND node_id = ?", connID, d.nodeID).Exec(ctx)
	return mapErr(err)
}

// KeepConnSlots keeps the cluster's slots true, as every node does every stale/4 or so: it
// forgets this node's slots of connections that are not live (ended without a release: a
// long-poll that nobody polled) and were reserved more than a minute ago (a connect in flight
// is not registered yet); it marks the rest as still live; and it forgets the slots of nodes
// that have not done so for stale — a node that died, with everything on it.
func (d *DB) KeepConnSlots(ctx context.Context, stale time.Duration, live func(connID string) bool) error {
	if d.kind != Postgres {
		return nil
	}
	t := now()
	var mine []connSlot
	if err := d.bun.NewSelect().Model(&mine).Column("connection_id", "reserved_at").Where("node_id = ?", d.nodeID).Scan(ctx); err != nil {
		return mapErr(err)
	}
	var dead []string
	for _, sl := range mine {
		if sl.ReservedAt.Before(t.Add(-time.Minute)) && !live(sl.ConnectionID) {
			dead = append(dead, sl.ConnectionID)
		}
	}
	for len(dead) > 0 {
		n := min(len(dead), 1000)
		if _, err := d.bun.NewDelete().Model((*connSlot)(nil)).
			Where("node_id = ? AND connection_id IN (?)", d.nodeID, bun.In(dead[:n])).Exec(ctx); err != nil {
			return mapErr(err)
		}
		dead = dead[n:]
	}
	if _, err := d.bun.NewUpdate().Model((*connSlot)(nil)).Set("seen_at = ?", t).Where("node_id = ?", d.nodeID).Exec(ctx); err != nil {
		return mapErr(err)
	}
	_, err := d.bun.NewDelete().Model((*connSlot)(nil)).Where("seen_at < ?", t.Add(-stale)).Exec(ctx)
	return mapErr(err)
}
