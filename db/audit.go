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

// AuditFilter selects entries of the audit log. Zero fields select everything; Action, Actor
// and Target match exactly; Since is inclusive, Until exclusive.
type AuditFilter struct {
	Action, Actor, Target string
	Since, Until          time.Time
	Before                string // an entry's id: the page holds older entries only
	Limit                 int
}

// AuditLog returns up to f.Limit entries that match f, newest first, and whether there are more.
func (d *DB) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, bool, error) {
	var out []AuditEntry
	q := d.bun.NewSelect().Model(&out)
	for col, v := range map[string]string{"action": f.Action, "actor": f.Actor, "target": f.Target} {
		if v != "" {
			q = q.Where("? = ?", bun.Ident(col), v)
		}
	}
	if !f.Since.IsZero() {
		q = q.Where("created_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("created_at < ?", f.Until.UTC())
	}
	if f.Before != "" {
		q = q.Where("id < ?", f.Before)
	}
	// Ids are UUIDv7: their order is the order entries were recorded in.
	if err := q.OrderExpr("id DESC").Limit(int64(f.Limit + 1)).Scan(ctx); err != nil {
		return nil, false, mapErr(err)
	}
	if len(out) > f.Limit {
		return out[:f.Limit], true, nil
	}
	return out, false, nil
}
