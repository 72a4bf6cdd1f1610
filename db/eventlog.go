package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uptrace/bun"
)

// Appended is a durable event as committed: its topic, its offset there, and its envelope.
type Appended struct {
	Topic    string
	TopicID  int64
	Offset   uint64
	Type     string
	Envelope []byte
	Audience []string
}

type logRow struct {
	bun.BaseModel `bun:"table:event_log"`
	TopicID       int64     `bun:"topic_id"`
	Seq           uint64    `bun:"seq"`
	Type          string    `bun:"type"`
	Envelope      string    `bun:"envelope"`
	Audience      string    `bun:"audience,nullzero"` // roles, comma-separated; NULL: everyone
	CreatedAt     time.Time `bun:"created_at"`
}

// reserve takes the next n offsets of a topic, creating the topic when it is new. The row lock
// this takes on the topic is held until the transaction ends, so concurrent writers to one
// topic commit in offset order. It returns the topic id and the first reserved offset.
func reserve(ctx context.Context, tx bun.IDB, topic string, n int) (int64, uint64, error) {
	for attempt := 0; attempt < 2; attempt++ {
		var id int64
		var head uint64
		err := tx.NewRaw("UPDATE topics SET head = head + ? WHERE name = ? RETURNING id, head", n, topic).
			Scan(ctx, &id, &head)
		if err == nil {
			return id, head - uint64(n) + 1, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, 0, mapErr(err)
		}
		if _, err := tx.NewRaw("INSERT INTO topics (name, head, trimmed_to, created_at) VALUES (?, 0, 0, ?) ON CONFLICT (name) DO NOTHING",
			topic, now()).Exec(ctx); err != nil {
			return 0, 0, mapErr(err)
		}
	}
	return 0, 0, fmt.Errorf("db: topic %q vanished while reserving offsets", topic)
}

// Event is a durable event to store together with a change, in the change's transaction.
type Event struct {
	Topic    string
	Type     string
	Envelope []byte
	Audience []string // roles that may see it; empty: every subscriber of Topic
}

// appendEvents stores events within tx and returns them with their offsets, in input order.
// Topics are locked in name order, so that transactions touching several topics cannot
// deadlock one another.
func (d *DB) appendEvents(ctx context.Context, tx bun.IDB, events []Event) ([]Appended, error) {
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(events[a].Topic, events[b].Topic) })
	out := make([]Appended, len(events))
	for start := 0; start < len(order); {
		topic := events[order[start]].Topic
		end := start
		for end < len(order) && events[order[end]].Topic == topic {
			end++
		}
		id, first, err := reserve(ctx, tx, topic, end-start)
		if err != nil {
			return nil, err
		}
		at := now()
		rows := make([]logRow, 0, end-start)
		for k, i := range order[start:end] {
			ev := events[i]
			off := first + uint64(k)
			rows = append(rows, logRow{TopicID: id, Seq: off, Type: ev.Type, Envelope: string(ev.Envelope),
				Audience: strings.Join(ev.Audience, ","), CreatedAt: at})
			out[i] = Appended{Topic: topic, TopicID: id, Offset: off, Type: ev.Type, Envelope: ev.Envelope, Audience: ev.Audience}
		}
		if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
			return nil, mapErr(err)
		}
		start = end
	}
	return out, d.notifyEvents(ctx, tx, out)
}

// Append stores durable events of their own (not tied to another change) and returns them.
func (d *DB) Append(ctx context.Context, events ...Event) ([]Appended, error) {
	var out []Appended
	err := d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		out, err = d.appendEvents(ctx, tx, events)
		return err
	})
	return out, mapErr(err)
}

// inTx runs fn in a transaction and then stores events in it; it returns the stored events.
func (d *DB) inTx(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) error, events ...Event) ([]Appended, error) {
	var out []Appended
	err := d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := fn(ctx, tx); err != nil {
			return err
		}
		var err error
		out, err = d.appendEvents(ctx, tx, events)
		return err
	})
	return out, mapErr(err)
}

// LoadTopic returns the id and head of a topic, creating it when new. It satisfies
// realtime.Store.
func (d *DB) LoadTopic(ctx context.Context, name string) (int64, uint64, error) {
	var id int64
	var head uint64
	err := d.bun.NewRaw("SELECT id, head FROM topics WHERE name = ?", name).Scan(ctx, &id, &head)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := d.bun.NewRaw("INSERT INTO topics (name, head, trimmed_to, created_at) VALUES (?, 0, 0, ?) ON CONFLICT (name) DO NOTHING",
			name, now()).Exec(ctx); err != nil {
			return 0, 0, mapErr(err)
		}
		err = d.bun.NewRaw("SELECT id, head FROM topics WHERE name = ?", name).Scan(ctx, &id, &head)
	}
	return id, head, mapErr(err)
}

// ReadTopic calls fn for up to limit logged events of topic id after offset, in order, and
// returns the topic's head and trimmed offsets. It satisfies realtime.Store.
func (d *DB) ReadTopic(ctx context.Context, id int64, after uint64, limit int,
	fn func(offset uint64, typ string, payload []byte, audience string)) (head, trimmed uint64, err error) {
	err = d.bun.NewRaw("SELECT head, trimmed_to FROM topics WHERE id = ?", id).Scan(ctx, &head, &trimmed)
	if err != nil {
		return 0, 0, mapErr(err)
	}
	if after >= head || limit <= 0 {
		return head, trimmed, nil
	}
	rows, err := d.bun.QueryContext(ctx,
		"SELECT seq, type, envelope, COALESCE(audience, '') FROM event_log WHERE topic_id = ? AND seq > ? ORDER BY seq LIMIT ?", id, after, limit)
	if err != nil {
		return 0, 0, mapErr(err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			seq      uint64
			typ      string
			env      string
			audience string
		)
		if err := rows.Scan(&seq, &typ, &env, &audience); err != nil {
			return 0, 0, mapErr(err)
		}
		fn(seq, typ, []byte(env), audience)
	}
	return head, trimmed, mapErr(rows.Err())
}

// TopicNames maps topic ids to names; unknown ids are absent. It satisfies realtime.Store.
func (d *DB) TopicNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID   int64  `bun:"id"`
		Name string `bun:"name"`
	}
	if err := d.bun.NewRaw("SELECT id, name FROM topics WHERE id IN (?)", bun.List(ids)).Scan(ctx, &rows); err != nil {
		return nil, mapErr(err)
	}
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, nil
}
