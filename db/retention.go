package db

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// Retention bounds the event log: events older than MaxAge, and all but the newest MaxEvents
// of each topic, are deleted. A cursor that points before what remains gets a reset.
type Retention struct {
	MaxAge    time.Duration // default 24 h
	MaxEvents int           // per topic; default 10,000
}

func (r *Retention) setDefaults() {
	if r.MaxAge <= 0 {
		r.MaxAge = 24 * time.Hour
	}
	if r.MaxEvents <= 0 {
		r.MaxEvents = 10_000
	}
}

// trimBatch bounds how many topics one Trim pass rewrites per step.
const trimBatch = 500

// Trim deletes what the retention policy no longer covers and records, per topic, the highest
// offset deleted. It returns how many events it deleted.
func (d *DB) Trim(ctx context.Context, r Retention) (int64, error) {
	r.setDefaults()
	// Per-topic targets: the larger of the count bound and the age bound.
	type target struct {
		TopicID int64  `bun:"topic_id"`
		Upto    uint64 `bun:"upto"`
	}
	var byCount, byAge []target
	if err := d.bun.NewRaw(`SELECT id AS topic_id, head - ? AS upto FROM topics WHERE head - trimmed_to > ? LIMIT ?`,
		r.MaxEvents, r.MaxEvents, trimBatch).Scan(ctx, &byCount); err != nil {
		return 0, mapErr(err)
	}
	if err := d.bun.NewRaw(`SELECT topic_id, max(seq) AS upto FROM event_log WHERE created_at < ? GROUP BY topic_id LIMIT ?`,
		now().Add(-r.MaxAge), trimBatch).Scan(ctx, &byAge); err != nil {
		return 0, mapErr(err)
	}
	targets := make(map[int64]uint64, len(byCount)+len(byAge))
	for _, t := range append(byCount, byAge...) {
		targets[t.TopicID] = max(targets[t.TopicID], t.Upto)
	}
	var deleted int64
	for id, upto := range targets {
		err := d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			// Raise the mark first: a reader that sees the old mark but misses deleted events
			// notices the hole itself.
			if _, err := tx.NewRaw("UPDATE topics SET trimmed_to = ? WHERE id = ? AND trimmed_to < ?", upto, id, upto).Exec(ctx); err != nil {
				return err
			}
			res, err := tx.NewRaw("DELETE FROM event_log WHERE topic_id = ? AND seq <= ?", id, upto).Exec(ctx)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			deleted += n
			return nil
		})
		if err != nil {
			return deleted, mapErr(err)
		}
	}
	return deleted, nil
}

// RunRetention trims the log every interval until ctx ends.
func (d *DB) RunRetention(ctx context.Context, r Retention, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := d.Trim(ctx, r); err != nil && ctx.Err() == nil {
			d.log.Warn("trimming the event log", "err", err)
		} else if n > 0 {
			d.log.Debug("trimmed the event log", "events", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
