package db

import (
	"context"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// ConnRecord is one row of the connections audit: a connection's arrival or departure.
type ConnRecord struct {
	bun.BaseModel  `bun:"table:connections"`
	ID             string    `bun:"id,pk"`
	ConnectionID   string    `bun:"connection_id"`
	UserID         string    `bun:"user_id"`
	Transport      string    `bun:"transport"`
	NodeID         string    `bun:"node_id"`
	RemoteAddr     string    `bun:"remote_addr"`
	UserAgent      string    `bun:"user_agent"`
	ConnectedAt    time.Time `bun:"connected_at"`
	DisconnectedAt time.Time `bun:"disconnected_at,nullzero"`
	CloseReason    string    `bun:"close_reason,nullzero"`
}

// RecordConnect queues the audit row of a new connection. It never blocks: the row is written
// in a batch within a second, or dropped (and counted in the log) if the writer is far behind.
func (d *DB) RecordConnect(r ConnRecord) {
	r.ID, r.NodeID = newID(), d.nodeID
	r.ConnectedAt = r.ConnectedAt.UTC()
	d.audit.queue(auditOp{row: r})
}

// RecordPresence queues a presence change; like the audit, it never blocks.
func (d *DB) RecordPresence(p Presence) {
	d.audit.queue(auditOp{presence: &p})
}

// RecordDisconnect queues the end of a connection in the audit.
func (d *DB) RecordDisconnect(connectionID string, at time.Time, reason string) {
	d.audit.queue(auditOp{row: ConnRecord{ConnectionID: connectionID, DisconnectedAt: at.UTC(), CloseReason: reason}, end: true})
}

type auditOp struct {
	row      ConnRecord
	end      bool
	presence *Presence // set for a presence change instead of an audit row
}

// auditWriter writes the connections audit and presence changes in batches, in the order they
// were queued, off every request's path.
type auditWriter struct {
	d       *DB
	ops     chan auditOp  // never closed: a late queue after close is dropped, not a panic
	stop    chan struct{} // closed by close
	done    chan struct{} // closed when run has flushed and returned
	mu      sync.Mutex    // guards dropped
	dropped int
}

const auditBacklog = 8192

func newAuditWriter(d *DB) *auditWriter {
	w := &auditWriter{d: d, ops: make(chan auditOp, auditBacklog), stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *auditWriter) queue(op auditOp) {
	select {
	case w.ops <- op:
	default:
		w.mu.Lock()
		w.dropped++
		w.mu.Unlock()
	}
}

func (w *auditWriter) run() {
	defer close(w.done)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var batch []auditOp
	for {
		select {
		case <-w.stop:
		drain:
			for {
				select {
				case op := <-w.ops:
					batch = append(batch, op)
				default:
					break drain
				}
			}
			w.flush(batch)
			return
		case op := <-w.ops:
			batch = append(batch, op)
			if len(batch) < 512 {
				continue
			}
		case <-tick.C:
		}
		w.flush(batch)
		batch = batch[:0]
	}
}

func (w *auditWriter) flush(batch []auditOp) {
	w.mu.Lock()
	dropped := w.dropped
	w.dropped = 0
	w.mu.Unlock()
	if dropped > 0 {
		w.d.log.Warn("connections audit fell behind; rows dropped", "rows", dropped)
	}
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := w.d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		// In queue order: a connection id that ends and starts again (a long-poll resumed)
		// must close the old row before the new one exists.
		for i := 0; i < len(batch); {
			op := batch[i]
			switch {
			case op.presence != nil: // a run of presence changes goes in one upsert
				var ps []Presence
				for ; i < len(batch) && batch[i].presence != nil; i++ {
					ps = append(ps, *batch[i].presence)
				}
				if err := setPresences(ctx, tx, ps); err != nil {
					return err
				}
			case op.end:
				if _, err := tx.NewUpdate().Model((*ConnRecord)(nil)).
					Set("disconnected_at = ?", op.row.DisconnectedAt).
					Set("close_reason = ?", op.row.CloseReason).
					Where("connection_id = ? AND node_id = ? AND disconnected_at IS NULL", op.row.ConnectionID, w.d.nodeID).
					Exec(ctx); err != nil {
					return err
				}
				i++
			default: // a run of connects goes in one insert
				var rows []ConnRecord
				for ; i < len(batch) && batch[i].presence == nil && !batch[i].end; i++ {
					rows = append(rows, batch[i].row)
				}
				if _, err := tx.NewInsert().Model(&rows).Exec(ctx); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		w.d.log.Warn("writing the connections audit", "rows", len(batch), "err", err)
	}
}

// close writes what is queued and stops the writer.
func (w *auditWriter) close() {
	close(w.stop)
	<-w.done
}

// ConnectionHistory returns the audit rows of one connection id, oldest first.
func (d *DB) ConnectionHistory(ctx context.Context, connectionID string) ([]ConnRecord, error) {
	var rows []ConnRecord
	err := d.bun.NewSelect().Model(&rows).Where("connection_id = ?", connectionID).OrderExpr("connected_at").Scan(ctx)
	return rows, mapErr(err)
}
