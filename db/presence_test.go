package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"switchboard/db"
	"switchboard/db/dbtest"
)

// Presence writes keep the newest status: an older write never overwrites a newer one.
func TestPresenceKeepsTheNewest(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Now()
		if err := d.SetPresence(ctx, db.Presence{UserID: "bob", Status: "away", CurrentPage: "/inbox", LastSeenAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := d.SetPresence(ctx, db.Presence{UserID: "bob", Status: "online", LastSeenAt: now.Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
		got, err := d.PresenceOf(ctx, []string{"bob", "nobody"})
		if err != nil {
			t.Fatal(err)
		}
		if p := got["bob"]; p.Status != "away" || p.CurrentPage != "/inbox" || len(got) != 1 {
			t.Fatalf("presence %+v", got)
		}
		if err := d.SetPresence(ctx, db.Presence{UserID: "bob", Status: "offline", LastSeenAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if got, _ := d.PresenceOf(ctx, []string{"bob"}); got["bob"].Status != "offline" {
			t.Fatalf("newer write lost: %+v", got)
		}
	})
}

// Presence changes queued together are written as one statement and keep their order: of a
// user named twice in the run, the later change stands; every other user is written.
func TestQueuedPresenceChangesAreWrittenTogether(t *testing.T) {
	for _, kind := range dbtest.Kinds {
		t.Run(string(kind), func(t *testing.T) {
			cfg := dbtest.Config(t, kind)
			ctx := context.Background()
			d, err := db.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			var users []string
			for i := range 300 {
				u := fmt.Sprintf("u%d", i)
				users = append(users, u)
				d.RecordPresence(db.Presence{UserID: u, Status: "online", LastSeenAt: now})
			}
			d.RecordPresence(db.Presence{UserID: "u7", Status: "away", CurrentPage: "/later", LastSeenAt: now.Add(time.Second)})
			d.RecordPresence(db.Presence{UserID: "u8", Status: "busy", LastSeenAt: now.Add(-time.Second)}) // older than the stored one
			d.Close()                                                                                      // flushes

			d, err = db.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			got, err := d.PresenceOf(ctx, users)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(users) {
				t.Fatalf("%d of %d users written", len(got), len(users))
			}
			if p := got["u7"]; p.Status != "away" || p.CurrentPage != "/later" {
				t.Fatalf("the later change of u7 was lost: %+v", p)
			}
			if p := got["u8"]; p.Status != "online" {
				t.Fatalf("an older change of u8 overwrote a newer one: %+v", p)
			}
		})
	}
}
