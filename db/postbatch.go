package db

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/uptrace/bun"
)

// Group commit. One transaction per message tops out near 2,600 a second for one hot room on
// PostgreSQL: every post holds the topic's row lock from its offset to its commit. Instead,
// the messages of one topic that arrive while a transaction is under way wait for the next,
// and go into it together — one offset reservation, one insert of each kind, one commit —
// so a room takes as many messages as the batches can carry.

// maxPostBatch bounds the messages one transaction carries.
const maxPostBatch = 256

// batcherIdle is how long a topic's batcher waits for work before it goes away.
const batcherIdle = 30 * time.Second

type postRequest struct {
	nm     NewMessage
	typ    string
	encode func(Message) ([]byte, error)
	done   chan postResult // capacity 1: the batcher never waits for the caller
}

type postResult struct {
	msg Message
	ev  Appended
	err error
}

// postBatcher commits the messages of one topic. Its goroutine lives while there is work.
type postBatcher struct {
	d     *DB
	topic string
	wake  chan struct{} // capacity 1

	mu      sync.Mutex // guards pending
	pending []*postRequest
}

// batchers indexes the live batchers by topic.
type batchers struct {
	mu     sync.Mutex // guards byName; taken before a batcher's mu
	byName map[string]*postBatcher
}

// enqueue hands r to its topic's batcher, starting one when there is none.
func (d *DB) enqueuePost(r *postRequest) {
	d.batch.mu.Lock()
	if d.batch.byName == nil {
		d.batch.byName = make(map[string]*postBatcher)
	}
	b := d.batch.byName[r.nm.Topic]
	if b == nil {
		b = &postBatcher{d: d, topic: r.nm.Topic, wake: make(chan struct{}, 1)}
		d.batch.byName[r.nm.Topic] = b
		go b.run()
	}
	b.mu.Lock()
	b.pending = append(b.pending, r)
	b.mu.Unlock()
	d.batch.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

func (b *postBatcher) run() {
	idle := time.NewTimer(batcherIdle)
	defer idle.Stop()
	for {
		if batch := b.take(maxPostBatch); len(batch) > 0 {
			if err := b.commit(batch); errors.Is(err, ErrUnavailable) {
				// The posts queued meanwhile waited on a database that did not answer: they
				// get its answer now rather than wait as long again for a transaction of
				// their own, so that no post waits for two.
				fail(b.take(math.MaxInt), err)
			}
			idle.Reset(batcherIdle)
			continue
		}
		select {
		case <-b.wake:
		case <-idle.C:
			if b.retire() {
				return
			}
			idle.Reset(batcherIdle)
		}
	}
}

// take removes up to n requests from the queue, the oldest first.
func (b *postBatcher) take(n int) []*postRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	batch := b.pending[:min(n, len(b.pending))]
	b.pending = b.pending[len(batch):]
	return batch
}

// fail answers every request of batch with err.
func fail(batch []*postRequest, err error) {
	for _, r := range batch {
		r.done <- postResult{err: err}
	}
}

// retire removes an idle batcher, unless work arrived meanwhile.
func (b *postBatcher) retire() bool {
	b.d.batch.mu.Lock()
	defer b.d.batch.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) > 0 {
		return false
	}
	delete(b.d.batch.byName, b.topic)
	return true
}

// commit stores a batch in one transaction, answers its requests and returns the batch's
// error. If one message of it breaks a constraint (a client_id raced with its own retry), the
// others are not held hostage: each is committed alone, until the database is unavailable.
func (b *postBatcher) commit(batch []*postRequest) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var results []postResult
	start := time.Now()
	err := b.d.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var err error
		results, err = b.d.storeMessages(ctx, tx, b.topic, batch)
		return err
	})
	if fn := b.d.observeBatch.Load(); fn != nil {
		(*fn)(len(batch), time.Since(start))
	}
	err = mapErr(err)
	if err != nil && errors.Is(err, ErrConflict) && len(batch) > 1 {
		for i, r := range batch {
			if err := b.commit([]*postRequest{r}); errors.Is(err, ErrUnavailable) {
				fail(batch[i+1:], err)
				return err
			}
		}
		return nil
	}
	for i, r := range batch {
		if err != nil {
			r.done <- postResult{err: err}
		} else {
			r.done <- results[i]
		}
	}
	return err
}

// storeMessages writes a batch of messages of one topic and their events within tx.
func (d *DB) storeMessages(ctx context.Context, tx bun.Tx, topic string, batch []*postRequest) ([]postResult, error) {
	topicID, first, err := reserve(ctx, tx, topic, len(batch))
	if err != nil {
		return nil, err
	}
	at := now()
	msgs := make([]Message, len(batch))
	rows := make([]logRow, len(batch))
	results := make([]postResult, len(batch))
	evs := make([]Appended, len(batch))
	for i, r := range batch {
		nm := r.nm
		seq := first + uint64(i)
		msgs[i] = Message{ID: newID(), RoomID: nm.Room.ID, Seq: seq, UserID: nm.UserID, Content: nm.Content,
			ClientID: nm.ClientID, CreatedAt: at, RoomKey: nm.Room.Key, UserName: nm.UserName, UserAvatar: nm.UserAvatar}
		envelope, err := r.encode(msgs[i])
		if err != nil {
			return nil, err
		}
		rows[i] = logRow{TopicID: topicID, Seq: seq, Type: r.typ, Envelope: string(envelope), CreatedAt: at}
		evs[i] = Appended{Topic: topic, TopicID: topicID, Offset: seq, Type: r.typ, Envelope: envelope}
		results[i] = postResult{msg: msgs[i], ev: evs[i]}
	}
	// The messages, their log rows and their announcement go in one round trip: the
	// transaction holds the topic's lock for as short a time as it can.
	stmts := []string{tx.NewInsert().Model(&msgs).String(), tx.NewInsert().Model(&rows).String()}
	if ch := d.notifyChannel.Load(); ch != nil {
		stmts = append(stmts, d.notifyQuery(tx, *ch, evs))
	}
	// Through database/sql itself: the statements are formatted already, not to be again.
	if _, err := tx.Tx.ExecContext(ctx, strings.Join(stmts, ";\n")); err != nil {
		return nil, mapErr(err)
	}
	return results, nil
}
