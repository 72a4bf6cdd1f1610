package db_test

import (
	"context"
	"testing"
	"time"

	"switchboard/db"
	"switchboard/db/dbtest"
)

// The audit applies connects and disconnects in the order they happened: a long-poll connection
// id that ends and is resumed keeps one closed row and one open one.
func TestConnectionAuditKeepsOrder(t *testing.T) {
	for _, kind := range dbtest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			cfg := dbtest.Config(t, kind)
			ctx := context.Background()
			d, err := db.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			d.RecordConnect(db.ConnRecord{ConnectionID: "c_1", UserID: "alice", Transport: "poll", ConnectedAt: start})
			d.RecordDisconnect("c_1", start.Add(time.Second), "replaced")
			d.RecordConnect(db.ConnRecord{ConnectionID: "c_1", UserID: "alice", Transport: "poll", ConnectedAt: start.Add(time.Second)})
			d.Close() // flushes

			d, err = db.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			rows, err := d.ConnectionHistory(ctx, "c_1")
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 2 || rows[0].CloseReason != "replaced" || rows[0].DisconnectedAt.IsZero() ||
				!rows[1].DisconnectedAt.IsZero() || rows[1].CloseReason != "" {
				t.Fatalf("audit rows %+v", rows)
			}
		})
	}
}
