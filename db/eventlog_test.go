package db_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/db"
	"switchboard/db/dbtest"
)

func TestAppendAssignsGaplessOffsetsInCommitOrder(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		const writers, each = 8, 25
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					if _, err := d.Append(ctx, db.Event{Topic: "room:order", Type: "chat_message", Envelope: fmt.Appendf(nil, `{"w":%d,"i":%d}`, w, i)}); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		id, head, err := d.LoadTopic(ctx, "room:order")
		if err != nil {
			t.Fatal(err)
		}
		if head != writers*each {
			t.Fatalf("head = %d, want %d", head, writers*each)
		}
		var offsets []uint64
		lastPerWriter := map[string]int{}
		_, _, err = d.ReadTopic(ctx, id, 0, 1000, func(offset uint64, typ string, payload []byte, _ string) {
			offsets = append(offsets, offset)
			var w, i int
			fmt.Sscanf(string(payload), `{"w":%d,"i":%d}`, &w, &i)
			key := fmt.Sprint(w)
			if prev, ok := lastPerWriter[key]; ok && i <= prev {
				t.Errorf("writer %d: event %d logged after %d", w, i, prev)
			}
			lastPerWriter[key] = i
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, off := range offsets {
			if off != uint64(i+1) {
				t.Fatalf("offsets not gapless: %v", offsets)
			}
		}
	})
}

func TestReadTopicPagesAndReportsHead(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for i := range 5 {
			if _, err := d.Append(ctx, db.Event{Topic: "user:alice", Type: "notification", Envelope: fmt.Appendf(nil, `{"n":%d}`, i)}); err != nil {
				t.Fatal(err)
			}
		}
		id, _, err := d.LoadTopic(ctx, "user:alice")
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		head, trimmed, err := d.ReadTopic(ctx, id, 2, 2, func(offset uint64, typ string, payload []byte, _ string) {
			got = append(got, offset)
			if typ != "notification" {
				t.Errorf("type = %q", typ)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if head != 5 || trimmed != 0 || !slices.Equal(got, []uint64{3, 4}) {
			t.Fatalf("head %d trimmed %d got %v", head, trimmed, got)
		}
		names, err := d.TopicNames(ctx, []int64{id, id + 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != 1 || names[id] != "user:alice" {
			t.Fatalf("names = %v", names)
		}
	})
}

func TestMigrationsAreIdempotentAndEpochIsStable(t *testing.T) {
	for _, kind := range dbtest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			cfg := dbtest.Config(t, kind)
			ctx := context.Background()
			first, err := db.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			epoch := first.Epoch()
			first.Close()
			second, err := db.Open(ctx, cfg)
			if err != nil {
				t.Fatalf("reopening: %v", err)
			}
			defer second.Close()
			if second.Epoch() != epoch || epoch == 0 {
				t.Fatalf("epoch %d then %d", epoch, second.Epoch())
			}
		})
	}
}

// Nodes starting at once on a fresh database all migrate it, and agree on its epoch.
func TestConcurrentStartsMigrateOnce(t *testing.T) {
	for _, kind := range dbtest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			cfg := dbtest.Config(t, kind)
			const nodes = 4
			stores := make([]*db.DB, nodes)
			errs := make([]error, nodes)
			var wg sync.WaitGroup
			for i := range nodes {
				wg.Go(func() { stores[i], errs[i] = db.Open(context.Background(), cfg) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("node %d: %v", i, err)
				}
				defer stores[i].Close()
			}
			for i, s := range stores {
				if s.Epoch() != stores[0].Epoch() {
					t.Fatalf("node %d has epoch %d, node 0 %d", i, s.Epoch(), stores[0].Epoch())
				}
			}
		})
	}
}

func TestSchemasHaveTheSameSections(t *testing.T) {
	pg, err := db.ParseMigrations(dbtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	lite, err := db.ParseMigrations(db.SQLiteSchema())
	if err != nil {
		t.Fatal(err)
	}
	if len(pg) != len(lite) {
		t.Fatalf("schema.sql has %d sections, the SQLite mirror %d", len(pg), len(lite))
	}
	for i := range pg {
		if pg[i].Title != lite[i].Title {
			t.Errorf("section %d: %q vs %q", i+1, pg[i].Title, lite[i].Title)
		}
	}
}

func TestMessageIdempotencyAndHistory(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.UpsertUser(ctx, db.User{ID: "alice", Name: "Alice"}); err != nil {
			t.Fatal(err)
		}
		room, created, err := d.EnsureRoom(ctx, "general", "alice")
		if err != nil || !created {
			t.Fatalf("EnsureRoom: %v created=%v", err, created)
		}
		post := func(content, clientID string) (db.Message, bool) {
			t.Helper()
			m, _, created, err := d.PostMessage(ctx, db.NewMessage{Room: room, Topic: "room:general", UserID: "alice",
				UserName: "Alice", Content: content, ClientID: clientID}, "chat_message",
				func(m db.Message) ([]byte, error) { return []byte(`{}`), nil })
			if err != nil {
				t.Fatal(err)
			}
			return m, created
		}
		first, created := post("hello", "c1")
		again, createdAgain := post("hello (retry)", "c1")
		if !created || createdAgain || again.ID != first.ID || again.Content != "hello" {
			t.Fatalf("retry with same client_id: created %v/%v ids %s/%s", created, createdAgain, first.ID, again.ID)
		}
		for i := range 4 {
			post(fmt.Sprint("m", i), "")
		}
		page, more, err := d.History(ctx, room, "", 3)
		if err != nil {
			t.Fatal(err)
		}
		if !more || len(page) != 3 || page[0].Content != "m3" || page[0].UserName != "Alice" {
			t.Fatalf("first page %+v more=%v", page, more)
		}
		rest, more, err := d.History(ctx, room, page[2].ID, 3)
		if err != nil {
			t.Fatal(err)
		}
		if more || len(rest) != 2 || rest[1].ID != first.ID {
			t.Fatalf("second page %+v more=%v", rest, more)
		}
		other, _, _ := d.EnsureRoom(ctx, "other", "alice")
		_, _, _, err = d.PostMessage(ctx, db.NewMessage{Room: other, Topic: "room:other", UserID: "alice", Content: "x", ClientID: "c1"},
			"chat_message", func(db.Message) ([]byte, error) { return []byte(`{}`), nil })
		if !errors.Is(err, db.ErrConflict) {
			t.Fatalf("client_id reused in another room: err = %v, want ErrConflict", err)
		}
	})
}

func TestTrimKeepsTheNewestEventsAndMarksTheCut(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for i := range 12 {
			if _, err := d.Append(ctx, db.Event{Topic: "room:busy", Type: "chat_message", Envelope: fmt.Appendf(nil, `{"n":%d}`, i)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.Append(ctx, db.Event{Topic: "room:quiet", Type: "chat_message", Envelope: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		n, err := d.Trim(ctx, db.Retention{MaxEvents: 5})
		if err != nil {
			t.Fatal(err)
		}
		if n != 7 {
			t.Fatalf("trimmed %d events, want 7", n)
		}
		id, _, _ := d.LoadTopic(ctx, "room:busy")
		var got []uint64
		head, trimmed, err := d.ReadTopic(ctx, id, 0, 100, func(offset uint64, _ string, _ []byte, _ string) { got = append(got, offset) })
		if err != nil {
			t.Fatal(err)
		}
		if head != 12 || trimmed != 7 || fmt.Sprint(got) != "[8 9 10 11 12]" {
			t.Fatalf("head %d trimmed %d kept %v", head, trimmed, got)
		}
		// By age: everything is older than a nanosecond from now.
		if _, err := d.Trim(ctx, db.Retention{MaxAge: time.Nanosecond, MaxEvents: 1000}); err != nil {
			t.Fatal(err)
		}
		quiet, _, _ := d.LoadTopic(ctx, "room:quiet")
		head, trimmed, _ = d.ReadTopic(ctx, quiet, 0, 100, func(uint64, string, []byte, string) { t.Error("an expired event survived") })
		if head != 1 || trimmed != 1 {
			t.Fatalf("quiet topic head %d trimmed %d", head, trimmed)
		}
	})
}

// Concurrent posts to one room are committed in shared transactions with gapless, distinct
// offsets; a client_id sent twice at once still stores one message.
func TestConcurrentPostsGroupCommit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.UpsertUser(ctx, db.User{ID: "alice", Name: "Alice"}); err != nil {
			t.Fatal(err)
		}
		room, _, err := d.EnsureRoom(ctx, "busy", "alice")
		if err != nil {
			t.Fatal(err)
		}
		const n = 200
		type result struct {
			m       db.Message
			created bool
			err     error
		}
		results := make(chan result, n+2)
		var wg sync.WaitGroup
		post := func(content, clientID string) {
			defer wg.Done()
			m, _, created, err := d.PostMessage(ctx, db.NewMessage{Room: room, Topic: "room:busy", UserID: "alice",
				Content: content, ClientID: clientID}, "chat_message", func(db.Message) ([]byte, error) { return []byte(`{}`), nil })
			results <- result{m, created, err}
		}
		for i := range n {
			wg.Add(1)
			go post(fmt.Sprint("m", i, "? ?? $1 '; --"), "") // nothing in a message is SQL
		}
		wg.Add(2)
		go post("twice", "same-key")
		go post("twice", "same-key")
		wg.Wait()
		close(results)
		seqs := map[uint64]bool{}
		var twice []db.Message
		for r := range results {
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.m.ClientID == "same-key" {
				twice = append(twice, r.m)
				if !r.created {
					continue
				}
			}
			if seqs[r.m.Seq] {
				t.Fatalf("offset %d given twice", r.m.Seq)
			}
			seqs[r.m.Seq] = true
		}
		if len(twice) != 2 || twice[0].ID != twice[1].ID {
			t.Fatalf("a client_id posted twice at once: %+v", twice)
		}
		_, head, _ := d.LoadTopic(ctx, "room:busy")
		if len(seqs) != n+1 || head != n+1 {
			t.Fatalf("%d messages stored, head %d, want %d", len(seqs), head, n+1)
		}
		stored, _, err := d.History(ctx, room, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range stored {
			if m.Content != "twice" && !strings.HasSuffix(m.Content, "? ?? $1 '; --") {
				t.Fatalf("stored content %q", m.Content)
			}
		}
	})
}

// TestPostOutlivesItsCaller: a caller that gives up while its message waits for the topic
// still gets the message as committed, with its event to announce; otherwise a message stored
// after its caller left would reach no one on this node, and a retry with its client_id
// would find it stored, with no event. (No client_id here: ctx does bound that lookup.)
func TestPostOutlivesItsCaller(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if err := d.UpsertUser(ctx, db.User{ID: "alice", Name: "Alice"}); err != nil {
			t.Fatal(err)
		}
		room, _, err := d.EnsureRoom(ctx, "slow", "alice")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.LoadTopic(ctx, "room:slow"); err != nil {
			t.Fatal(err)
		}
		// Hold what the batch needs: the topic's row on PostgreSQL, the write lock on SQLite.
		hold, err := d.SQL().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer hold.Rollback() // after Commit, a no-op; on a failure, the batch is let through
		if _, err := hold.Exec("UPDATE topics SET head = head WHERE name = 'room:slow'"); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		type result struct {
			ev      db.Appended
			created bool
			err     error
		}
		done := make(chan result, 1)
		go func() {
			_, ev, created, err := d.PostMessage(cctx, db.NewMessage{Room: room, Topic: "room:slow", UserID: "alice",
				Content: "hi"}, "chat_message", func(db.Message) ([]byte, error) { return []byte(`{}`), nil })
			done <- result{ev, created, err}
		}()
		cancel() // the client hangs up while its message waits
		select {
		case r := <-done:
			t.Fatalf("PostMessage returned before the topic was free: created %v, err %v", r.created, r.err)
		case <-time.After(100 * time.Millisecond): // a negative: nothing may arrive
		}
		if err := hold.Commit(); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil || !r.created || r.ev.Offset != 1 {
			t.Fatalf("after its caller left: created %v, event offset %d, err %v; want the committed message and its event",
				r.created, r.ev.Offset, r.err)
		}
	})
}
