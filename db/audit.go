package db

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// AuditEntry records an administrative action: who did what to whom, and when.
type AuditEntry struct {
	bun.BaseModel `bun:"table:admin_audit,alias:aa"`
	ID            string         `bun:"id,pk"`
	Actor         string         `bun:"actor"`
	Action        string         `bun:"action"`
	Target        string         `bun:"target"`
	Details       map[string]any `bun:"details"`
	CreatedAt     time.Time      `bun:"created_at"`
}

// Audit records an administrative action.
func (d *DB) Audit(ctx context.Context, e AuditEntry) error {
	e.ID, e.CreatedAt = newID(), now()
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	_, err := d.bun.NewInsert().Model(&e).Exec(ctx)
	return mapErr(err)
}

// AuditLog returns up to limit entries, newest first, older than the entry with id before.
func (d *DB) AuditLog(ctx context.Context, before string, limit int) ([]AuditEntry, bool, error) {
	var out []AuditEntry
	q := d.bun.NewSelect().Model(&out)
	if before != "" {
		q = q.Where("id < ?", before)
	}
	if err := q.OrderExpr("id DESC").Limit(int64(limit + 1)).Scan(ctx); err != nil {
		return nil, false, mapErr(err)
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}
